"""Child process for the fs tests: try to open a store and report the outcome as JSON.

Usage: ``python lock_probe.py URL``. Prints ``{"ok": true}`` or
``{"ok": false, "code": ..., "message": ...}`` on stdout.
"""

from __future__ import annotations

import json
import sys

import anyio
from child_privileges import drop_privileges_if_asked

from bassline.storage import StorageOpenError, open_storage


async def _probe(url: str) -> dict[str, object]:
    try:
        async with open_storage(url) as storage:
            listed = await storage.list_networks()
            return {"ok": True, "networks": listed.unwrap()}
    except StorageOpenError as exc:
        return {"ok": False, "code": exc.error.code.value, "message": exc.error.message}


if __name__ == "__main__":
    drop_privileges_if_asked()
    print(json.dumps(anyio.run(_probe, sys.argv[1])), flush=True)
