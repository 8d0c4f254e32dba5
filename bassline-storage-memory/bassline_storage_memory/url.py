"""Reading ``memory://`` URLs: a private store, or a store shared by name within the process."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

__all__ = ["parse_memory_url"]

_EXAMPLES = "expected memory:// (a private store) or memory://NAME (a store shared by name)"


def parse_memory_url(url: str) -> str | None:
    """The store name in ``url`` (None for a private store); ValueError saying what is wrong."""
    if not isinstance(url, str):
        raise ValueError(f"memory storage URL must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"malformed memory storage URL {url!r}: {exc}; {_EXAMPLES}") from None
    if parts.scheme.lower() != "memory" or not url[len(parts.scheme) :].startswith("://"):
        raise ValueError(f"not a memory storage URL: {url!r}; {_EXAMPLES}")
    extras = [
        label
        for label, value in (
            ("a path", parts.path),
            ("a query", parts.query),
            ("a fragment", parts.fragment),
        )
        if value
    ]
    if "@" in parts.netloc:
        extras.append("a user name")
    if ":" in parts.netloc.rpartition("@")[2]:
        extras.append("a port")
    if extras:
        raise ValueError(
            f"memory storage URL {url!r} has {' and '.join(extras)}, which memory:// does not "
            f"take; {_EXAMPLES}"
        )
    name = unquote(parts.netloc)
    return name or None
