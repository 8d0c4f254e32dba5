"""Crash test with real processes: SIGKILL a writer at random points, then reopen.

Every round starts a child that writes batches in a loop and prints each batch id
after ``write`` returned Success. The parent waits for a random number of those
reports (never for time) and, every other round, for a compaction to be in flight
(polling for its temporary files, with a deadline), kills the child with SIGKILL (so the kill lands mid-write,
mid-sync, mid-compaction or between batches), reopens the store and checks that every
reported batch is there, that no batch is partly visible, and that the store goes on
working: the next round's child continues on the same store.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from bassline_storage_fs import FileStorage

from bassline.storage import open_storage

WRITER = Path(__file__).with_name("crash_writer.py")
ROUNDS = 24
CONTACTS = 8
# small, so compactions (state file rewrite + log swap) happen and get killed too
COMPACT_BYTES = 16 * 1024


def _compacting(store: Path) -> bool:
    """Whether a compaction is in flight (its temporary files exist)."""
    return any(store.glob("*.tmp")) or any(store.glob("networks/*/*.tmp"))


def _run_child(
    url: str, store: Path, first: int, wanted: int, during_compaction: bool
) -> tuple[list[int], str]:
    """Start a writer, wait for ``wanted`` commit reports, SIGKILL it; all reports seen.

    With ``during_compaction``, after the reports the parent polls (with a deadline)
    for a compaction's temporary files and kills the writer the moment it sees one.
    """
    child = subprocess.Popen(
        [sys.executable, str(WRITER), url, str(first), str(CONTACTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    reported: list[int] = []
    try:
        while len(reported) < wanted:
            line = child.stdout.readline()
            if not line.endswith(b"\n"):
                pytest.fail(f"writer died: {child.stderr.read().decode()}")
            reported.append(int(line))
        if during_compaction:
            deadline = time.monotonic() + 10
            while not _compacting(store) and time.monotonic() < deadline:
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    rest = child.stdout.read()
    # lines printed before the kill were acknowledged too; a cut-off last line was not
    reported += [int(line) for line in rest.split(b"\n")[:-1]]
    return reported, child.stderr.read().decode()


async def _check(url: str, reported: list[int]) -> tuple[int, Any]:
    """Reopen; assert the invariants; return the newest batch present and the report."""
    async with open_storage(url) as storage:
        assert isinstance(storage, FileStorage)
        assert (await storage.health()).unwrap().ok
        contents = (await storage.load_contents("crash")).unwrap()
        report = storage.recovery
    per_batch = Counter(c.value["batch"] for c in contents if c.group == "batches")
    partial = {k: n for k, n in per_batch.items() if n != CONTACTS}
    assert not partial, f"partly visible batches: {partial}"
    missing = sorted(set(reported) - set(per_batch))
    assert not missing, f"acknowledged batches lost: {missing}"
    newest = max(per_batch, default=0)
    shared = {c.contact: c.value["batch"] for c in contents if c.group == "shared"}
    if newest:
        assert shared == {f"s{i}": newest for i in range(CONTACTS)}, "shared contacts torn"
        for c in contents:
            assert c.stamp.hlc == c.value["batch"]
    return newest, report


def test_sigkill_at_random_points_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    store = tmp_path / "store"
    url = f"file://{store}?compact_bytes={COMPACT_BYTES}"
    rng = random.Random(20240611)
    first, acknowledged, unreported, cuts, mid_compaction = 1, 0, 0, 0, 0
    for round_ in range(ROUNDS):
        wanted = rng.randint(1, 25)
        reported, stderr = _run_child(url, store, first, wanted, during_compaction=round_ % 2 == 1)
        assert reported, stderr
        assert reported == list(range(first, first + len(reported)))
        newest, report = anyio.run(_check, url, reported)
        assert newest >= reported[-1]
        acknowledged += len(reported)
        unreported += newest - reported[-1]
        cuts += report.cut is not None
        mid_compaction += bool(report.removed)
        first = newest + 1
    assert anyio.run(_count, url) == (first - 1) * CONTACTS + CONTACTS
    print(
        f"\n{ROUNDS} kills: {acknowledged} acknowledged batches all present, {unreported} "
        f"committed but killed before reporting, {cuts} torn tails cut, {mid_compaction} "
        "kills during a compaction"
    )


async def _count(url: str) -> int:
    async with open_storage(url) as storage:
        return len((await storage.load_contents("crash")).unwrap())
