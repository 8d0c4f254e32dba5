"""What the parts of a node need from each other, as small :class:`~typing.Protocol` s.

A node is composed of parts (decision D33): the replicator
(:mod:`bassline.net.replicator`) owns the change log, the cursors and the deltas; the
membership (:mod:`bassline.net.membership`) owns the links, the dialling and the hello
checks; :class:`~bassline.net.node.BasslineNetwork` is the front door that builds and
runs them. The handshake (:mod:`bassline.net.handshake`) and the peer session
(:mod:`bassline.net.peer`) are typed against the protocols here, never against those
classes, so they import none of them; the replicator reads only the :class:`LinkState`
of a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from bassline.clock import Stamp
from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.protocol import Delta, Hello, Message
from bassline.net.quiet_prunes import QuietPrunes
from bassline.net.settings import GossipSettings

__all__ = ["HandshakeHost", "LinkState", "NodeIdentity", "Replication", "SessionHost"]


class LinkState(Protocol):
    """The part of one peer link that the replicator reads and writes."""

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

    @property
    def peer_store(self) -> str | None:
        """The feed identity the peer announced in its hello (None: it follows none)."""
        ...

    @property
    def lazy(self) -> set[str]:
        """Origins the peer pruned: their changes are announced to it, not sent."""
        ...

    @property
    def quiet(self) -> set[str]:
        """Of those, the ones it pruned quietly: their changes are not even announced."""
        ...

    def want(self, contact: str, stamp: Stamp) -> None:
        """The peer announced ``contact``'s change ``stamp``, which this node lacks: ask
        the peer for it unless it comes over another link soon."""
        ...


class Replication(Protocol):
    """This node's replicated contents, as a peer session sends and receives them."""

    @property
    def log(self) -> ChangeLog:
        """This node's change log."""
        ...

    @property
    def quiet(self) -> QuietPrunes:
        """The origins this node pruned quietly on each peer's link, and where from."""
        ...

    def cursor(self, peer: str) -> tuple[str | None, int]:
        """How far this node has applied ``peer``'s change log: (epoch, seq)."""
        ...

    def build_delta(self, session: LinkState) -> tuple[bytes | None, int, int]:
        """The next delta frame for ``session``: (frame or None, items, log position)."""
        ...

    def build_reply(self, session: LinkState, contacts: list[str]) -> tuple[bytes | None, int, int]:
        """A delta of ``contacts``' contents (a graft's answer): (frame, items, covered)."""
        ...

    async def apply_delta(self, session: LinkState, delta: Delta) -> dict[str, set[str]]:
        """Apply a peer's delta; the origins of the contents it sent that were held, each
        with the peers that had sent them before."""
        ...

    def holds(self, contact: str, stamp: Stamp) -> bool:
        """Whether this node holds ``contact``'s change ``stamp``, or a newer one."""
        ...

    def arrived(self, origin: str) -> float:
        """When a peer last sent a content of ``origin`` this node did not hold."""
        ...


class NodeIdentity(Protocol):
    """Who this node is, as its hello announces it."""

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
    def feed_identity(self) -> str | None:
        """The feed identity of the store this node's runtime follows, or None."""
        ...


class HandshakeHost(NodeIdentity, Protocol):
    """The node as the handshake that opens a link sees it."""

    @property
    def settings(self) -> GossipSettings:
        """Timeouts and frame limits of the gossip protocol."""
        ...

    @property
    def metrics(self) -> NetMetrics:
        """Counters the handshake adds to."""
        ...

    @property
    def log(self) -> ChangeLog:
        """This node's change log (its epoch goes in the hello)."""
        ...

    def check_hello(self, hello: Hello) -> None:
        """Refuse a peer whose hello does not fit this node (raises ``Refusal``)."""
        ...

    def check_link(self, hello: Hello, *, dialer: bool, opened: float) -> None:
        """Refuse a second live link to the same node (raises ``Refusal``)."""
        ...


class SessionHost(Protocol):
    """The node's membership as an established peer session sees it."""

    @property
    def settings(self) -> GossipSettings:
        """Timeouts, limits and intervals of the gossip protocol."""
        ...

    @property
    def metrics(self) -> NetMetrics:
        """Counters the session adds to."""
        ...

    def known_peers(self) -> list[tuple[str, str]]:
        """The (node id, URL) pairs this node knows."""
        ...

    def learn_peers(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember peers another node told this one about."""
        ...

    def prunes(self, peer: str, origin: str) -> bool:
        """Whether this node asked ``peer`` (on its live link) to prune ``origin``."""
        ...

    def learn_links(self, peer: str, rows: Iterable[tuple[str, int, tuple[str, ...]]]) -> None:
        """Take the link-state rows ``peer`` sent that are newer than those held."""
        ...

    def links_frames(self, nodes: Iterable[str]) -> list[bytes]:
        """``links`` frames of the link-state rows of ``nodes`` (those known)."""
        ...

    async def handle_gossip(self, peer_id: str, message: Message) -> None:
        """Act on one message from a connected peer."""
        ...
