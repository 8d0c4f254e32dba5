"""Reading ``memory://`` URLs: a private store, or a store shared by name within the process."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from bassline.clock import MAX_NODE_ID, is_node_id

__all__ = ["parse_memory_url"]

_EXAMPLES = "expected memory:// (a private store) or memory://NAME (a store shared by name)"
_STAMPS = "memory:"
"""What the store's own stamps are made by: ``memory:NAME``, a node id."""


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
    if name and not is_node_id(_STAMPS + name):  # was a ValueError about a node_id
        most = MAX_NODE_ID - len(_STAMPS)
        found = f"{len(name)} characters" if len(name) > most else "a control character"
        raise ValueError(
            f"memory storage URL {url[:80]!r}: a store name is 1 to {most} characters without "
            f"control characters (the store stamps writes as {_STAMPS}NAME, a node id); this "
            f"one has {found}"
        )
    return name or None
