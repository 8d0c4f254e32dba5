"""Logging a problem once, with a bounded memory of what was already logged."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["LogOnce"]


class LogOnce:
    """Remembers the last ``limit`` keys it was asked about, so each is logged once.

    A key seen again while remembered is not logged again; once ``limit`` newer keys have
    been seen it is forgotten (and logged again if it comes back). The memory is bounded
    whatever a peer sends: keys that name a peer or a URL cannot grow it for ever.
    """

    def __init__(self, limit: int = 1024) -> None:
        if limit < 1:
            raise ValueError("LogOnce needs a limit of at least 1")
        self.limit = limit
        self._seen: OrderedDict[Hashable, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def first(self, key: Hashable) -> bool:
        """True when ``key`` is not remembered (it is remembered from now on)."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self.limit:
            self._seen.popitem(last=False)
        return True
