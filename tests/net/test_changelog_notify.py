"""``ChangeLog.notify`` wakes every task waiting on the log, and makes no new Event when
none waits (a node notifies once per applied batch; its pushers wait only when idle)."""

from __future__ import annotations

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from bassline.net.changelog import ChangeLog


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_notify_wakes_waiters_and_costs_nothing_without_them(backend: str) -> None:
    async def main() -> None:
        log = ChangeLog()
        event = log._changed
        log.record_many(["a"])  # nobody waits: the same Event, still unset
        assert log._changed is event and not event.is_set()
        woken: list[str] = []

        async def notified() -> None:
            await log.wait_notified()
            woken.append("notified")

        async def beyond() -> None:
            await log.wait_beyond(2)
            woken.append("beyond")

        with anyio.fail_after(10):  # a lost wake-up fails instead of hanging
            async with anyio.create_task_group() as tg:
                tg.start_soon(notified)
                tg.start_soon(beyond)
                await wait_all_tasks_blocked()
                log.record_many(["b"])  # head 2: wakes both; beyond waits on
                await wait_all_tasks_blocked()
                assert woken == ["notified"]
                log.notify()  # nothing new: beyond wakes and waits again
                await wait_all_tasks_blocked()
                assert woken == ["notified"]
                log.record_many(["c"])
        assert sorted(woken) == ["beyond", "notified"]
        assert log._waiting == 0
        event = log._changed
        log.notify()
        assert log._changed is event

    anyio.run(main, backend=backend)
