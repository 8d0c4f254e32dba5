"""``BasslineNetwork``: one node of a distributed Bassline, gossiping with its peers.

The node is the front door (decision D33): it loads the Bassline, starts the runtime,
and composes the parts that do the gossip — a
:class:`~bassline.net.replicator.Replicator` (change log, cursors, deltas, digest) and a
:class:`~bassline.net.membership.Membership` (hello checks, links, dialling) — passing
each what it needs. Its gossip methods hand the work to those parts.
"""

from __future__ import annotations

import logging
import os
import ssl
import uuid
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import anyio
import attrs
from returns.result import Failure

from bassline.clock import NODE_ID_RULE, Stamp, is_node_id
from bassline.content import ABSENT, Absent, Content
from bassline.engine.carried import Carried
from bassline.engine.explanation import Explanation
from bassline.engine.results import ContactState, PropagationResult
from bassline.engine.stream import ChangeStream
from bassline.errors import SpecError, SpecProblem
from bassline.net.admission import PendingLink
from bassline.net.auth import cluster_secret
from bassline.net.changelog import ChangeLog
from bassline.net.digest_keeper import DigestKeeper
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.group_roles import choose_groups, gadget_failures_text, group_owners, running_text
from bassline.net.host import LinkState
from bassline.net.listening import guarded, made_here
from bassline.net.membership import Membership, PeerInfo
from bassline.net.protocol import Delta, Hello, Message
from bassline.net.replicator import Replicator
from bassline.net.settings import GossipSettings
from bassline.net.transport import Transport
from bassline.net.urls import parse_node_url
from bassline.runtime import FollowsFeed, Runtime, RuntimeHealth, StorageBackedRuntime
from bassline.runtime.policy import positive_seconds
from bassline.spec import Bassline, Endpoint, load_spec
from bassline.storage import FeedsChanges, NetworkStorage, open_storage

__all__ = ["BasslineNetwork", "NetworkHealth", "PeerInfo"]

_D = TypeVar("_D")

log = logging.getLogger("bassline.net")


@attrs.frozen
class NetworkHealth:
    """``ok`` or ``degraded``, with every reason; plus the runtime's own health."""

    status: str
    reasons: tuple[str, ...]
    runtime: RuntimeHealth | None
    peers: int

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.status == "ok"


