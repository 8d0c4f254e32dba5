"""Waiters: the batch-completion wake-up of durable writers, on asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from bassline.runtime.waiters import Waiters

pytestmark = pytest.mark.anyio


async def _parked(waiters: Waiters, woken: list[int], k: int) -> None:
    await waiters.wait()
    woken.append(k)


async def test_wake_all_wakes_every_waiting_task_and_only_those() -> None:
    waiters = Waiters()
    woken: list[int] = []
    async with anyio.create_task_group() as tg:
        for k in range(5):
            tg.start_soon(_parked, waiters, woken, k)
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        waiters.wake_all()
        await anyio.wait_all_tasks_blocked()
        assert sorted(woken) == [0, 1, 2, 3, 4]
        tg.start_soon(_parked, waiters, woken, 99)  # waits for the next wake_all
        await anyio.wait_all_tasks_blocked()
        assert sorted(woken) == [0, 1, 2, 3, 4]  # 99 still waits
        waiters.wake_all()
    assert sorted(woken) == [0, 1, 2, 3, 4, 99]


async def test_a_cancelled_waiter_leaves_the_others_waiting_and_nothing_behind() -> None:
    waiters = Waiters()
    woken: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_parked, waiters, woken, 1)
        tg.start_soon(_parked, waiters, woken, 2)
        await anyio.wait_all_tasks_blocked()
        for _ in range(100):
            with anyio.move_on_after(0):
                await waiters.wait()
        assert len(waiters) == 2  # the 100 that gave up are forgotten
        waiters.wake_all()
    assert sorted(woken) == [1, 2]
    assert len(waiters) == 0


async def test_wake_all_with_nobody_waiting_is_harmless() -> None:
    waiters = Waiters()
    waiters.wake_all()
    with anyio.move_on_after(0.05) as scope:
        await waiters.wait()  # an earlier wake_all does not count
    assert scope.cancelled_caught
