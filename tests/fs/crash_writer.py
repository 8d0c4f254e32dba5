"""Child process for the crash test: write batches forever, report each commit.

Usage: ``python crash_writer.py URL FIRST_BATCH CONTACTS``.

Batch ``k`` writes ``CONTACTS`` contacts ``b{k}-{i}`` (each marked with ``k``) and
overwrites the shared contacts ``s{i}`` with ``k``, stamped ``k``: after a crash either
all of a batch is visible or none of it. The line ``k`` is printed (and flushed) only
after ``write`` returned Success, so every printed batch is acknowledged. The parent
kills this process with SIGKILL at a random moment.
"""

from __future__ import annotations

import sys

import anyio
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import ContentRecord, NetworkRecord, open_storage

NETWORK = "crash"


def batch(k: int, contacts: int) -> list[ContentRecord]:
    """The records of batch ``k``."""
    marked = [
        ContentRecord(NETWORK, "batches", f"b{k}-{i}", {"batch": k, "i": i}, Stamp(k, "writer"))
        for i in range(contacts)
    ]
    shared = [
        ContentRecord(NETWORK, "shared", f"s{i}", {"batch": k}, Stamp(k, "writer"))
        for i in range(contacts)
    ]
    return marked + shared


async def main(url: str, first: int, contacts: int) -> None:
    """Write batch after batch until killed."""
    async with open_storage(url) as storage:
        if not (await storage.network_exists(NETWORK)).unwrap():
            spec = Bassline(id=NETWORK, groups=(GroupSpec("batches"), GroupSpec("shared")))
            (await storage.write([NetworkRecord(spec)])).unwrap()
        k = first
        while True:
            result = await storage.write(batch(k, contacts))
            if isinstance(result, Failure):
                print(f"error {result.failure()}", flush=True)
                raise SystemExit(2)
            sys.stdout.write(f"{k}\n")
            sys.stdout.flush()
            k += 1


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
