"""Admission of unauthenticated links: a bounded pool that strangers cannot monopolise.

Every inbound connection is *pending* from the moment it is accepted until it either turns
out to be a plain HTTP request or finishes the gossip handshake. Pending connections cost
memory (at most ``max_handshake_frame_bytes`` of message plus one read each) and nobody
has proved anything yet, so their number is capped — but a cap that refuses newcomers
lets a stranger who keeps the pool full lock every member out. So the pool never refuses:
a newcomer evicts the *oldest* pending connection from its own address when that address
holds ``per_address`` of them, otherwise the oldest of all when the pool holds ``total``.
A member's handshake takes a few round trips; to push it out, a flood would have to open
``per_address`` (same address) or ``total`` (any address) new connections within that
time, instead of merely holding idle ones.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict

import anyio

__all__ = ["PendingLink", "PendingLinks", "address_key"]


def address_key(host: str | None) -> str:
    """The unit a per-address cap counts: an IPv4 address, or an IPv6 /64 network.

    One IPv6 host is usually given a whole /64, so counting single IPv6 addresses
    would let one host take the whole pool.
    """
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class PendingLink:
    """One pending connection's place in the pool.

    Run each unauthenticated stage inside ``with link.stage():``; eviction cancels it
    (and any later stage) and sets :attr:`evicted`. :meth:`release` gives the place back
    (idempotent).
    """

    def __init__(self, pool: PendingLinks, key: str) -> None:
        self.pool = pool
        self.key = key
        self.opened = anyio.current_time()
        """When the connection was accepted."""
        self.evicted = False
        self.released = False
        self._scope: anyio.CancelScope | None = None

    def stage(self) -> anyio.CancelScope:
        """A cancel scope for the next stage; already cancelled if the link was evicted."""
        self._scope = anyio.CancelScope()
        if self.evicted:
            self._scope.cancel()
        return self._scope

    def release(self) -> None:
        """Leave the pool (the link was dispatched, authenticated or closed)."""
        if not self.released:
            self.released = True
            self.pool._remove(self)


class PendingLinks:
    """At most ``total`` pending connections, at most ``per_address`` from one address."""

    def __init__(self, total: int, per_address: int) -> None:
        if total < 1 or per_address < 1:
            raise ValueError("pending-connection caps must be at least 1")
        self.total = total
        self.per_address = per_address
        self._all: OrderedDict[PendingLink, None] = OrderedDict()
        self._by_key: dict[str, OrderedDict[PendingLink, None]] = {}
        self.evictions = 0
        """Pending connections dropped to make room for newer ones."""

    def __len__(self) -> int:
        return len(self._all)

    def from_address(self, host: str | None) -> int:
        """Pending connections counted against ``host``'s address."""
        return len(self._by_key.get(address_key(host), ()))

    def admit(self, host: str | None) -> PendingLink:
        """A place for a new connection from ``host``; evicts the oldest one if needed."""
        key = address_key(host)
        same = self._by_key.get(key)
        if same is not None and len(same) >= self.per_address:
            self._evict(next(iter(same)))
        elif len(self._all) >= self.total:
            self._evict(next(iter(self._all)))
        link = PendingLink(self, key)
        self._all[link] = None
        self._by_key.setdefault(key, OrderedDict())[link] = None
        return link

    def _evict(self, link: PendingLink) -> None:
        link.evicted = True
        link.release()
        if link._scope is not None:
            link._scope.cancel()
        self.evictions += 1

    def _remove(self, link: PendingLink) -> None:
        self._all.pop(link, None)
        same = self._by_key.get(link.key)
        if same is not None:
            same.pop(link, None)
            if not same:
                del self._by_key[link.key]
