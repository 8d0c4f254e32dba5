"""The durable write path across real process deaths and under memory pressure."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import anyio
import pytest

from bassline.runtime import StorageBackedRuntime
from bassline.storage import open_storage
from bassline.testing.faults import FaultyStorage

from .conftest import flat_spec

CHILD = Path(__file__).with_name("buffered_child.py")


def test_sigkill_on_fs_in_buffered_mode_keeps_everything_a_completed_flush_acknowledged(
    tmp_path: Path,
) -> None:
    rng = random.Random(11)
    start = 0
    acknowledged_writes: list[int] = []
    for _round in range(5):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(tmp_path), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        wanted = rng.randint(1, 6)
        acknowledged = start
        for _ in range(wanted):
            line = child.stdout.readline()
            assert line.startswith("flushed "), (line, child.stderr.read() if child.stderr else "")
            acknowledged = int(line.split()[1])
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        if child.stderr:
            child.stderr.close()

        acknowledged_writes.extend(range(start, acknowledged))

        async def check() -> None:
            async with open_storage(f"file://{tmp_path}") as storage:
                contents = {
                    r.contact: r.value for r in (await storage.load_contents("killme")).unwrap()
                }
            for i in acknowledged_writes:  # each contact holds that write or a later one
                assert contents.get(f"c{i % 2000}", -1) >= i, f"acknowledged write {i} lost"

        anyio.run(check)
        start = acknowledged + 1000  # the next child writes values above everything so far


@pytest.mark.anyio
async def test_buffered_writers_are_held_at_the_queue_bound_and_memory_stays_bounded() -> None:
    """200 writers, 20,000 writes of ~1 KB over 2,000 contacts, storage at 0.3 s per batch.

    Once every contact holds a value (after 4,000 writes), memory must not grow with the
    16,000 writes that follow (they would add ~17 MB if anything accumulated per write).
    """
    bound, contacts, writers, each = 500, 2000, 200, 100
    async with open_storage("memory://") as inner:
        slow = FaultyStorage(inner, seed=5, latency=0.3, operations={"write"})
        runtime = StorageBackedRuntime(
            flat_spec(contacts), slow, durability="buffered", queue_bound=bound, batch_size=bound
        )
        async with runtime:
            tracemalloc.start()
            max_depth = 0
            written = 0
            steady: int | None = None

            async def writer() -> None:
                nonlocal max_depth, written, steady
                for _ in range(each):
                    n = written
                    written += 1
                    await runtime.update_contact(f"c{n % contacts}", f"{n:08d}" + "x" * 1000)
                    max_depth = max(max_depth, runtime.queue_depth)
                    if written == 4000:
                        steady, _ = tracemalloc.get_traced_memory()
                        tracemalloc.reset_peak()
                    if written == 10_000:
                        slow.configure(latency=0.0)  # storage speeds up

            with anyio.fail_after(120):
                async with anyio.create_task_group() as tg:
                    for _ in range(writers):
                        tg.start_soon(writer)
                await runtime.flush()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert steady is not None
            assert max_depth <= bound  # writers were held back at the bound
            assert runtime.metrics["queue_depth_max"] <= bound
            assert peak - steady < 4_000_000, f"memory grew by {peak - steady:,} bytes"
            contents = {r.contact: r.value for r in (await inner.load_contents("flat")).unwrap()}
            assert len(contents) == contacts
            final = {cid: v for cid, v, _ in runtime.network.state()}
            assert contents == final
