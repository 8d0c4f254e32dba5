"""Opening storage from the command line: every failure becomes one clear user error.

A malformed URL, an unknown scheme, a backend that cannot open, and a ``Failure`` coming
back from an operation all turn into :class:`~bassline.cli.console.UserError` naming the URL
with any password masked, and saying what to do about it. Warnings a backend logs while
it is open (a torn tail cut from a file store's log, say) are printed on standard error.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from returns.result import Failure, Result

from bassline.cli.console import UserError, err
from bassline.cli.progress import Reporter
from bassline.errors import PluginNotFound
from bassline.plugins import PluginLoadError
from bassline.storage import (
    CreatesOnOpen,
    ErrorCode,
    MigratesSchema,
    NetworkStorage,
    OpensReadOnly,
    RepairsStore,
    StorageError,
    StorageOpenError,
    mask_url,
    open_storage,
)

__all__ = [
    "StorageFailed",
    "backend_function",
    "existing_only_storage",
    "migrator_for",
    "one_line",
    "open_unopened",
    "opened",
    "opened_with",
    "read_only_storage",
    "scrub",
    "storage_error",
    "storage_warnings",
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
    if password:  # elsewhere in the text, but never inside the masked URL: a password
        # "p" made it "***ostgresql://u:***@h/db"
        out = masked.join(part.replace(password, "***") for part in out.split(masked))
    return out


_ADVICE = re.compile(
    r"\b(check|create|fix|grant|install|lower|pass|raise|restore|retry|run|upgrade|use)\b",
    re.IGNORECASE,
)
"""Words that start advice: a message that already says what to do gets no generic hint."""


class StorageFailed(UserError):
    """A :class:`UserError` for a failed storage operation; ``error`` is the storage's."""

    def __init__(self, message: str, error: StorageError) -> None:
        super().__init__(message)
        self.error = error


def storage_error(url: str, doing: str, error: StorageError) -> StorageFailed:
    """A user error for a failed storage operation: what, where, why and what to do.

    The generic hint for the error's code is added only when the backend's message gives
    no advice of its own (PostgreSQL's say exactly what to check; a hint would repeat it).
    """
    hint = _HINTS.get(error.code)
    suffix = f"; {hint}" if hint and not _ADVICE.search(error.message) else ""
    message = f"{doing} in {mask_url(url)} failed: {error.code.value}: {error.message}{suffix}"
    return StorageFailed(one_line(scrub(message, url)), error)


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


def read_only_storage(storage: NetworkStorage) -> NetworkStorage:
    """``storage`` as it opens without changing anything on disk, for ``storage check``.

    A backend that declares :class:`~bassline.storage.OpensReadOnly` (the file backend:
    opening it cuts a torn tail and removes leftovers unless it is read-only) gives its
    read-only copy; other backends change nothing by opening.
    """
    return storage.read_only() if isinstance(storage, OpensReadOnly) else storage


def existing_only_storage(storage: NetworkStorage) -> NetworkStorage:
    """``storage`` as it opens only a store that is already there.

    A backend that declares :class:`~bassline.storage.CreatesOnOpen` (the file backend
    creates a missing directory by default) gives its copy that does not: a command that
    only reads must not, or a mistyped path becomes a new, empty store that reads as "no
    networks". An option the user gave explicitly is kept.
    """
    return storage.existing_only() if isinstance(storage, CreatesOnOpen) else storage


class _Warnings(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"warning: {record.getMessage()}", markup=False, highlight=False)


@contextmanager
def storage_warnings() -> Iterator[None]:
    """Print what storage backends log at WARNING or above (on the ``bassline.storage``
    loggers) on standard error while the body runs: a command's user sees it."""
    logger = logging.getLogger("bassline.storage")
    handler = _Warnings(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@asynccontextmanager
async def opened(
    url: str, *, existing: bool = False, read_only: bool = False, **options: Any
) -> AsyncIterator[NetworkStorage]:
    """Open the storage at ``url`` for the body of an ``async with``, or raise a UserError.

    With ``existing``, a store that is not there is an error rather than created (for
    commands that only read). With ``read_only``, opening changes nothing on disk either
    (see :func:`read_only_storage`). Warnings the backend logs meanwhile are printed.
    """
    storage = open_unopened(url, **options)
    if existing or read_only:
        storage = existing_only_storage(storage)
    if read_only:
        storage = read_only_storage(storage)
    with storage_warnings():
        try:
            await storage.__aenter__()
        except StorageOpenError as exc:
            # the backend's message says why nothing was created and what to do
            raise storage_error(url, "opening storage", exc.error) from None
        try:
            yield storage
        finally:
            await storage.__aexit__(None, None, None)


def _package(storage: NetworkStorage) -> str:
    return type(storage).__module__.partition(".")[0]


def backend_function(url: str, name: str) -> tuple[str, Callable[..., Any] | None]:
    """The backend package for ``url`` and, if its storage declares the ability, the
    maintenance function ``name``: ``migrate(url)`` and ``stamp(url, revision)``
    (:class:`~bassline.storage.MigratesSchema`) or ``repair(url, dry_run=False)``
    (:class:`~bassline.storage.RepairsStore`). The backend is found through its entry
    point, so the core never imports one by name.
    """
    storage = open_unopened(url)
    package = _package(storage)
    function: Callable[..., Any] | None = None
    if isinstance(storage, MigratesSchema):
        migrating = storage
        if name == "migrate":
            function = lambda _url: migrating.migrate_schema()  # noqa: E731
        elif name == "stamp":
            function = lambda _url, revision: migrating.stamp_schema(revision)  # noqa: E731
    if isinstance(storage, RepairsStore) and name == "repair":
        repairing = storage
        function = lambda _url, *, dry_run=False: repairing.repair_store(dry_run=dry_run)  # noqa: E731
    return package, function


@asynccontextmanager
async def opened_with(
    progress: Reporter,
    url: str,
    *,
    existing: bool = False,
    read_only: bool = False,
    **options: Any,
) -> AsyncIterator[NetworkStorage]:
    """:func:`opened`, showing the opening (connect, replay a log) as a phase of ``progress``."""
    async with contextlib.AsyncExitStack() as stack:
        with progress.phase(f"opening {mask_url(url)}"):
            storage = await stack.enter_async_context(
                opened(url, existing=existing, read_only=read_only, **options)
            )
        yield storage


def migrator_for(url: str) -> tuple[str, Callable[..., Any] | None]:
    """The backend package for ``url`` and its ``migrate(url)`` function, if its storage
    declares :class:`~bassline.storage.MigratesSchema` (``migrate(url) -> str``, the
    revision reached)."""
    return backend_function(url, "migrate")
