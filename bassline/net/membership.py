"""Membership: which peers a node is linked to, and how links are opened and closed.

A :class:`Membership` checks every peer's hello, accepts the links peers dial, holds the
established :class:`~bassline.net.peer.PeerSession` s (one per peer node), remembers the
URLs peers advertise and picks some of them to dial; its
:class:`~bassline.net.dialer.Dialer` keeps dialling the URLs it is given (configured, or
learned). It is what the handshake and the sessions see of the node
(:class:`~bassline.net.host.HandshakeHost`, :class:`~bassline.net.host.SessionHost`); the
contents they exchange go to the replicator, reached only through
:class:`~bassline.net.host.Replication`.
"""

from __future__ import annotations

import logging
import ssl
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import anyio
import attrs
from anyio.abc import TaskGroup

from bassline.errors import PeerError
from bassline.net.admission import PendingLink, PendingLinks
from bassline.net.changelog import ChangeLog
from bassline.net.dialer import Dialer
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.handshake import Refusal, RefusedByPeer, handshake, send_refusal
from bassline.net.host import NodeIdentity, Replication
from bassline.net.peer import PeerSession
from bassline.net.protocol import (
    MAX_PEERS,
    PROTOCOL_VERSION,
    Hello,
    Message,
    ProtocolViolation,
    parse_message,
)
from bassline.net.settings import GossipSettings
from bassline.net.topology import LinkView, Row, Topology, encode_links, plan
from bassline.net.transport import ConnectionClosed, Transport
from bassline.net.urls import parse_node_url
from bassline.spec import Bassline

__all__ = ["LocalNode", "Membership", "PeerInfo"]

log = logging.getLogger("bassline.net")


class LocalNode(NodeIdentity, Protocol):
    """The node a membership serves: who it is, and how it dials (read at each use)."""

    @property
    def spec(self) -> Bassline:
        """The Bassline this node runs (named when a peer runs another)."""
        ...

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings for dialling ``wss://`` peers (None: the system's defaults)."""
        ...


@attrs.frozen
class PeerInfo:
    """One connected peer, as :meth:`BasslineNetwork.peers` reports it."""

    node: str
    url: str | None
    direction: str
    """``out`` (this node dialled) or ``in``."""
    groups: tuple[str, ...]
    connected_seconds: float
    last_seen_seconds: float
    frames_in: int
    frames_out: int
    queue_depth: int
    """Frames waiting to be sent to the peer."""
    behind: int
    """Changes of this node's log the peer has not confirmed yet (from its last digest)."""
    lagging: int
    """Changes of the peer's log this node has not applied yet (from its last digest)."""


