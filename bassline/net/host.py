"""What a gossip link needs from the node it serves, as small :class:`~typing.Protocol` s.

The handshake (:mod:`bassline.net.handshake`) and the peer session
(:mod:`bassline.net.peer`) are typed against :class:`GossipHost`, not against
:class:`~bassline.net.node.BasslineNetwork`, so they do not import the node that imports
them; the node's delta methods are typed against :class:`LinkState`, the part of a
session they read and write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.protocol import Delta, Hello, Message
from bassline.net.settings import GossipSettings

__all__ = ["GossipHost", "LinkState"]


class LinkState(Protocol):
    """The part of one peer link that the node's delta methods use."""

    rewind: bool
    """Set when a delta could not be applied in full: the peer is asked to resend."""

    @property
    def peer(self) -> str:
        """The peer's node id."""
        ...

    @property
    def peer_epoch(self) -> str:
        """The epoch (incarnation) the peer announced in its hello."""
        ...

    @property
    def scan(self) -> int:
        """How far this node's change log has been scanned for the peer."""
        ...

    @property
    def announced(self) -> int:
        """How far the peer has applied this node's change log, as last announced."""
        ...


class GossipHost(Protocol):
    """The node as its handshakes and peer sessions see it."""

    @property
    def node_id(self) -> str:
        """This node's id."""
        ...

    @property
    def spec_hash(self) -> str:
        """The hash of the Bassline this node runs; peers must match it."""
        ...

    @property
    def secret(self) -> bytes | None:
        """The cluster secret, or None when links are not authenticated."""
        ...

    @property
    def advertise_url(self) -> str | None:
        """The URL peers are told to dial this node at, if any."""
        ...

    @property
    def groups(self) -> frozenset[str]:
        """The groups this node runs."""
        ...

    @property
    def settings(self) -> GossipSettings:
        """Timeouts, limits and intervals of the gossip protocol."""
        ...

    @property
    def metrics(self) -> NetMetrics:
        """Counters the links add to."""
        ...

    @property
    def log(self) -> ChangeLog:
        """This node's change log."""
        ...

    def check_hello(self, hello: Hello) -> None:
        """Refuse a peer whose hello does not fit this node (raises ``Refusal``)."""
        ...

    def check_link(self, hello: Hello, *, dialer: bool, opened: float) -> None:
        """Refuse a second live link to the same node (raises ``Refusal``)."""
        ...

    def cursor(self, peer: str) -> tuple[str | None, int]:
        """How far this node has applied ``peer``'s change log: (epoch, seq)."""
        ...

    def known_peers(self) -> list[tuple[str, str]]:
        """The (node id, URL) pairs this node knows."""
        ...

    def learn_peers(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember peers another node told this one about."""
        ...

    def build_delta(self, session: LinkState) -> tuple[bytes | None, int, int]:
        """The next delta frame for ``session``: (frame or None, items, log position)."""
        ...

    async def apply_delta(self, session: LinkState, delta: Delta) -> None:
        """Apply a peer's delta."""
        ...

    async def handle_gossip(self, peer_id: str, message: Message) -> None:
        """Act on one message from a connected peer."""
        ...
