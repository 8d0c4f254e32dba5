"""``file:///path/to/dir?option=value``: parsing the URL and the options, strictly.

Options come from the URL query or from keyword arguments to ``open_storage`` (not
both for one option). Anything malformed is a :class:`ValueError` naming the problem.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

__all__ = ["DEFAULT_COMPACT_BYTES", "FsOptions", "parse_fs_url"]

DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@attrs.frozen
class FsOptions:
    """Where the store is and how it behaves."""

    path: Path
    """The store directory (absolute)."""
    compact_bytes: int = DEFAULT_COMPACT_BYTES
    """Compact the log into state files once it grows beyond this many bytes."""
    threads: int = 4
    """Worker threads for blocking file I/O (the CapacityLimiter's size)."""
    inline_sync_ms: int = 2
    """A small content-only write runs on the event loop thread, with no worker-thread
    hop, while the log's last data sync took at most this many milliseconds (0: every
    write goes through a worker thread). See docs/storage-fs.md, "Writes on the event
    loop thread"."""
    create: bool = True
    """Create the directory (and parents) if it does not exist."""
    read_only: bool = False
    """Change nothing on disk: a torn tail is reported but not cut, leftovers are not
    removed, nothing is compacted or created, and every write is refused (PERMISSION)."""
    explicit: frozenset[str] = attrs.field(default=frozenset(), eq=False)
    """The options the user gave (in the URL query or as keywords), not defaulted."""


_TYPES: dict[str, type] = {
    "compact_bytes": int,
    "threads": int,
    "inline_sync_ms": int,
    "create": bool,
    "read_only": bool,
}
_RANGES: dict[str, tuple[int, int]] = {
    "compact_bytes": (1, 1 << 40),
    "threads": (1, 64),
    "inline_sync_ms": (0, 1000),
}


def _from_text(name: str, text: str, url: str) -> Any:
    kind = _TYPES[name]
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"option {name}={text!r} in {url!r} must be true or false")
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"option {name}={text!r} in {url!r} must be a whole number")
    return int(text)


def _repair_is_a_command(path: str) -> ValueError:
    where = Path(path).as_uri() if path.startswith("/") else "file:///DIR"
    return ValueError(
        "the repair option is gone: opening a store never discards committed batches. "
        f"Run `bassline storage repair {where} --dry-run` to see what a repair would "
        "discard, then without --dry-run to do it (the discarded bytes are kept in a side "
        "file in the store's discarded/ directory)"
    )


def _known(name: str, url: str) -> None:
    if name not in _TYPES:
        hint = difflib.get_close_matches(name, list(_TYPES), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(
            f"unknown file storage option {name!r} for {url!r}{suggestion} "
            f"(known: {', '.join(sorted(_TYPES))})"
        )


def _check(name: str, value: Any, url: str) -> Any:
    _known(name, url)
    kind = _TYPES[name]
    if type(value) is not kind:
        raise ValueError(
            f"option {name} for {url!r} must be {kind.__name__}, got {type(value).__name__} "
            f"{value!r}"
        )
    if name in _RANGES and isinstance(value, int):
        low, high = _RANGES[name]
        if not low <= value <= high:
            raise ValueError(f"option {name}={value} for {url!r} must be in [{low}, {high}]")
    return value


def parse_fs_url(url: str, options: dict[str, Any]) -> FsOptions:
    """Parse ``file:///abs/dir[?opts]`` plus keyword ``options``; ValueError if malformed."""
    if not isinstance(url, str):
        raise ValueError(f"storage URL must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"malformed file storage URL {url!r}: {exc}") from None
    if parts.scheme.lower() != "file":
        raise ValueError(f"not a file:// URL: {url!r}")
    if parts.netloc.lower() not in ("", "localhost"):
        raise ValueError(
            f"file storage URL {url!r} names host {parts.netloc!r}; it must name an absolute "
            "local path, e.g. file:///var/lib/bassline (three slashes) or "
            "file://localhost/var/lib/bassline"
        )
    if parts.fragment:
        raise ValueError(f"file storage URL {url!r} must not have a #fragment")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise ValueError(f"file storage URL {url!r} has no absolute path; use file:///absolute/dir")
    if "\x00" in path:
        raise ValueError(f"file storage URL {url!r} contains a NUL character in its path")
    values: dict[str, Any] = {}
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"malformed query in file storage URL {url!r}: {exc}") from None
    for name, text in query:
        if name == "repair":
            raise _repair_is_a_command(path)
        _known(name, url)
        if name in values:
            raise ValueError(f"option {name} is given twice in {url!r}")
        values[name] = _check(name, _from_text(name, text, url), url)
    for name, value in options.items():
        if name == "repair":
            raise _repair_is_a_command(path)
        if name in values:
            raise ValueError(f"option {name} is given both in {url!r} and as an argument")
        values[name] = _check(name, value, url)
    return FsOptions(path=Path(path), explicit=frozenset(values), **values)
