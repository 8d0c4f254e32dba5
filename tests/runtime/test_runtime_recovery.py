"""Opening a runtime on storage: what it restores, what it writes back, what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bassline import PersistenceError
from bassline.runtime import SpecMismatch, StorageBackedRuntime
from bassline.spec import load_spec, parse_spec
from bassline.storage import ErrorCode, StorageError, open_storage
from bassline.testing.faults import FaultyStorage

from .conftest import flat_spec

pytestmark = pytest.mark.anyio
EXAMPLES = Path(__file__).parents[2] / "examples"

WITH_CONTENT = {"id": "init", "contacts": [{"id": "a", "content": 1}, {"id": "b"}, {"id": "c"}]}


async def test_reopening_restores_everything_and_writes_nothing_back(memory_url: str) -> None:
    spec = parse_spec(WITH_CONTENT)
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(spec, storage) as first:
            assert first.recovered == 0
            assert first.metrics["flushed"] == 1  # the spec's content of a, stored at open
            await first.update_contact("b", "written")
        async with StorageBackedRuntime(spec, storage) as second:
            assert second.recovered == 2 and second.ignored_on_recovery == []
            # storage already equals the engine: opening queued and wrote nothing
            metrics = second.metrics
            assert (metrics["flushed"], metrics["batches"], second.queue_depth) == (0, 0, 0)
            assert second.value("a") == 1 and second.value("b") == "written"


async def test_a_spec_mismatch_names_the_network_and_both_hashes(memory_url: str) -> None:
    old = flat_spec(3)
    new = parse_spec({"id": "flat", "contacts": [{"id": "c0"}, {"id": "extra"}]})
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(old, storage):
            pass
        with pytest.raises(SpecMismatch) as caught:
            async with StorageBackedRuntime(new, storage):
                pass
        mismatch = caught.value
        assert (mismatch.network, mismatch.stored_hash, mismatch.given_hash) == (
            "flat",
            old.hash,
            new.hash,
        )
        assert str(mismatch) == (
            f"storage holds network 'flat' with spec hash {old.hash[:12]}, but the spec given "
            f"has hash {new.hash[:12]}; open with replace_spec=True to replace the stored spec "
            "(contents of contacts that still exist are kept)"
        )


async def test_replacing_a_spec_lists_the_stored_contacts_it_no_longer_has(
    memory_url: str,
) -> None:
    async with open_storage(memory_url) as storage:
        async with StorageBackedRuntime(flat_spec(3), storage) as rt:
            for cid in ("c2", "c0", "c1"):
                await rt.update_contact(cid, cid)
        new = parse_spec({"id": "flat", "contacts": [{"id": "c0"}, {"id": "extra"}]})
        async with StorageBackedRuntime(new, storage, replace_spec=True) as rt:
            assert rt.ignored_on_recovery == ["c1", "c2"]
            assert rt.recovered == 1 and rt.value("c0") == "c0"


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ("load_network_hash", "cannot read network 'flat' from storage: "),
        ("save_network", "cannot save network 'flat': "),
        ("load_contents", "cannot load contents of 'flat': "),
    ],
)
async def test_a_storage_failure_at_open_names_the_step_and_carries_the_error(
    memory_url: str, operation: str, message: str
) -> None:
    async with open_storage(memory_url) as inner:
        if operation == "load_contents":  # the network must exist for its contents to load
            async with StorageBackedRuntime(flat_spec(1), inner):
                pass
        faulty = FaultyStorage(
            inner,
            seed=1,
            permanent_rate=1.0,
            operations={operation},
            permanent_codes=(ErrorCode.PERMISSION,),
        )
        with pytest.raises(PersistenceError) as caught:
            async with StorageBackedRuntime(flat_spec(1), faulty):
                pass
        error = caught.value.error  # type: ignore[attr-defined]
        assert isinstance(error, StorageError) and error.code is ErrorCode.PERMISSION
        assert str(caught.value) == message + str(error)


async def test_a_first_flush_that_fails_at_open_raises_and_leaves_nothing_running(
    memory_url: str,
) -> None:
    """Opening writes the spec's contents; when that write fails the open fails with it,
    and the runtime's background writer is stopped (the runtime is not left running)."""
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(
            inner,
            seed=1,
            permanent_rate=1.0,
            operations={"write"},
            permanent_codes=(ErrorCode.PERMISSION,),
        )
        runtime = StorageBackedRuntime(parse_spec(WITH_CONTENT), faulty)
        with pytest.raises(PersistenceError) as caught:
            async with runtime:
                pass
        error = caught.value.error  # type: ignore[attr-defined]
        assert isinstance(error, StorageError) and error.code is ErrorCode.PERMISSION
        assert str(caught.value) == (f"flush failed: queued changes were not all stored: {error}")
        assert faulty.stats.failures == 1  # one write, given up: nothing retries it
        with pytest.raises(RuntimeError, match="the runtime is not running"):
            await runtime.flush()


@pytest.mark.parametrize(
    ("example", "contact", "value"),
    [("calculator", "input-a", 5), ("temperature", "fahrenheit", 212)],
)
async def test_reopening_a_network_with_gadgets_writes_nothing_back(
    tmp_path: Path, example: str, contact: str, value: int
) -> None:
    """The settle after a restore gave each gadget output whose value did not change (and
    what its wires feed) a stamp one past its own, so every opening wrote them again, and
    a runtime could not open a read-only file store (the rewrite was refused)."""
    spec = load_spec(EXAMPLES / f"{example}.json")
    url = f"file://{tmp_path / 'store'}"
    async with open_storage(url) as storage, StorageBackedRuntime(spec, storage) as first:
        await first.update_contact(contact, value)
        held = dict((cid, (v, s)) for cid, v, s in first.state())
    for options in ({}, {}, {"read_only": True}):
        async with (
            open_storage(url, **options) as storage,
            StorageBackedRuntime(spec, storage) as again,
        ):
            metrics = again.metrics
            assert (metrics["flushed"], metrics["batches"], again.queue_depth) == (0, 0, 0)
            assert dict((cid, (v, s)) for cid, v, s in again.state()) == held
