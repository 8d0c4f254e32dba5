"""Opening and closing a runtime in the wrong order: clear errors, nothing left running."""

from __future__ import annotations

import pytest

from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage

from .conftest import flat_spec

pytestmark = pytest.mark.anyio


async def test_entering_an_open_runtime_again_is_refused_and_starts_nothing(
    memory_url: str,
) -> None:
    """A nested ``async with`` on an open runtime replaced its background writer's task
    group (the first one was never closed) and added a second listener; the outer exit
    then failed on a bare ``AssertionError``."""
    async with open_storage(memory_url) as storage:
        runtime = StorageBackedRuntime(flat_spec(2), storage)
        async with runtime:
            with pytest.raises(RuntimeError, match="the runtime is already open"):
                async with runtime:
                    pass
            await runtime.update_contact("c0", 1)  # still open, one writer
            assert runtime.metrics["coalesced"] == 0  # queued once, not once per listener
        assert (await storage.load_contact_content("flat", "root", "c0")).unwrap().value == 1


async def test_closing_a_closed_runtime_says_so(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        runtime = StorageBackedRuntime(flat_spec(2), storage)
        async with runtime:
            pass
        with pytest.raises(RuntimeError, match="the runtime is not open: nothing to close"):
            await runtime.__aexit__(None, None, None)


async def test_a_reopened_runtime_queues_each_change_once(memory_url: str) -> None:
    """Reopening after a close listened to the engine twice: every change was queued
    twice (and once more per reopening)."""
    async with open_storage(memory_url) as storage:
        runtime = StorageBackedRuntime(flat_spec(2), storage)
        for value in range(3):
            async with runtime:
                await runtime.update_contact("c0", value)
            assert runtime.metrics["coalesced"] == 0  # a second listener's copy coalesces
        runtime.network.update_contact("c1", "closed")  # nothing stores it: not queued
        assert runtime.queue_depth == 0
        assert (await storage.load_contact_content("flat", "root", "c0")).unwrap().value == 2


async def test_a_listener_that_raises_does_not_keep_a_change_from_storage(
    memory_url: str,
) -> None:
    """A caller's listener added before the runtime opened ran before the runtime's own:
    when it raised, the change stayed in memory and was never queued, so ``flush`` and
    ``health`` said all was stored while storage kept the old value (and a restart
    brought it back)."""
    async with open_storage(memory_url) as storage:
        runtime = StorageBackedRuntime(flat_spec(2), storage)

        def fussy(result: object) -> None:
            raise RuntimeError("a bug in the caller's listener")

        runtime.add_listener(fussy)
        async with runtime:
            with pytest.raises(RuntimeError, match="a bug in the caller's listener"):
                await runtime.update_contact("c0", "new")
            await runtime.flush()
        stored = (await storage.load_contact_content("flat", "root", "c0")).unwrap()
        assert (stored.value, stored.stamp) == ("new", runtime.network.stamp("c0"))
