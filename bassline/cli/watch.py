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


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def watch_file(
    path: Path,
    action: Callable[[], None],
    *,
    interval: float = DEFAULT_INTERVAL,
    on_error: Callable[[Exception], None],
    expected: tuple[type[Exception], ...],
    on_wait: Callable[[], None] = lambda: None,
) -> None:
    """Call ``action()`` now and after every change to ``path``, until Ctrl-C.

    An exception of one of the ``expected`` types is passed to ``on_error`` and watching
    goes on (a half-saved spec must not end the session); any other propagates.
    ``on_wait`` is called each time the watcher starts waiting for the next change.
    """
    fingerprint = _fingerprint(path)
    digest = _digest(path)
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
                new_digest = _digest(path)
                if new_digest != digest:
                    digest = new_digest
                    break
    except KeyboardInterrupt:
        return
