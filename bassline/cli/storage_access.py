"""Opening storage from the command line: every failure becomes one clear user error.

A malformed URL, an unknown scheme, a backend that cannot open, and a ``Failure`` coming
back from an operation all turn into :class:`~bassline.cli.app.UserError` naming the URL
with any password masked, and saying what to do about it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from returns.result import Failure, Result

from bassline.cli.app import UserError
from bassline.errors import PluginNotFound
from bassline.plugins import PluginLoadError
from bassline.storage import (
    ErrorCode,
    NetworkStorage,
    StorageError,
    StorageOpenError,
    mask_url,
    open_storage,
)

__all__ = [
    "migrator_for",
    "one_line",
    "open_unopened",
    "opened",
    "scrub",
    "storage_error",
    "unwrap",
]

T = TypeVar("T")

_HINTS = {
    ErrorCode.CONNECTION: "check that the server is running and the URL is right",
    ErrorCode.TIMEOUT: "check that the server is reachable, or try again",
    ErrorCode.PERMISSION: "check the credentials and the permissions on the store",
    ErrorCode.CORRUPTION: "run `bassline storage check URL` for a full report",
}


def one_line(text: str) -> str:
    """``text`` on one line: its non-blank lines joined with ``; ``."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def scrub(text: str, url: str) -> str:
    """``text`` with ``url`` (and any password in it) masked."""
    masked = mask_url(url)
    out = text.replace(url, masked)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        out = out.replace(password, "***")
    return out


_ADVICE = re.compile(
    r"\b(check|create|fix|grant|install|lower|pass|raise|retry|run|upgrade|use)\b", re.IGNORECASE
)
"""Words that start advice: a message that already says what to do gets no generic hint."""


def storage_error(url: str, doing: str, error: StorageError) -> UserError:
    """A user error for a failed storage operation: what, where, why and what to do.

    The generic hint for the error's code is added only when the backend's message gives
    no advice of its own (PostgreSQL's say exactly what to check; a hint would repeat it).
    """
    hint = _HINTS.get(error.code)
    suffix = f"; {hint}" if hint and not _ADVICE.search(error.message) else ""
    message = f"{doing} in {mask_url(url)} failed: {error.code.value}: {error.message}{suffix}"
    return UserError(one_line(scrub(message, url)))


def unwrap(result: Result[T, StorageError], url: str, doing: str) -> T:
    """The value of a ``Success``; a ``Failure`` raises :func:`storage_error`."""
    if isinstance(result, Failure):
        raise storage_error(url, doing, result.failure())
    return result.unwrap()


def open_unopened(url: str, **options: Any) -> NetworkStorage:
    """The (not yet opened) storage for ``url``; a UserError for a bad URL or scheme."""
    try:
        return open_storage(url, **options)
    except PluginNotFound as exc:
        hint = f"did you mean {exc.suggestion}://? " if exc.suggestion else ""
        installed = ", ".join(f"{s}://" for s in exc.available) or "none"
        raise UserError(
            f"no storage backend for {exc.name}:// in {mask_url(url)}; {hint}"
            f"installed: {installed} (install bassline-storage-<name> for more)"
        ) from None
    except PluginLoadError as exc:
        raise UserError(one_line(scrub(f"{exc}; reinstall that backend package", url))) from None
    except ValueError as exc:
        text = scrub(str(exc), url)
        if mask_url(url) not in text:
            text = f"bad storage URL {mask_url(url)}: {text}"
        raise UserError(one_line(text)) from None


def _existing_only(url: str) -> dict[str, Any]:
    """Options that keep opening ``url`` from creating a store where there is none.

    The file backend creates a missing directory by default (``create=true``); a command
    that only reads must not, or a mistyped path becomes a new, empty store that reads as
    "no networks". Other backends create nothing on open.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return {}  # open_unopened reports the malformed URL
    if parts.scheme == "file" and "create=" not in parts.query:
        return {"create": False}
    return {}


@asynccontextmanager
async def opened(
    url: str, *, existing: bool = False, **options: Any
) -> AsyncIterator[NetworkStorage]:
    """Open the storage at ``url`` for the body of an ``async with``, or raise a UserError.

    With ``existing``, a store that is not there is an error rather than created (for
    commands that only read).
    """
    added = _existing_only(url) if existing else {}
    storage = open_unopened(url, **{**added, **options})
    try:
        await storage.__aenter__()
    except StorageOpenError as exc:
        error = exc.error
        if added:  # the user did not write create=false: say why nothing was created
            message = error.message.replace("(create=false)", "(this command creates no store)")
            error = StorageError(error.code, message, error.transient, error.cause)
        raise storage_error(url, "opening storage", error) from None
    try:
        yield storage
    finally:
        await storage.__aexit__(None, None, None)


def migrator_for(url: str) -> tuple[str, Callable[..., Any] | None]:
    """The backend package for ``url`` and its ``migrate(url)`` function, if it has one.

    A backend that manages a schema exposes ``migrate(url) -> str`` (the revision reached)
    at the top level of its package; it is found through the backend's entry point, so
    the core never imports a backend by name.
    """
    storage = open_unopened(url)
    package = type(storage).__module__.partition(".")[0]
    migrate = getattr(importlib.import_module(package), "migrate", None)
    return package, migrate if callable(migrate) else None
