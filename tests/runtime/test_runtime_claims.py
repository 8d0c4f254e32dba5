"""What a runtime sharing its storage reports when the sharing fails: a claim round on
gadget groups, a read of the change feed (:mod:`bassline.runtime.sharing`)."""

from __future__ import annotations

import uuid

import anyio
import pytest
from bassline_storage_memory import MemoryStorage, MemoryStore, drop_store
from returns.result import Failure

from bassline import PersistenceError
from bassline.runtime import StorageBackedRuntime
from bassline.storage import ErrorCode, StorageError, open_storage
from bassline.testing.faults import FaultyStorage
from tests.ownership_support import two_adders

pytestmark = pytest.mark.anyio


class _RefusedClaims:
    """A claim session whose every round fails, as when the store cannot be reached."""

    held: frozenset[str] = frozenset()

    async def claim(self, groups: object) -> Failure[StorageError]:
        await anyio.lowlevel.checkpoint()
        return Failure(StorageError(ErrorCode.CONNECTION, "the claim server is away"))

    async def wait_lost(self, seconds: float) -> bool:
        await anyio.sleep(seconds)
        return False

    async def __aenter__(self) -> _RefusedClaims:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _ClaimingMemory(MemoryStorage):
    """A memory store that takes turns on gadget groups, through refused claims."""

    def group_claims(self, network: str, holder: str) -> _RefusedClaims:
        return _RefusedClaims()


async def test_health_names_a_claim_round_that_failed() -> None:
    async with _ClaimingMemory("memory://", MemoryStore(None)) as storage:
        async with StorageBackedRuntime(two_adders(), storage) as runtime:
            health = runtime.health()
            assert (health.status, health.reasons) == (
                "degraded",
                ("cannot claim gadget groups: the claim server is away",),
            )
            assert runtime.run_groups == frozenset()
            assert runtime.group_owners() == {"left": None, "right": None}


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
