"""Helper for the fs child processes: drop root privileges after imports.

The venv's interpreter may sit under a directory only root can read (a clone in a
``mktemp -d`` directory), so a child cannot be *started* as ``nobody``; it starts as root,
imports everything and reads the storage plug-in metadata, then becomes ``nobody`` before
touching the store, so every file access is checked as ``nobody``.
"""

from __future__ import annotations

import os
import sys

import anyio
import anyio.to_thread

from bassline.storage import backends


async def _warm_up() -> None:
    await anyio.to_thread.run_sync(lambda: None)


def drop_privileges_if_asked() -> None:
    """If argv[1] is ``--as-uid=N``, remove it and switch to that user and group."""
    if len(sys.argv) > 1 and sys.argv[1].startswith("--as-uid="):
        uid = int(sys.argv.pop(1).split("=", 1)[1])
        anyio.run(_warm_up)  # lazy imports from the (root-only) interpreter happen now
        # storage backends are found through package metadata, read lazily: read it now,
        # while the (possibly root-only) environment is still readable
        backends.get("file")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
