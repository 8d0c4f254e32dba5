"""Opening and closing a runtime in the wrong order: clear errors, nothing left running."""

from __future__ import annotations

import pytest

from bassline import PersistenceError
from bassline.runtime import BreakerPolicy, RuntimeEvent, StorageBackedRuntime
from bassline.storage import open_storage
from bassline.testing.faults import FaultyStorage

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


async def test_an_event_listener_that_raises_is_logged_and_the_writer_carries_on(
    memory_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An event listener runs in the background writer: one that raised ended the
    writer's task, which tore the whole runtime down with an ``ExceptionGroup`` (the
    batch's writers never told, what was queued never stored)."""
    async with open_storage(memory_url) as inner:
        faulty = FaultyStorage(inner, seed=1, operations={"write"})
        runtime = StorageBackedRuntime(
            flat_spec(2), faulty, breaker=BreakerPolicy(failure_threshold=5)
        )
        told: list[str] = []

        def fussy(event: RuntimeEvent) -> None:
            raise RuntimeError("a bug in the caller's event listener")

        runtime.add_event_listener(fussy)
        runtime.add_event_listener(lambda event: told.append(event.kind))
        async with runtime:
            faulty.configure(permanent_rate=1.0)
            with pytest.raises(PersistenceError, match="injected permanent"):
                await runtime.update_contact("c0", "lost")
            faulty.configure(permanent_rate=0.0)
            await runtime.update_contact("c1", "kept")
        assert told == ["batch-failed", "records-dropped"]
        assert (await inner.load_contact_content("flat", "root", "c1")).unwrap().value == "kept"
        logged = [r.getMessage() for r in caplog.records if r.name == "bassline.runtime"]
        assert logged == [
            f"runtime event listener {fussy!r} raised on a {kind} event" for kind in told
        ]


async def test_an_event_listener_must_be_callable(memory_url: str) -> None:
    async with open_storage(memory_url) as storage:
        runtime = StorageBackedRuntime(flat_spec(2), storage)
        with pytest.raises(TypeError, match="an event listener must be callable, not None"):
            runtime.add_event_listener(None)  # type: ignore[arg-type]


async def test_a_listener_must_be_callable(memory_url: str) -> None:
    """``add_listener(None)`` was taken, and every later write failed on calling it."""
    async with open_storage(memory_url) as storage:
        runtime = StorageBackedRuntime(flat_spec(2), storage)
        with pytest.raises(TypeError, match="a listener must be callable, not None"):
            runtime.add_listener(None)  # type: ignore[arg-type]
        async with runtime:
            await runtime.update_contact("c0", 1)


@pytest.mark.parametrize("flag", ["replace_spec", "follow"])
@pytest.mark.parametrize("given", ["no", 0, None])
async def test_the_runtimes_switches_must_be_booleans(
    memory_url: str, flag: str, given: object
) -> None:
    """``replace_spec="no"`` was truthy: it replaced a stored spec it was told not to."""
    async with open_storage(memory_url) as storage:
        with pytest.raises(TypeError, match=f"{flag} must be True or False, not {given!r}"):
            StorageBackedRuntime(flat_spec(2), storage, **{flag: given})
