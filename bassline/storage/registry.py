"""Finding a backend by URL scheme: ``open_storage(url)``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bassline.errors import PluginNotFound
from bassline.plugins import Registry
from bassline.storage.protocol import NetworkStorage

__all__ = [
    "StorageFactory",
    "available_schemes",
    "backends",
    "mask_url",
    "open_storage",
    "register",
]

StorageFactory = Callable[..., NetworkStorage]
"""``factory(url, **options) -> NetworkStorage`` (not yet opened)."""


def _check(obj: object) -> StorageFactory:
    if not callable(obj):
        raise TypeError(f"storage entry point must be a factory callable, got {obj!r}")
    return obj  # type: ignore[return-value,unused-ignore]


backends: Registry[StorageFactory] = Registry("storage scheme", "bassline.storage", _check)
"""Storage factories by URL scheme: entry points in ``bassline.storage`` plus :func:`register`."""


def register(scheme: str, factory: StorageFactory, *, replace: bool = False) -> None:
    """Make ``factory`` open URLs with ``scheme`` in this process (tests, embedded backends)."""
    backends.register(scheme.lower(), factory, replace=replace)


def available_schemes() -> list[str]:
    """Every scheme a backend is installed or registered for."""
    return backends.names()


_CREDENTIALS = re.compile(r"(//[^/?#@:]*:).*@", re.DOTALL)
"""``//user:`` up to the last ``@``: all a password can be in a URL that does not parse."""


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs). A URL that
    does not parse is shown with everything from ``//user:`` to its last ``@`` masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _CREDENTIALS.sub(r"\1***@", url, count=1)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def open_storage(url: str, **options: Any) -> NetworkStorage:
    """A storage for ``url``, chosen by its scheme; use it with ``async with``.

    ``memory://``, ``file:///path/to/dir`` and ``postgresql://user@host/db`` come with the
    ``bassline-storage-*`` packages. Raises :class:`ValueError` for a malformed URL and
    :class:`~bassline.errors.PluginNotFound` (listing installed schemes) for an unknown one.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(
            f"malformed storage URL {url!r}: expected scheme://..., e.g. memory:// or "
            "file:///var/lib/bassline"
        )
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise ValueError(f"malformed storage URL {mask_url(url)!r}: {exc}") from None
    if not scheme:
        raise ValueError(f"malformed storage URL {mask_url(url)!r}: no scheme")
    try:
        factory = backends.get(scheme)
    except PluginNotFound as exc:
        hint = f"; did you mean {exc.suggestion}://?" if exc.suggestion else ""
        raise PluginNotFound("storage scheme", scheme, exc.available, exc.suggestion) from (
            ValueError(f"no backend for {scheme}://{hint}")
        )
    return factory(url, **options)