class Membership:
    """The links of one node: dial targets, known peers, pending and live links."""

    def __init__(
        self,
        node: LocalNode,
        settings: GossipSettings,
        metrics: NetMetrics,
        replication: Replication,
    ) -> None:
        self.node = node
        self.settings = settings
        self.metrics = metrics
        self.replication = replication
        self.sessions: dict[str, PeerSession] = {}
        """The live links, by peer node id (one per node)."""
        self.dialer = Dialer(self, settings, metrics)
        """The URLs this node keeps dialling, each with its dial loop."""
        self.known: dict[str, str] = {}
        """The advertised URL of every node this one has heard of, by node id."""
        self._tg: TaskGroup | None = None
        self._closing = False
        self._nonces: OrderedDict[str, None] = OrderedDict()
        self._inbound: set[anyio.CancelScope] = set()
        self._inbound_done = anyio.Event()
        self._pending = PendingLinks(
            settings.max_pending_handshakes, settings.max_pending_per_address
        )
        self._sessions_changed = anyio.Event()
        self.topology = Topology(node.node_id)
        """Which node links to which (``links`` frames), for the pre-prunes."""

    # ---------------------------------------------------------------- the node's identity

    @property
    def node_id(self) -> str:
        """This node's id."""
        return self.node.node_id

    @property
    def spec_hash(self) -> str:
        """The hash of the Bassline this node runs."""
        return self.node.spec_hash

    @property
    def secret(self) -> bytes | None:
        """The cluster secret, or None."""
        return self.node.secret

    @property
    def advertise_url(self) -> str | None:
        """The URL peers are told to dial this node at, if any."""
        return self.node.advertise_url

    @property
    def groups(self) -> frozenset[str]:
        """The groups this node runs."""
        return self.node.groups

    @property
    def feed_identity(self) -> str | None:
        """The feed identity of the store this node's runtime follows, or None."""
        return self.node.feed_identity

    @property
    def log(self) -> ChangeLog:
        """This node's change log (its epoch goes in the hello)."""
        return self.replication.log

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings for dialling ``wss://`` peers."""
        return self.node.ssl_context

    # ---------------------------------------------------------------- lifecycle

    @property
    def closing(self) -> bool:
        """True once :meth:`close` has begun."""
        return self._closing

    def start(self, tg: TaskGroup) -> None:
        """Serve from now on: dial loops run in ``tg``, and inbound links are accepted."""
        self._tg = tg
        self.dialer.start(tg)

    async def close(self, reason: str) -> None:
        """Say goodbye to every peer, stop dialling, and wait for inbound links to end."""
        self._closing = True
        for session in list(self.sessions.values()):
            session.stop(reason)
        self.dialer.stop()
        await self.close_inbound(reason)

    async def close_inbound(self, reason: str) -> None:
        """Close every link a peer dialled (a goodbye is sent) and wait for them to end."""
        for session in list(self.sessions.values()):
            if not session.dialer:
                session.stop(reason)
        for scope in list(self._inbound):
            scope.cancel()
        with anyio.move_on_after(self.settings.shutdown_grace + 1):
            while self._inbound:
                await self._inbound_done.wait()

    # ---------------------------------------------------------------- hello checks

    def check_hello(self, hello: Hello) -> None:
        """Refuse a peer whose hello does not fit this node (raises Refusal)."""
        if hello.version != PROTOCOL_VERSION:
            raise Refusal(
                "version",
                f"peer {hello.node!r} speaks gossip protocol v{hello.version}; "
                f"this node speaks v{PROTOCOL_VERSION}",
            )
        if hello.node == self.node_id:
            raise Refusal(
                "self",
                f"peer claims node id {hello.node!r}, this node's own id "
                "(a link to itself, or two nodes started with the same --node-id)",
            )
        if hello.bassline != self.spec_hash:
            spec = self.node.spec
            raise Refusal(
                "bassline-hash",
                f"Bassline mismatch: peer {hello.node!r} runs hash {hello.bassline[:12]}, this "
                f"node runs {spec.id!r} v{spec.version} hash {spec.hash[:12]}; every node must "
                "load the same spec",
            )
        secret = self.secret
        if (hello.auth == "hmac-sha256") != bool(secret):
            mine = "requires a cluster secret" if secret else "has no cluster secret"
            theirs = "uses one" if hello.auth == "hmac-sha256" else "has none"
            raise Refusal(
                "auth-mode", f"this node {mine} but peer {hello.node!r} {theirs} (--secret-file)"
            )
        if hello.nonce in self._nonces:
            raise Refusal("replay", f"hello from {hello.node!r} reuses a nonce: a replayed hello")
        self._nonces[hello.nonce] = None
        if len(self._nonces) > 4096:
            self._nonces.popitem(last=False)

    def check_link(self, hello: Hello, *, dialer: bool, opened: float) -> None:
        """Refuse (``duplicate``) a link to a node this node already has a live link to.

        One live link per node id: a second one is refused whatever epoch it claims, so a
        node that holds the secret cannot take over another node's link by claiming its
        id. The only link that replaces a live one is the other half of a simultaneous
        dial: the same incarnation (epoch), the other direction, opened before the live
        link was established, and dialled by the node with the smaller id (both ends keep
        that one). A restarted peer is accepted once its old link has ended — closed, or
        silent for ``heartbeat_timeout``.
        """
        existing = self.sessions.get(hello.node)
        if existing is None:
            return
        kept = min(self.node_id, hello.node)
        dialer_of_new = self.node_id if dialer else hello.node
        if (
            existing.peer_epoch == hello.epoch
            and existing.dialer != dialer
            and opened < existing.connected_at
            and dialer_of_new == kept
        ):
            return  # the simultaneous dial's kept half: it replaces the other
        raise Refusal(
            "duplicate",
            f"already linked to node {hello.node!r} (one live link per node; "
            + (
                "a restarted node is accepted once its old link has closed or timed out)"
                if existing.peer_epoch != hello.epoch
                else f"of two links opened at once, the one dialled by {kept!r} is kept)"
            ),
        )

    # ---------------------------------------------------------------- live links

    def _register(self, session: PeerSession) -> None:
        hello = session.hello
        self.check_link(hello, dialer=session.dialer, opened=session.opened)
        existing = self.sessions.get(session.peer)
        if existing is not None:
            existing.stop("duplicate link")
        self.sessions[session.peer] = session
        session.owed_rows.update(self.topology.rows)  # the whole table, first thing
        self._links_changed()
        self.signal_sessions()

    def _unregister(self, session: PeerSession) -> None:
        if self.sessions.get(session.peer) is session:
            del self.sessions[session.peer]
            self._links_changed()
        self.signal_sessions()
        self._discover()

    # ---------------------------------------------------------------- link state

    def _links_changed(self) -> None:
        """The live links changed: this node's row (a new version) is due on every link,
        and the pre-prunes are planned again."""
        self.replication.quiet.linked(self.sessions.keys())
        if self.topology.set_links(self.sessions, MAX_PEERS):
            for session in self.sessions.values():
                session.owed_rows.add(self.node_id)
        self._replan()

    def learn_links(self, peer: str, rows: Iterable[Row]) -> None:
        """Take the rows ``peer`` sent that are newer than those held; they are due on
        every other link (this node's own row, bumped above a stale one, on all)."""
        changed = self.topology.merge(rows)
        if not changed:
            return
        for session in self.sessions.values():
            if session.peer != peer:
                session.owed_rows.update(changed)
            elif self.node_id in changed:
                session.owed_rows.add(self.node_id)
        self._replan()

    def links_frames(self, nodes: Iterable[str]) -> list[bytes]:
        """``links`` frames of the rows of ``nodes`` (those known), within the frame
        limit."""
        topology = self.topology
        rows = [topology.row(n) for n in sorted(nodes) if n in topology.rows]
        return encode_links(rows, self.settings.max_frame_bytes)

    def _replan(self) -> None:
        """Mark on each link the origins to pre-prune and to graft (``topology.plan``);
        the links' pushers send them."""
        if self.settings.link_state and self.settings.lazy_push:
            sessions = self.sessions
            topology, me = self.topology, self.node_id
            parents = topology.parents(sessions)
            views = {p: LinkView(s.pruned, s.prepruned, s.grafted) for p, s in sessions.items()}
            confirmed = {p for p in sessions if topology.lists(p, me)}
            quiet = self.replication.quiet
            for peer, (prunes, grafts) in plan(me, parents, views, confirmed).items():
                session = sessions[peer]
                session.owe(prunes, grafts)
                # pruned quietly on an earlier link to the peer, to come over this one now
                session.owed_rewinds.update(
                    origin
                    for origin in quiet.origins(peer)
                    if origin not in session.pruned and parents.get(origin, peer) == peer
                )
        self.replication.log.notify()  # wakes the pushers

    def signal_sessions(self) -> None:
        """Wake every task waiting in :meth:`sessions_changed`."""
        self._sessions_changed.set()
        self._sessions_changed = anyio.Event()

    async def sessions_changed(self) -> None:
        """Return at the next change of the live links (or of a dial target's state)."""
        await self._sessions_changed.wait()

    async def run_session(
        self, transport: Transport, hello: Hello, *, dialer: bool, opened: float
    ) -> None:
        """Register an authenticated link (refused if it duplicates a live one) and serve it
        until it ends."""
        session = PeerSession(
            self, self.replication, transport, hello, dialer=dialer, opened=opened
        )
        try:
            self._register(session)
        except Refusal as refusal:
            self.metrics.refused[refusal.code] += 1
            await send_refusal(transport, refusal.code, str(refusal), self.metrics)
            raise
        if hello.url:
            # only a string on the wire: a URL that does not parse would make every later
            # discovery pass raise (and end the dial loop that ran into it)
            try:
                self.known[hello.node] = parse_node_url(hello.url).ws
            except ValueError:
                self.metrics.items_rejected["bad-peer-url"] += 1
        self.metrics.connects += 1
        log.info(
            "link to %s (%s, %s) established",
            session.peer,
            "dialled" if dialer else "accepted",
            hello.url or transport.remote,
        )
        try:
            await session.run()
        finally:
            self._unregister(session)

    async def handle_gossip(self, peer_id: str, message: Message | Mapping[str, Any]) -> None:
        """Act on one message from a connected peer (validated first if it is raw data).

        Raises :class:`~bassline.net.protocol.ProtocolViolation` for a bad message and
        :class:`~bassline.errors.PeerError` when no link to ``peer_id`` is open.
        """
        session = self.sessions.get(peer_id)
        if session is None:
            raise PeerError(f"no link to peer {peer_id!r}")
        if isinstance(message, Mapping):
            message = parse_message(dict(message))
        await session.handle(message)

    def peers(self) -> list[PeerInfo]:
        """Every connected peer."""
        now = anyio.current_time()
        head = self.replication.log.head
        cursor = self.replication.cursor
        return [
            PeerInfo(
                node=s.peer,
                url=s.peer_url,
                direction="out" if s.dialer else "in",
                groups=s.peer_groups,
                connected_seconds=now - s.connected_at,
                last_seen_seconds=now - s.last_seen,
                frames_in=s.frames_in,
                frames_out=s.frames_out,
                queue_depth=s.queue_depth,
                behind=max(0, head - s.peer_has),
                lagging=max(0, s.peer_head - cursor(s.peer)[1]),
            )
            for s in sorted(self.sessions.values(), key=lambda s: s.peer)
        ]

    # ---------------------------------------------------------------- known peers

    def prunes(self, peer: str, origin: str) -> bool:
        """Whether this node asked ``peer`` (on its live link) to prune ``origin``."""
        session = self.sessions.get(peer)
        return session is not None and origin in session.pruned

    def known_peers(self) -> list[tuple[str, str]]:
        """(node, URL) of every node this one knows an address for (itself included)."""
        known = dict(self.known)
        advertised = self.advertise_url
        if advertised:
            known[self.node_id] = advertised
        return sorted(known.items())

    def learn_peers(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember nodes' advertised URLs; with discovery on, dial some of them."""
        for node, url in pairs:
            if node == self.node_id:
                continue
            try:
                self.known[node] = parse_node_url(url).ws
            except ValueError:
                self.metrics.items_rejected["bad-peer-url"] += 1
        self._discover()

    def _discover(self) -> None:
        if not self.settings.discover or self._closing or self._tg is None:
            return
        targets = self.dialer.targets
        want = self.settings.target_peers - len(self.sessions)
        targeted = {t.node for t in targets.values()} | set(targets)
        for node, url in sorted(self.known.items()):
            if want <= 0:
                break
            if node in self.sessions or node in targeted or url in targeted:
                continue
            self.dialer.add_target(url, learned=True).node = node
            want -= 1

    # ---------------------------------------------------------------- accepting

    def admit(self, address: str | None) -> PendingLink:
        """A place among this node's pending inbound connections (``admission.py``)."""
        return self._pending.admit(address)

    @property
    def pending_handshakes(self) -> int:
        """Inbound connections not yet past their handshake."""
        return len(self._pending)

    async def accept(self, transport: Transport, pending: PendingLink | None = None) -> None:
        """Serve one inbound link; ``pending`` is its place among pending connections."""
        if pending is None:
            pending = self._pending.admit(transport.address)
        try:
            await self._accept(transport, pending)
        finally:
            pending.release()

    async def _accept(self, transport: Transport, pending: PendingLink) -> None:
        if self._tg is None or self._closing:
            self.metrics.refused["not-ready"] += 1
            await send_refusal(
                transport, "not-ready", f"node {self.node_id!r} is not serving", self.metrics
            )
            return
        with anyio.CancelScope() as scope:
            self._inbound.add(scope)
            try:
                hello: Hello | None = None
                with pending.stage():
                    hello = await handshake(self, transport, dialer=False, opened=pending.opened)
                pending.release()
                if hello is None:  # evicted for a newer connection
                    self.metrics.refused["busy"] += 1
                    settings = self.settings
                    await send_refusal(
                        transport,
                        "busy",
                        f"node {self.node_id!r} dropped this unfinished handshake for a newer "
                        f"connection: it keeps at most {settings.max_pending_handshakes} "
                        f"({settings.max_pending_per_address} per address) and drops the "
                        "oldest; try again",
                        self.metrics,
                    )
                    return
                await self.run_session(transport, hello, dialer=False, opened=pending.opened)
            except (Refusal, RefusedByPeer, ProtocolViolation) as exc:
                log.warning("refused inbound link from %s: %s", transport.remote, exc)
            except ConnectionClosed:
                # dropped before the handshake finished: a port scan, or a client that
                # gave up (or, mounted in another ASGI server, a frame that server cut off)
                self.metrics.rejected["dropped-in-handshake"] += 1
            finally:
                self._inbound.discard(scope)
                if not self._inbound:
                    self._inbound_done.set()
                    self._inbound_done = anyio.Event()
