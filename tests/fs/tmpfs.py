"""A real full disk for tests: a tiny tmpfs, and a filler file that takes every free byte.

Mounting needs root (or CAP_SYS_ADMIN); without it the test is skipped with the reason, or
fails under ``BASSLINE_REQUIRE_ROOT_TESTS=1`` (``tests/root_support.py``). The mount is
always undone, even when the test fails.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.root_support import cannot_run, require_root

__all__ = ["fill_disk", "tiny_tmpfs"]


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``path`` (created) for the duration of the block."""
    require_root("mounting a tmpfs")
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        cannot_run(f"cannot mount a tmpfs here to fill a disk: {mounted.stderr!r}")
    try:
        yield path
    finally:
        done = subprocess.run(["umount", str(path)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            # something still holds a file open there: detach the mount anyway (it goes once
            # the last file is closed), then say so
            subprocess.run(["umount", "--lazy", str(path)], capture_output=True, check=False)
            raise AssertionError(f"the tmpfs at {path} was busy at the end: {done.stderr}")


def fill_disk(disk: Path) -> Path:
    """Write a filler file on ``disk`` until the kernel says ENOSPC; returns the filler.

    Remove the filler to give the space back.
    """
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        block = b"\0" * 4096
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]  # take the last partial page too
    finally:
        os.close(fd)
    return filler
