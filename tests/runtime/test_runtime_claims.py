"""What a runtime sharing its storage reports when the sharing fails: a claim round on
gadget groups, a read of the change feed (:mod:`bassline.runtime.sharing`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from bassline_storage_memory import MemoryStorage, MemoryStore, drop_store
from returns.result import Failure, Success

from bassline import PersistenceError
from bassline.clock import Stamp
from bassline.runtime import StorageBackedRuntime
from bassline.spec import parse_spec
from bassline.storage import ContentRecord, ErrorCode, StorageError, StorageResult, open_storage
from bassline.storage.abilities import Claims
from bassline.testing.faults import FaultyStorage
from tests.ownership_support import two_adders

pytestmark = pytest.mark.anyio


REFUSED = Failure(StorageError(ErrorCode.CONNECTION, "the claim server is away"))


class _ScriptedClaims:
    """A claim session whose rounds end as scripted (the last outcome repeats)."""

    def __init__(self, *rounds: StorageResult[Claims]) -> None:
        self.rounds = list(rounds)

    @property
    def held(self) -> frozenset[str]:
        return frozenset()

    async def claim(self, groups: object) -> StorageResult[Claims]:
        await anyio.lowlevel.checkpoint()
        return self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]

    async def wait_lost(self, seconds: float) -> bool:
        await anyio.sleep(seconds)
        return False

    async def __aenter__(self) -> _ScriptedClaims:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _ClaimingMemory(MemoryStorage):
    """A memory store that takes turns on gadget groups through scripted claims."""

    def __init__(self, claims: _ScriptedClaims) -> None:
        super().__init__("memory://", MemoryStore(None))
        self.claims = claims
        self.sessions: list[tuple[str, str]] = []
        """The network and holder each claim session was asked for."""
        self.refused: StorageError | None = None
        """When set, every write fails with it."""

    def group_claims(self, network: str, holder: str) -> _ScriptedClaims:
        self.sessions.append((network, holder))
        return self.claims

    async def write(self, batch: Any) -> Any:
        if self.refused is not None:
            await anyio.lowlevel.checkpoint()
            return Failure(self.refused)
        return await super().write(batch)

    async def write_joining(self, batch: Any, joins: Any) -> Any:
        """Batches holding a merge contact come here (D62): refused alike."""
        if self.refused is not None:
            await anyio.lowlevel.checkpoint()
            return Failure(self.refused)
        return await super().write_joining(batch, joins)


async def test_health_names_a_claim_round_that_failed() -> None:
    async with _ClaimingMemory(_ScriptedClaims(REFUSED)) as storage:
        async with StorageBackedRuntime(two_adders(), storage) as runtime:
            health = runtime.health()
            assert (health.status, health.reasons) == (
                "degraded",
                ("cannot claim gadget groups: the claim server is away",),
            )
            assert runtime.run_groups == frozenset()
            assert runtime.group_owners() == {"left": None, "right": None}
            assert storage.sessions == [("adders", "local")]


async def test_catch_up_raises_when_the_feed_cannot_be_read() -> None:
    url = f"memory://claims-{uuid.uuid4().hex}"
    try:
        async with open_storage(url) as inner:
            faulty = FaultyStorage(
                inner,
                seed=1,
                permanent_rate=1.0,
                operations={"read_changes"},
                permanent_codes=(ErrorCode.PERMISSION,),
            )
            async with StorageBackedRuntime(two_adders(), faulty, node_id="reader") as runtime:
                assert runtime.feed.following
                with pytest.raises(PersistenceError) as caught:
                    await runtime.catch_up()
                message = str(caught.value)
                assert message.startswith("cannot read the change feed: "), message
                assert message == f"cannot read the change feed: {runtime.feed.last_error}"
                assert "permission" in message
            async with StorageBackedRuntime(two_adders(), inner, follow=False) as unfollowing:
                await unfollowing.catch_up()  # nothing to read: no error
                assert not unfollowing.feed.following
    finally:
        drop_store(url.removeprefix("memory://"))


async def test_a_claim_round_that_fails_while_holding_groups_counts_one_loss() -> None:
    """A lost claim session is found by ``wait_lost`` or, when a round comes first, by the
    round failing: either way the groups stop at once and the loss is counted, once."""
    both = frozenset({"left", "right"})
    held = Success(Claims(both, {"left": "solo", "right": "solo"}))
    async with _ClaimingMemory(_ScriptedClaims(held, REFUSED)) as storage:
        async with StorageBackedRuntime(
            two_adders(), storage, node_id="solo", claim_interval=0.01
        ) as runtime:
            ownership = runtime.ownership
            assert ownership is not None and runtime.run_groups == both
            with anyio.fail_after(10):
                while ownership.rounds < 4:  # noqa: ASYNC110 - a poll with a deadline
                    await anyio.sleep(0.01)
            assert runtime.run_groups == frozenset() and ownership.losses == 1


@asynccontextmanager
async def _claiming_left(
    claims: _ScriptedClaims,
) -> AsyncIterator[tuple[_ClaimingMemory, StorageBackedRuntime]]:
    """A runtime of two_adders that runs ``right`` and claims ``left`` every 10 ms (the
    claims ``claims`` scripts), without the change feed."""
    async with _ClaimingMemory(claims) as storage:
        async with StorageBackedRuntime(
            two_adders(),
            storage,
            node_id="solo",
            run_groups=["right"],
            claim_groups=["left"],
            claim_interval=0.01,
            follow=False,
        ) as runtime:
            yield storage, runtime


async def test_a_group_gained_is_caught_up_from_storage_and_its_outputs_stored() -> None:
    """Without the change feed, a group taken over runs on the inputs storage has (another
    process wrote them) and its outputs are stored; a fixed group runs throughout, and
    keeps running when the claimed one is lost again."""
    nobody = Success(Claims(frozenset(), {"left": "other"}))
    left = Success(Claims(frozenset({"left"}), {"left": "solo"}))
    claims = _ScriptedClaims(nobody)
    async with _claiming_left(claims) as (storage, runtime):
        assert runtime.run_groups == frozenset({"right"})
        other = [Stamp(runtime.network.clock.tick().hlc, "other") for _ in range(2)]
        written = [
            ContentRecord("adders", "left", "left.a", 3, other[0]),
            ContentRecord("adders", "left", "left.b", 4, other[1]),
        ]
        (await storage.write(written)).unwrap()
        claims.rounds = [left]
        with anyio.fail_after(10):
            while runtime.run_groups != {"left", "right"}:  # noqa: ASYNC110 - deadline poll
                await anyio.sleep(0.01)
        assert runtime.value("left.sum") == 7 and runtime.value("l-sum") == 7
        premises = runtime.explain("l-sum").premises()
        assert {(p.contact, p.value, p.via, p.local) for p in premises} == {
            ("left.a", 3, "storage", False),
            ("left.b", 4, "storage", False),
        }
        await runtime.flush()
        stored = {r.contact: r.value for r in (await storage.load_contents("adders")).unwrap()}
        assert stored["left.sum"] == 7 and stored["l-sum"] == 7
        claims.rounds = [nobody]
        with anyio.fail_after(10):
            while runtime.run_groups != {"right"}:  # noqa: ASYNC110 - deadline poll
                await anyio.sleep(0.01)
        await runtime.update_many({"r-a": 1, "r-b": 2})
        assert runtime.value("r-sum") == 3


@pytest.mark.parametrize("failing", ["catch-up", "store"])
async def test_groups_gained_whose_catch_up_fails_still_run_and_say_why(
    caplog: pytest.LogCaptureFixture, failing: str
) -> None:
    """A stored input the engine refuses (``left.a`` takes numbers only, and another
    process stored text), or outputs storage will not take: the groups run anyway, and
    the warning names them and the error."""
    raw = two_adders().to_dict()
    for contact in raw["contacts"]:
        if contact["id"] == "left.a":
            contact["lattice"], contact["blend"] = "max", "merge"
    nobody = Success(Claims(frozenset(), {}))
    both = frozenset({"left", "right"})
    gained = Success(Claims(both, {"left": "solo", "right": "solo"}))
    claims = _ScriptedClaims(nobody)
    caplog.set_level(logging.WARNING, logger="bassline.runtime")
    async with _ClaimingMemory(claims) as storage:
        async with StorageBackedRuntime(
            parse_spec(raw), storage, node_id="solo", claim_interval=0.01, follow=False
        ) as runtime:
            stamp = Stamp(runtime.network.clock.tick().hlc, "other")
            value = "ten" if failing == "catch-up" else 10
            (
                await storage.write([ContentRecord("adders", "left", "left.a", value, stamp)])
            ).unwrap()
            no = StorageError(ErrorCode.PERMISSION, "no", transient=False)
            if failing == "store":
                storage.refused = no
            claims.rounds = [gained]
            with anyio.fail_after(10):
                while runtime.run_groups != both:  # noqa: ASYNC110 - a poll with a deadline
                    await anyio.sleep(0.01)
                while not [r for r in caplog.records if "gadget groups left, right: " in r.message]:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            (record,) = [r for r in caplog.records if "gadget groups left, right: " in r.message]
            if failing == "catch-up":
                assert runtime.value("left.a", None) is None
                assert record.message.startswith("catching up gadget groups left, right: ")
                assert "ten" in record.message
            else:
                assert runtime.value("left.a") == 10
                assert record.message == (
                    "storing the outputs of gadget groups left, right: "
                    f"flush failed: queued changes were not all stored: {no}"
                )
                storage.refused = None


async def test_a_listener_that_raises_on_a_gained_groups_first_run_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A listener raising on the run that catches a gained group up ended the claiming
    task, and with it the whole runtime (an ``ExceptionGroup`` out of its ``async
    with``); the group runs, its outputs are stored, and claiming goes on."""
    nobody = Success(Claims(frozenset(), {"left": "other"}))
    left = Success(Claims(frozenset({"left"}), {"left": "solo"}))
    claims = _ScriptedClaims(nobody)
    async with _claiming_left(claims) as (storage, runtime):
        await runtime.update_many({"l-a": 3, "l-b": 4})

        def fussy(_: object) -> None:
            raise RuntimeError("a bug in the caller's listener")

        stop = runtime.add_listener(fussy)
        claims.rounds = [left]
        ownership = runtime.ownership
        assert ownership is not None
        with anyio.fail_after(10):
            while runtime.run_groups != {"left", "right"}:  # noqa: ASYNC110 - deadline poll
                await anyio.sleep(0.01)
            rounds = ownership.rounds
            while ownership.rounds < rounds + 2:  # noqa: ASYNC110 - claiming goes on
                await anyio.sleep(0.01)
        stop()
        assert runtime.value("l-sum") == 7
        await runtime.flush()
        stored = {r.contact: r.value for r in (await storage.load_contents("adders")).unwrap()}
        assert stored["l-sum"] == 7
    logged = [r.getMessage() for r in caplog.records if r.name == "bassline.runtime"]
    assert "a listener raised on the first run of gadget groups left" in logged
