"""Re-running a command whenever a file changes (``bassline run --watch``).

The file is polled: its size, mtime and inode are compared every ``interval`` seconds,
and when they change the content is read and compared, so touching a file without
changing it does not re-run anything. Ctrl-C (SIGINT) stops watching cleanly.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from bassline.spec import MAX_SPEC_BYTES

__all__ = ["DEFAULT_INTERVAL", "MAX_INTERVAL", "watch_file"]

DEFAULT_INTERVAL = 0.5
"""Seconds between two looks at the file."""
MAX_INTERVAL = 86400.0
"""The longest ``--interval`` (a day): ``time.sleep`` fails past about 9.2e9 seconds."""

Fingerprint = tuple[int, int, int] | None


def _fingerprint(path: Path) -> Fingerprint:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _digest(path: Path, limit: int) -> str | None:
    """The SHA-256 of the file's first ``limit`` + 1 bytes (a larger file is refused when
    it is read: what follows changes nothing), read a chunk at a time."""
    digest = hashlib.sha256()
    left = limit + 1
    try:
        with open(path, "rb") as f:
            while left > 0 and (chunk := f.read(min(1 << 20, left))):
                digest.update(chunk)
                left -= len(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def watch_file(
    path: Path,
    action: Callable[[], None],
    *,
    interval: float = DEFAULT_INTERVAL,
    limit: int = MAX_SPEC_BYTES,
    on_error: Callable[[Exception], None],
    expected: tuple[type[Exception], ...],
    on_wait: Callable[[], None] = lambda: None,
) -> None:
    """Call ``action()`` now and after every change to ``path``, until Ctrl-C.

    An exception of one of the ``expected`` types is passed to ``on_error`` and watching
    goes on (a half-saved spec must not end the session); any other propagates.
    ``on_wait`` is called each time the watcher starts waiting for the next change.
    At most ``limit`` + 1 bytes of the file are read to see whether it changed (endless
    input such as ``/dev/zero`` is not read forever).
    """
    fingerprint = _fingerprint(path)
    digest = _digest(path, limit)
    try:
        while True:
            try:
                action()
            except expected as exc:
                on_error(exc)
            on_wait()
            while True:
                time.sleep(interval)  # polling the file is the product's behaviour
                now = _fingerprint(path)
                if now == fingerprint:
                    continue
                fingerprint = now
                new_digest = _digest(path, limit)
                if new_digest != digest:
                    digest = new_digest
                    break
    except KeyboardInterrupt:
        return
