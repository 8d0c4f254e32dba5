"""Child process for the fs I/O failure tests: provoke a real OS error, report as JSON.

Usage: ``python io_child.py MODE URL``.

``fsize``: write a batch, then lower RLIMIT_FSIZE just above the log's size so the
kernel refuses the next big append (EFBIG), then write a small batch that fits.

``snapshot``: save a snapshot into a directory the process may not write (the parent
arranged that), then write a batch.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
from bassline_storage_fs import FileStorage
from child_privileges import drop_privileges_if_asked
from returns.result import Failure

from bassline.clock import Stamp
from bassline.spec import Bassline, GroupSpec
from bassline.storage import ContentRecord, NetworkRecord, open_storage


def _outcome(result: Any) -> dict[str, Any]:
    if isinstance(result, Failure):
        error = result.failure()
        return {"ok": False, "code": error.code.value, "message": error.message}
    return {"ok": True}


def _batch(marker: str, n: int, size: int) -> list[ContentRecord]:
    return [
        ContentRecord("net", "g", f"{marker}{i}", marker * size, Stamp(1, "child"))
        for i in range(n)
    ]


async def _fsize(url: str) -> dict[str, Any]:
    async with open_storage(url) as storage:
        assert isinstance(storage, FileStorage)
        spec = Bassline(id="net", groups=(GroupSpec("g"),))
        first = await storage.write([NetworkRecord(spec), *_batch("A", 3, 10)])
        log = Path(storage.options.path) / "log"
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (log.stat().st_size + 2000, hard))
        big = await storage.write(_batch("B", 50, 1000))
        small = await storage.write(_batch("C", 2, 10))
        health = (await storage.health()).unwrap()
    return {
        "first": _outcome(first),
        "big": _outcome(big),
        "small": _outcome(small),
        "healthy": health.ok,
    }


async def _snapshot(url: str) -> dict[str, Any]:
    async with open_storage(url) as storage:
        snap = await storage.save_snapshot("net", "denied")
        write = await storage.write(_batch("D", 2, 10))
    return {"snapshot": _outcome(snap), "write": _outcome(write)}


if __name__ == "__main__":
    drop_privileges_if_asked()
    mode, url = sys.argv[1], sys.argv[2]
    run = {"fsize": _fsize, "snapshot": _snapshot}[mode]
    print(json.dumps(anyio.run(run, url)), flush=True)
