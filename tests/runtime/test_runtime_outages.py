"""The durable runtime over a filesystem store whose disk fills up (a real, tiny tmpfs).

A full disk is LIMIT_EXCEEDED and permanent (``docs/storage-fs.md``): the batch is given
up, its durable writers get ``PersistenceError`` (buffered: ``flush()`` raises), health,
events and metrics say so, and once space is back the runtime writes again. Every write
acknowledged before, or after, is stored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bassline.errors import PersistenceError, StorageUnavailable
from bassline.runtime import BreakerPolicy, RuntimeEvent, StorageBackedRuntime
from bassline.storage import ErrorCode, open_storage
from tests.fs.tmpfs import fill_disk, tiny_tmpfs
from tests.manual_clock import ManualClock

from .conftest import flat_spec

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The failures are the kernel's; the event loop does not matter."""
    return "asyncio"


@pytest.mark.parametrize("durability", ["durable", "buffered"])
async def test_a_full_disk_reaches_writers_flush_and_health_and_the_runtime_recovers(
    tmp_path: Path, durability: str
) -> None:
    with tiny_tmpfs(tmp_path / "disk") as disk:
        url = f"file://{disk / 'store'}"
        events: list[RuntimeEvent] = []
        clock = ManualClock()  # the breaker stays open until the test lets time pass
        async with open_storage(url) as storage:
            runtime = StorageBackedRuntime(
                flat_spec(10),
                storage,
                durability=durability,
                breaker=BreakerPolicy(reset_timeout=0.05, clock=clock),
            )
            runtime.add_event_listener(events.append)
            async with runtime:
                await runtime.update_contact("c0", "before")
                await runtime.flush()
                filler = fill_disk(disk)
                with pytest.raises(PersistenceError) as failed:
                    await runtime.update_contact("c1", "x" * 20_000)
                    await runtime.flush()  # buffered: the barrier raises
                error = failed.value.error  # type: ignore[attr-defined]
                assert error.code is ErrorCode.LIMIT_EXCEEDED and not error.transient
                assert "No space left on device (ENOSPC)" in error.message
                health = runtime.health()
                assert not health.ok and "ENOSPC" in " ".join(health.reasons)
                kinds = [e.kind for e in events]
                assert kinds == ["batch-failed", "breaker-opened", "records-dropped"]
                metrics = runtime.metrics  # permanent: one attempt, given up, never retried
                assert metrics["errors"] == {"limit-exceeded": 1}
                assert metrics["retries"] == 0 and metrics["dropped"] == 1
                assert health.breaker == "open"
                if durability == "durable":
                    with pytest.raises(StorageUnavailable):  # open: fails fast, not applied
                        await runtime.update_contact("c2", "refused")
                filler.unlink()
                clock.advance(1)  # past reset_timeout: the next batch is the breaker's trial
                await runtime.update_contact("c2", "after")
                await runtime.flush()
                assert runtime.health().ok, runtime.health().reasons
                assert [e.kind for e in events][3:] == ["breaker-closed"]
        async with open_storage(url) as storage:
            stored = {r.contact: r.value for r in (await storage.load_contents("flat")).unwrap()}
        assert stored["c0"] == "before" and stored["c2"] == "after"
        assert "c1" not in stored  # given up, and said so: never acknowledged


async def test_a_store_directory_deleted_under_the_runtime_fails_the_writer(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    async with open_storage(f"file://{store}") as storage:
        async with StorageBackedRuntime(flat_spec(3), storage) as runtime:
            await runtime.update_contact("c0", 1)
            shutil.rmtree(store)
            with pytest.raises(PersistenceError, match="removed or replaced"):
                await runtime.update_contact("c1", 2)
            assert not runtime.health().ok
            assert runtime.metrics["dropped"] == 1  # permanent: given up, and reported
