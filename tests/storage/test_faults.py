"""FaultyStorage: a seeded, deterministic schedule of failures and latency around any storage."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from returns.result import Failure, Result, Success

from bassline.clock import Stamp
from bassline.storage import (
    ClaimsGroups,
    ContentRecord,
    CreatesOnOpen,
    ErrorCode,
    HashesSpecs,
    LocatesStore,
    MigratesSchema,
    NetworkStorage,
    OpensReadOnly,
    PooledStorage,
    RepairsStore,
    StorageError,
    StorageOpenError,
    open_storage,
    stored_spec_hash,
)
from bassline.testing.faults import ALL_OPERATIONS, DEFAULT_OPERATIONS, FaultStats, FaultyStorage
from bassline.testing.storage import (
    MergeJoinConformance,
    StorageConformance,
    StorageFactory,
    assert_failure,
    assert_success,
    sample_bassline,
)

pytestmark = pytest.mark.anyio
_names = itertools.count()


class TestFaultyStorageConformance(StorageConformance, MergeJoinConformance):
    """With no faults (but random latency to shuffle interleavings) it is a correct storage."""

    @pytest.fixture
    def storage_factory(self) -> StorageFactory:
        url = f"memory://faulty-conformance-{next(_names)}"
        return lambda: FaultyStorage(open_storage(url), seed=1, latency=(0.0, 0.001))


def _outcome(result: Result[Any, StorageError]) -> str:
    if isinstance(result, Success):
        return "ok"
    error = result.failure()
    return f"{error.code.name}/{'transient' if error.transient else 'permanent'}"


async def _run_schedule(seed: int, calls: int = 200) -> tuple[list[str], FaultStats]:
    faulty = FaultyStorage(open_storage("memory://"), seed=seed, transient_rate=0.3)
    faulty.configure(permanent_rate=0.2)
    await faulty.inner.open()
    assert_success(await faulty.inner.save_network(sample_bassline()))
    outcomes = []
    for n in range(calls):
        if n % 2:
            result: Result[Any, StorageError] = await faulty.network_exists("calc")
        else:
            result = await faulty.save_contact_content("calc", "ui", f"c{n}", n, Stamp(n, "t"))
        outcomes.append(_outcome(result))
    await faulty.close()
    return outcomes, faulty.stats


async def test_it_is_a_network_storage() -> None:
    faulty = FaultyStorage(open_storage("memory://"), seed=0)
    assert isinstance(faulty, NetworkStorage)
    assert faulty.url == "memory://" and faulty.capabilities.persistent is False


async def test_the_schedule_is_deterministic_by_seed() -> None:
    first, stats = await _run_schedule(42)
    again, stats_again = await _run_schedule(42)
    other, _ = await _run_schedule(43)
    assert first == again and stats == stats_again
    assert first != other
    assert {"ok", "CONNECTION/transient"} <= set(first)
    assert {"PERMISSION/permanent", "CORRUPTION/permanent"} <= set(first)


async def test_rates_are_honoured_and_counted() -> None:
    calls = 2000
    outcomes, stats = await _run_schedule(7, calls)
    transient = outcomes.count("CONNECTION/transient")
    permanent = sum(o.endswith("/permanent") for o in outcomes)
    assert (stats.calls, stats.transient, stats.permanent) == (calls, transient, permanent)
    assert stats.delegated == outcomes.count("ok") and stats.failures == transient + permanent
    # binomial(2000, p): 5 standard deviations is about 0.05 here
    assert abs(transient / calls - 0.3) < 0.05
    assert abs(permanent / calls - 0.2) < 0.05


async def test_a_failed_write_reaches_nothing() -> None:
    inner = open_storage("memory://")
    async with FaultyStorage(inner, seed=3, operations={"write", "save_contact_content"}) as faulty:
        assert_success(await faulty.save_network(sample_bassline()))
        batch = [ContentRecord("calc", "ui", "x", 1, Stamp(1, "t"))]
        cases: list[tuple[dict[str, Any], bool]] = [
            ({"permanent_rate": 1.0}, False),
            ({"transient_rate": 1.0}, True),
        ]
        for rates, transient in cases:
            faulty.configure(transient_rate=0.0, permanent_rate=0.0)
            faulty.configure(**rates)
            for result in (
                await faulty.write(batch),
                await faulty.save_contact_content("calc", "ui", "x", 1, Stamp(1, "t")),
            ):
                assert isinstance(result, Failure)
                assert result.failure().transient is transient
            assert assert_success(await inner.load_contents("calc")) == []
        assert faulty.stats.permanent == 2 and faulty.stats.transient == 2


async def test_only_the_chosen_operations_fail() -> None:
    async with FaultyStorage(
        open_storage("memory://"), seed=5, transient_rate=1.0, operations={"write"}
    ) as faulty:
        assert_success(await faulty.save_network(sample_bassline()))
        assert_success(await faulty.load_network("calc"))
        assert_failure(await faulty.write([]), ErrorCode.CONNECTION)
        faulty.configure(operations={"load_network"})
        assert_success(await faulty.write([]))
        assert_failure(await faulty.load_network("calc"), ErrorCode.CONNECTION)
        faulty.configure(operations=ALL_OPERATIONS)
        assert_failure(await faulty.list_networks(), ErrorCode.CONNECTION)


async def test_down_fails_every_call_until_up() -> None:
    inner = open_storage("memory://")
    async with FaultyStorage(inner, seed=9) as faulty:
        assert_success(await faulty.save_network(sample_bassline()))
        faulty.down()
        assert faulty.is_down
        results = [
            await faulty.health(),
            await faulty.list_networks(),
            await faulty.load_network("calc"),
            await faulty.save_contact_content("calc", "ui", "x", 1, Stamp(1, "t")),
            await faulty.delete_network("calc"),
        ]
        for result in results:
            error = assert_failure(result, ErrorCode.CONNECTION)
            assert error.transient and "down" in error.message
        assert faulty.stats.outage == len(results)
        assert assert_success(await inner.list_networks()) == ["calc"], "nothing reached storage"
        faulty.up()
        assert assert_success(await faulty.list_networks()) == ["calc"]
        assert assert_success(await faulty.load_contents("calc")) == []


async def test_open_is_faulted_only_when_named() -> None:
    assert "open" not in DEFAULT_OPERATIONS and DEFAULT_OPERATIONS < ALL_OPERATIONS
    async with FaultyStorage(open_storage("memory://"), seed=0, transient_rate=1.0) as faulty:
        assert faulty.stats.transient == 0, "opening was not faulted"
        assert_failure(await faulty.list_networks(), ErrorCode.CONNECTION)
    faulty = FaultyStorage(
        open_storage("memory://"), seed=0, transient_rate=1.0, operations={"open"}
    )
    with pytest.raises(StorageOpenError) as caught:
        async with faulty:
            pass
    assert caught.value.error.transient and faulty.stats.transient == 1


async def test_opening_while_down_raises_storage_open_error() -> None:
    faulty = FaultyStorage(open_storage("memory://"), seed=0)
    faulty.down()
    with pytest.raises(StorageOpenError) as caught:
        async with faulty:
            pass
    assert caught.value.error.code is ErrorCode.CONNECTION and caught.value.error.transient


async def test_disable_passes_everything_through_and_enable_resumes() -> None:
    async with FaultyStorage(
        open_storage("memory://"), seed=2, permanent_rate=1.0, operations={"list_networks"}
    ) as faulty:
        first = await faulty.list_networks()
        assert isinstance(first, Failure) and not first.failure().transient
        faulty.disable()
        assert not faulty.enabled
        assert assert_success(await faulty.list_networks()) == []
        faulty.enable()
        assert isinstance(await faulty.list_networks(), Failure)


async def test_latency_follows_the_schedule() -> None:
    async with FaultyStorage(open_storage("memory://"), seed=11, latency=(0.001, 0.003)) as faulty:
        faulty.reset_stats()
        for _ in range(10):
            assert_success(await faulty.list_networks())
        stats = faulty.stats
        assert stats.delayed == 10 and stats.delegated == 10
        assert 10 * 0.001 <= stats.delay_seconds <= 10 * 0.003


async def test_custom_error_codes() -> None:
    async with FaultyStorage(
        open_storage("memory://"),
        seed=4,
        transient_rate=1.0,
        transient_codes=[ErrorCode.TIMEOUT],
        operations={"health"},
    ) as faulty:
        error = assert_failure(await faulty.health(), ErrorCode.TIMEOUT)
        assert error.transient and "seed=4" in error.message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"transient_rate": 1.5}, "transient_rate must be a number between 0 and 1"),
        ({"permanent_rate": -0.1}, "permanent_rate must be a number between 0 and 1"),
        ({"transient_rate": 0.6, "permanent_rate": 0.6}, "must be at most 1"),
        ({"latency": -1.0}, "latency must be finite seconds >= 0"),
        ({"latency": (0.2, 0.1)}, "min > max"),
        # an infinite latency hung every faulted call for ever (sleep(inf), uniform(0, inf))
        ({"latency": math.inf}, "latency must be finite seconds >= 0"),
        ({"latency": (0.0, math.inf)}, "latency must be finite seconds >= 0"),
        ({"operations": {"writ"}}, "unknown storage operation 'writ'; did you mean 'write'?"),
        ({"operations": "write"}, "collection of names"),
        ({"transient_codes": []}, "transient_codes must be a non-empty sequence"),
    ],
)
def test_bad_configuration_is_a_clear_value_error(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace("(", r"\(")):
        FaultyStorage(open_storage("memory://"), seed=0, **options)


# -- declared abilities pass through --------------------------------------------------------

_ABILITIES = (
    HashesSpecs,
    PooledStorage,
    MigratesSchema,
    RepairsStore,
    CreatesOnOpen,
    OpensReadOnly,
    LocatesStore,
    ClaimsGroups,
)


@pytest.mark.parametrize(
    "url",
    ["memory://", "file:///nonexistent/bassline-faults", "postgresql://u@127.0.0.1:5432/nowhere"],
)
def test_a_wrapper_declares_exactly_the_abilities_of_what_it_wraps(url: str) -> None:
    inner = open_storage(url)
    faulty = FaultyStorage(inner, seed=1)
    for ability in _ABILITIES:
        assert isinstance(faulty, ability) == isinstance(inner, ability), ability.__name__
    assert isinstance(faulty, FaultyStorage) and isinstance(faulty, NetworkStorage)
    if isinstance(inner, LocatesStore):
        assert isinstance(faulty, LocatesStore)
        assert faulty.store_location() == inner.store_location()


def test_a_wrapped_copy_keeps_its_faults(tmp_path: Any) -> None:
    faulty = FaultyStorage(open_storage(tmp_path.as_uri()), seed=3, transient_rate=0.5)
    assert isinstance(faulty, CreatesOnOpen) and isinstance(faulty, OpensReadOnly)
    for copy in (faulty.existing_only(), faulty.read_only()):
        assert isinstance(copy, FaultyStorage) and copy.inner is not faulty.inner
    read_only = faulty.read_only()
    assert isinstance(read_only, FaultyStorage)
    assert getattr(read_only.inner, "options").read_only  # noqa: B009


async def test_wrapping_a_storage_never_changes_which_code_answers_the_spec_hash() -> None:
    calls: list[str] = []
    async with open_storage("memory://") as inner:
        spec = sample_bassline()
        assert_success(await inner.save_network(spec))
        for name in ("load_network", "load_network_hash"):
            original = getattr(inner, name)

            def spy(network: str, original: Any = original, name: str = name) -> Any:
                calls.append(name)
                return original(network)

            setattr(inner, name, spy)
        assert assert_success(await stored_spec_hash(inner, "calc")) == spec.hash
        direct = list(calls)
        calls.clear()
        faulty = FaultyStorage(inner, seed=1)
        assert assert_success(await stored_spec_hash(faulty, "calc")) == spec.hash
        assert calls == direct == ["load_network_hash"]
        faulty.down()  # the hash is an operation like any other: faults reach it
        assert isinstance(await stored_spec_hash(faulty, "calc"), Failure)


async def test_a_setting_assigned_by_name_takes_effect() -> None:
    """``faulty.permanent_rate = 1.0`` made a plain attribute that nothing read: the
    storage went on failing nothing, and a test of failures passed without any."""
    faulty = FaultyStorage(
        open_storage("memory://"), seed=3, permanent_codes=[ErrorCode.PERMISSION]
    )
    async with faulty:
        faulty.permanent_rate = 1.0
        assert faulty.permanent_rate == 1.0
        assert_failure(await faulty.list_networks(), ErrorCode.PERMISSION)
        faulty.permanent_rate = 0.0
        faulty.latency = 0.001
        faulty.operations = {"write"}
        assert (faulty.latency, faulty.operations) == ((0.001, 0.001), frozenset({"write"}))
        with pytest.raises(ValueError, match="transient_rate must be a number between 0 and 1"):
            faulty.transient_rate = 2
        with pytest.raises(TypeError, match="operations must be an iterable"):
            faulty.operations = None  # type: ignore[assignment]
        assert faulty.transient_rate == 0.0