class BasslineNetwork:
    """A node: a :class:`~bassline.runtime.StorageBackedRuntime` plus WebSocket gossip.

    Every node loads the same Bassline and runs the gadgets of some of its groups; any
    node accepts writes to any contact; contents replicate to every node (directly or
    relayed) and converge by stamps and lattice joins. Use as::

        async with BasslineNetwork("n1", spec, groups=["adder"], secret=key) as net:
            async with NodeServer(net, "127.0.0.1", 0):       # accept peers, serve the API
                await net.connect_to_peer("ws://10.0.0.2:8455")
                await net.update_contact("a", 5)

    ``storage`` (open, not owned) or ``runtime`` (entered, not owned) may be injected;
    without either, an in-memory storage is used. On a storage that can decide group
    ownership (PostgreSQL), the gadget groups the endpoints assign to no node are run by
    one process at a time; ``claim_interval`` is how often a process waiting for one
    tries to take it (see ``docs/network.md``). ``secret`` is the shared cluster
    secret (at least 16 bytes); without one, only nodes without one can connect.
    """

    def __init__(
        self,
        node_id: str,
        bassline: Bassline | str | os.PathLike[str] | Mapping[str, Any] | None = None,
        groups: Iterable[str] | None = None,
        *,
        storage: NetworkStorage | None = None,
        runtime: Runtime | None = None,
        secret: bytes | str | None = None,
        settings: GossipSettings | None = None,
        peers: Iterable[str | Endpoint] = (),
        advertise_url: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        durability: str = "durable",
        replace_spec: bool = False,
        claim_interval: float = 1.0,
    ) -> None:
        if not is_node_id(node_id):  # peers refuse any other id in the hello
            raise ValueError(f"{NODE_ID_RULE}, not {node_id!r:.80}")
        self.node_id = node_id
        self.secret = cluster_secret(secret)
        if settings is not None and not isinstance(settings, GossipSettings):
            raise TypeError(
                f"settings must be a GossipSettings, not {settings!r:.80}: "
                "GossipSettings(lazy_push=..., ...)"
            )
        self.settings = settings or GossipSettings()
        for name, given, kind in (
            ("runtime", runtime, Runtime),
            ("storage", storage, NetworkStorage),
        ):
            if given is not None and not isinstance(given, kind):
                raise TypeError(f"{name} must be a {kind.__name__}, not {given!r:.80}")
        self.metrics = NetMetrics()
        self.log = ChangeLog()
        self.ssl_context = ssl_context
        self.durability = durability
        self.replace_spec = replace_spec
        self.claim_interval = positive_seconds("claim_interval", claim_interval)
        self.advertise_url: str | None = None
        if advertise_url is not None:
            self.advertise_url = parse_node_url(advertise_url).ws
        # the parts (D33): contents replicated, and the links they travel on
        self._replicator = Replicator(node_id, self.settings, self.metrics, self.log)
        self._membership = Membership(self, self.settings, self.metrics, self._replicator)
        self._bassline = bassline
        self._groups = groups if groups is None or isinstance(groups, str) else list(groups)
        self._storage = storage
        self._injected_runtime = runtime
        self.runtime: Runtime | None = None
        self.groups: frozenset[str] = frozenset()
        if isinstance(peers, str):  # not its characters
            raise TypeError(f"peers is a list of URLs, not the string {peers!r}")
        self._initial_peers = list(peers)
        self._stack = AsyncExitStack()
        self._closing = False
        self._keeper: DigestKeeper | None = None  # folds the digest ahead of status calls

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        try:
            if self._bassline is not None:
                await self.join_network(self._bassline, self._groups)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Say goodbye to every peer, stop dialling, flush and close what this node owns."""
        self._closing = True
        try:
            await self._membership.close("node shutting down")
        finally:
            await self._stack.__aexit__(exc_type, exc, tb)

    async def close_inbound(self, reason: str) -> None:
        """Close every link a peer dialled (a goodbye is sent) and wait for them to end."""
        await self._membership.close_inbound(reason)

    async def join_network(
        self,
        bassline: Bassline | str | os.PathLike[str] | Mapping[str, Any],
        groups: Iterable[str] | None = None,
    ) -> None:
        """Load the Bassline, start its runtime (recovering stored contents), and dial peers.

        ``groups`` are the groups whose gadgets this node runs (a group stands for every
        gadget group in it); by default the gadget groups the Bassline's endpoints assign
        to this node plus every gadget group they assign to no node. A group the endpoints
        assign to another node is never run here (:class:`~bassline.errors.SpecError`
        if ``groups`` names one).
        """
        if self._closing:
            raise RuntimeError("the node is closed")
        if self.runtime is not None:
            raise RuntimeError(f"node {self.node_id!r} already joined {self.runtime.spec.id!r}")
        spec = load_spec(bassline)
        run = choose_groups(spec, self.node_id, groups)
        runtime: Runtime
        if self._injected_runtime is not None:
            runtime = self._injected_runtime
            if runtime.spec.hash != spec.hash:
                raise SpecError(
                    [SpecProblem("$", "the injected runtime runs a different Bassline (hash)")]
                )
        else:
            storage = self._storage
            if storage is None:
                storage = open_storage(f"memory://bassline-net-{uuid.uuid4().hex}")
                await self._stack.enter_async_context(storage)
            own = StorageBackedRuntime(
                spec,
                storage,
                node_id=self.node_id,
                run_groups=run,
                claim_groups=[g for g in run if g not in spec.assignments],
                claim_interval=self.claim_interval,
                durability=self.durability,
                replace_spec=self.replace_spec,
            )
            await self._stack.enter_async_context(own)
            runtime = own
        self.runtime = runtime
        self.groups = frozenset(run)
        self._membership.start(await self._stack.enter_async_context(anyio.create_task_group()))
        self._keeper = DigestKeeper(self._replicator.attach(runtime))
        await self._stack.enter_async_context(self._keeper)
        log.info(
            "node %s joined %s v%s (hash %s), running %s; %d contents recovered",
            self.node_id,
            spec.id,
            spec.version,
            spec.hash[:12],
            ", ".join(sorted(run)) or "no gadget groups",
            runtime.recovered,
        )
        dialer = self._membership.dialer
        for group, endpoint in sorted(spec.endpoints.items()):
            if endpoint.node != self.node_id and endpoint.url:
                try:
                    dialer.add_target(endpoint.url, learned=False)
                except ValueError as exc:
                    log.error("endpoint of group %s: %s", group, exc)
        for peer in self._initial_peers:
            dialer.add_target(peer.url if isinstance(peer, Endpoint) else peer, learned=False)

    def _require(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError(f"node {self.node_id!r} has not joined a network yet")
        return self.runtime

    def _writer(self) -> Runtime:
        """The runtime, for a write: refused once the node is closing (it would not replicate)."""
        if self._closing:
            raise RuntimeError(f"node {self.node_id!r} is closed: it takes no more writes")
        return self._require()

    @property
    def spec(self) -> Bassline:
        """The Bassline this node runs."""
        return self._require().spec

    @property
    def spec_hash(self) -> str:
        """The hash peers must match."""
        return self._require().spec.hash

    @property
    def feed_identity(self) -> str | None:
        """The feed identity of the store the runtime follows (sent in the hello), or None."""
        runtime = self.runtime
        return runtime.feed_identity if isinstance(runtime, FollowsFeed) else None

    # ---------------------------------------------------------------- contents

    async def update_contact(
        self, contact_id: str, content: Content, *, via: str = "python"
    ) -> PropagationResult:
        """Write ``content`` (any node may write any contact); it replicates to every peer.

        ``via`` says how the write came in: ``"python"`` (this call), ``"http"`` (the
        node's HTTP API passes it), ``"cli"``, ...; :meth:`explain` reports it.
        """
        self._replicator.check_size(contact_id, content)
        with made_here():
            return await self._writer().update_contact(contact_id, content, via=via)

    async def update_many(
        self, items: Mapping[str, Content], *, via: str = "python"
    ) -> PropagationResult:
        """Write several contents in one run (``via`` as for :meth:`update_contact`);
        ``items`` maps contact ids to contents."""
        if not isinstance(items, Mapping):
            raise TypeError(f"items must be a mapping {{contact: content}}, got {items!r:.100}")
        for cid, content in items.items():
            self._replicator.check_size(cid, content)
        with made_here():
            return await self._writer().update_many(items, via=via)

    async def apply(
        self,
        items: Iterable[tuple[str, Content, Stamp] | tuple[str, Content, Stamp, Carried | None]],
    ) -> PropagationResult:
        """Apply stamped values written elsewhere (kept with their stamps) in one run; they
        replicate to every peer like any write. Each item is ``(contact, value, stamp)`` or
        ``(contact, value, stamp, carried)`` (the justification it came with, as
        :meth:`bassline.engine.Network.apply` takes it). All or nothing, as the runtime's."""
        batch = list(items)
        for item in batch:
            if isinstance(item, tuple | list) and len(item) > 1:  # the engine refuses the rest
                self._replicator.check_size(item[0], item[1])
        with made_here():
            return await self._writer().apply(batch)

    def explain(self, contact_id: str, depth: int | None = None) -> Explanation:
        """Why a contact holds its value on this node: the derivation back to the writes
        it rests on, ``depth`` contacts deep (None: no limit); see
        :meth:`bassline.engine.Network.explain`. ``to_json()`` gives what
        ``GET /api/contacts/{id}/explain`` answers."""
        return self._require().explain(contact_id, depth)

    @overload
    def value(self, contact_id: str) -> Content | Absent: ...
    @overload
    def value(self, contact_id: str, default: _D) -> Content | _D: ...
    def value(self, contact_id: str, default: object = ABSENT) -> object:
        """A contact's content (``default`` when it has none)."""
        return self._require().value(contact_id, default)

    def contact(self, contact_id: str) -> ContactState:
        """Value, stamp, contradiction and failure of one contact."""
        return self._require().contact(contact_id)

    def values(self) -> dict[str, Content]:
        """Every contact with content."""
        return self._require().values()

    def changes(self, max_buffer: int = 1024) -> ChangeStream:
        """A bounded async stream of every propagation result (local or from peers)."""
        return self._require().changes(max_buffer)

    def add_listener(self, listener: Callable[[PropagationResult], None]) -> Callable[[], None]:
        """Call ``listener(result)`` after every run that changed something (what it
        raises on a peer's contents is logged: :func:`~bassline.net.listening.guarded`)."""
        return self._require().add_listener(guarded(listener))

    def digest(self) -> str:
        """A hash of this node's contents, equal on two nodes exactly when they agree
        (:mod:`bassline.net.content_digest`; kept current by a
        :mod:`~bassline.net.digest_keeper`)."""
        return self._replicator.digest()

    # ---------------------------------------------------------------- peers

    async def connect_to_peer(
        self, endpoint: Endpoint | str, *, wait: bool = False, within: float = 10.0
    ) -> None:
        """Dial a peer and keep the link up (redialling with backoff when it drops).

        With ``wait=True``, return once the link is established (PeerError if it is not
        within ``within`` seconds, with the last reason). ``within`` must be a positive,
        finite number of seconds, whether it is used or not.
        """
        positive_seconds("within", within)
        self._require()
        url = endpoint.url if isinstance(endpoint, Endpoint) else endpoint
        await self._membership.dialer.connect_to_peer(url, wait=wait, within=within)

    def disconnect_peer(self, url_or_node: str) -> bool:
        """Stop dialling a URL (or every URL of a node) and close the link; True if found."""
        return self._membership.dialer.disconnect_peer(url_or_node)

    def peers(self) -> list[PeerInfo]:
        """Every connected peer."""
        return self._membership.peers()

    def known_peers(self) -> list[tuple[str, str]]:
        """(node, URL) of every node this one knows an address for (itself included)."""
        return self._membership.known_peers()

    def learn_peers(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember nodes' advertised URLs; with discovery on, dial some of them."""
        self._membership.learn_peers(pairs)

    def admit(self, address: str | None) -> PendingLink:
        """A place among this node's pending inbound connections (``admission.py``).

        :class:`~bassline.net.node_server.NodeServer` takes one as soon as it accepts a
        connection and hands it to :meth:`accept` if the connection asks for gossip.
        """
        return self._membership.admit(address)

    @property
    def pending_handshakes(self) -> int:
        """Inbound connections not yet past their handshake (at most
        ``settings.max_pending_handshakes``)."""
        return self._membership.pending_handshakes

    async def accept(self, transport: Transport, pending: PendingLink | None = None) -> None:
        """Serve one inbound link (the server's WebSocket endpoint calls this).

        ``pending`` is the link's place among pending connections (taken now if not
        given); while the handshake runs a newer connection may evict it (``busy``).
        """
        await self._membership.accept(transport, pending)

    def check_hello(self, hello: Hello) -> None:
        """Refuse a peer whose hello does not fit this node (raises Refusal)."""
        self._membership.check_hello(hello)

    def check_link(self, hello: Hello, *, dialer: bool, opened: float) -> None:
        """Refuse (``duplicate``) a link to a node this node already has a live link to;
        the rules (which link of a simultaneous dial wins, when a restarted peer is let
        in) are ``bassline.net.membership.Membership.check_link``'s."""
        self._membership.check_link(hello, dialer=dialer, opened=opened)

    # ---------------------------------------------------------------- gossip

    async def handle_gossip(self, peer_id: str, message: Message | Mapping[str, Any]) -> None:
        """Act on one message from a connected peer (validated first if it is raw data).

        Raises :class:`~bassline.net.protocol.ProtocolViolation` for a bad message and
        :class:`~bassline.errors.PeerError` when no link to ``peer_id`` is open.
        """
        await self._membership.handle_gossip(peer_id, message)

    def cursor(self, peer: str) -> tuple[str | None, int]:
        """How far this node has applied ``peer``'s change log: (epoch, seq)."""
        return self._replicator.cursor(peer)

    async def apply_delta(self, session: LinkState, delta: Delta) -> None:
        """Apply a peer's delta; advance the cursor on its log when nothing was missed."""
        await self._replicator.apply_delta(session, delta)

    def build_delta(self, session: LinkState) -> tuple[bytes | None, int, int]:
        """The next delta frame for ``session``: (frame or None, items, log position)."""
        return self._replicator.build_delta(session)

    # ---------------------------------------------------------------- observing

    def health(self) -> NetworkHealth:
        """``degraded`` when storage is, when current contents are too large to gossip, or
        when no configured peer is reachable."""
        reasons: list[str] = []
        runtime_health = self.runtime.health() if self.runtime is not None else None
        if runtime_health is None:
            reasons.append("not joined to a network")
        elif not runtime_health.ok:
            reasons.extend(f"storage: {r}" for r in runtime_health.reasons)
        oversized = self._replicator.oversized
        if oversized:
            reasons.append(f"{oversized} contents too large to gossip")
        sessions = self._membership.sessions
        configured = [t for t in self._membership.dialer.targets.values() if not t.learned]
        if configured and not sessions:
            reasons.append(f"none of {len(configured)} configured peers is connected")
        return NetworkHealth(
            status="degraded" if reasons else "ok",
            reasons=tuple(reasons),
            runtime=runtime_health,
            peers=len(sessions),
        )

    def status(self) -> dict[str, Any]:
        """Everything ``bassline status`` shows, as plain data."""
        health = self.health()
        runtime = self._require()
        pool = runtime.pool_stats()
        return {
            "node": self.node_id,
            "bassline": {
                "id": runtime.spec.id,
                "version": runtime.spec.version,
                "hash": self.spec_hash,
            },
            "groups": sorted(runtime.run_groups),
            "owners": self.owners(),
            "url": self.advertise_url,
            "digest": self.digest(),
            "contacts": {
                "total": len(runtime.spec.contacts),
                "with_content": self._replicator.with_content,
            },
            "log": {"epoch": self.log.epoch, "head": self.log.head},
            "health": {"status": health.status, "reasons": list(health.reasons)},
            "storage": {
                "status": health.runtime.status if health.runtime else "unknown",
                "breaker": health.runtime.breaker if health.runtime else "unknown",
                "queue_depth": runtime.queue_depth,
                "recovered": runtime.recovered,
                "pool": None if pool is None else attrs.asdict(pool),
            },
            "peers": [attrs.asdict(p) for p in self.peers()],
            "targets": sorted(
                (
                    {"url": t.url.ws, "node": t.node, "learned": t.learned, "error": t.last_error}
                    for t in self._membership.dialer.targets.values()
                ),
                key=lambda t: str(t["url"]),
            ),
            "gossip": self.metrics.snapshot(),
            "gadget_failures": dict(runtime.failure_counts),
        }

    def owners(self) -> dict[str, dict[str, str | None]]:
        """Who runs each gadget group, as this node knows it: ``{"owner": node id or
        None, "by": how}``. ``by`` is ``"endpoints"`` (the Bassline assigns it),
        ``"database"`` (processes sharing this node's database take turns; ``owner`` is
        the holder at the last claim round, None when nobody holds it) or ``"local"``
        (unassigned and not shared: ``owner`` is this node if it runs it, else None)."""
        runtime = self._require()
        return group_owners(runtime.spec, self.node_id, runtime.group_owners(), runtime.run_groups)

    async def processes(self) -> list[dict[str, Any]] | None:
        """The processes following this network's change feed on its storage (this one
        included), as ``{"node", "since"}`` (oldest first); None when the storage has no
        feed, the runtime was injected, or the read failed."""
        storage, runtime = self._storage, self.runtime
        if runtime is None or self._injected_runtime is not None:
            return None
        if not isinstance(storage, FeedsChanges):
            return None
        found = await storage.watchers(runtime.spec.id)
        if isinstance(found, Failure):
            return None
        return [{"node": w.member, "since": w.since.isoformat()} for w in found.unwrap()]

    def prometheus(self) -> str:
        """Gossip metrics plus the runtime's, in Prometheus text format."""
        sessions = self._membership.sessions
        gauges = {
            "peers_connected": ("Peers with an open link.", float(len(sessions))),
            "peers_known": ("Nodes with a known address.", float(len(self._membership.known))),
            "dial_targets": (
                "URLs this node keeps dialling.",
                float(len(self._membership.dialer.targets)),
            ),
            "log_head": ("Sequence number of this node's latest change.", float(self.log.head)),
            "log_contacts": ("Contacts in the change log.", float(len(self.log))),
            "send_queue_frames": (
                "Frames queued for all peers.",
                float(sum(s.queue_depth for s in sessions.values())),
            ),
        }
        text = self.metrics.prometheus(gauges)
        if self.runtime is not None:
            text += self.runtime.prometheus()
            text += gadget_failures_text(self.runtime.failure_counts)
            text += running_text(self.runtime.spec, self.runtime.run_groups)
        return text
