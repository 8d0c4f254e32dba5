"""``BasslineNetwork``: one node of a distributed Bassline, gossiping with its peers."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import ssl
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self

import anyio
import attrs
from anyio.abc import TaskGroup

from bassline.clock import Stamp
from bassline.codec import encode, to_json
from bassline.content import ABSENT, values_equal
from bassline.engine import ChangeStream, ContactState, PropagationResult
from bassline.errors import ContentError, PeerError, PersistenceError, SpecError, SpecProblem
from bassline.net.admission import PendingLink, PendingLinks
from bassline.net.changelog import ChangeLog
from bassline.net.gossip_metrics import NetMetrics, label_value
from bassline.net.handshake import Refusal, RefusedByPeer, handshake, send_refusal
from bassline.net.host import LinkState
from bassline.net.peer import PeerSession
from bassline.net.protocol import (
    PROTOCOL_VERSION,
    Delta,
    Hello,
    Message,
    ProtocolViolation,
    dump,
    encode_delta,
    parse_message,
)
from bassline.net.settings import GossipSettings
from bassline.net.transport import ConnectionClosed, DialError, Transport, dial
from bassline.net.urls import NodeURL, parse_node_url
from bassline.runtime import RuntimeHealth, StorageBackedRuntime
from bassline.spec import Bassline, BlendMode, Endpoint, load_spec
from bassline.storage import NetworkStorage, open_storage

__all__ = ["BasslineNetwork", "NetworkHealth", "PeerInfo"]

log = logging.getLogger("bassline.net")

_SOURCE: ContextVar[tuple[tuple[str, str], dict[str, tuple[Any, Stamp]]] | None] = ContextVar(
    "bassline_gossip_source", default=None
)
"""While a peer's delta is applied: ((peer, its epoch), what it sent), so the log does not
echo it back to that incarnation of the peer (a restarted peer may have lost it)."""


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


@attrs.define
class _Target:
    url: NodeURL
    learned: bool
    node: str | None = None
    failures: int = 0
    last_error: str = ""
    refused: str = ""
    """Why the last attempt was refused (wrong secret, Bassline, ...), if it was."""
    scope: anyio.CancelScope | None = None


def _as_secret(secret: bytes | str | None) -> bytes | None:
    if secret is None:
        return None
    data = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(data) < 16:
        raise ValueError("the cluster secret must be at least 16 bytes")
    return data


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
    without either, an in-memory storage is used. ``secret`` is the shared cluster
    secret (at least 16 bytes); without one, only nodes without one can connect.
    """

    def __init__(
        self,
        node_id: str,
        bassline: Bassline | str | os.PathLike[str] | Mapping[str, Any] | None = None,
        groups: Iterable[str] | None = None,
        *,
        storage: NetworkStorage | None = None,
        runtime: StorageBackedRuntime | None = None,
        secret: bytes | str | None = None,
        settings: GossipSettings | None = None,
        peers: Iterable[str | Endpoint] = (),
        advertise_url: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        durability: str = "durable",
        replace_spec: bool = False,
    ) -> None:
        if not isinstance(node_id, str) or not node_id or len(node_id) > 200:
            raise ValueError("node_id must be a non-empty string of at most 200 characters")
        self.node_id = node_id
        self.secret = _as_secret(secret)
        self.settings = settings or GossipSettings()
        self.metrics = NetMetrics()
        self.log = ChangeLog()
        self.ssl_context = ssl_context
        self.durability = durability
        self.replace_spec = replace_spec
        self.advertise_url: str | None = None
        if advertise_url is not None:
            self.advertise_url = parse_node_url(advertise_url).ws
        self._bassline = bassline
        self._groups = None if groups is None else list(groups)
        self._storage = storage
        self._injected_runtime = runtime
        self.runtime: StorageBackedRuntime | None = None
        self.groups: frozenset[str] = frozenset()
        self._initial_peers = list(peers)
        self._stack = AsyncExitStack()
        self._tg: TaskGroup | None = None
        self._closing = False
        self._sessions: dict[str, PeerSession] = {}
        self._targets: dict[str, _Target] = {}
        self._known: dict[str, str] = {}
        self._cursors: dict[str, tuple[str, int]] = {}
        self._nonces: OrderedDict[str, None] = OrderedDict()
        self._inbound: set[anyio.CancelScope] = set()
        self._pending = PendingLinks(
            self.settings.max_pending_handshakes, self.settings.max_pending_per_address
        )
        self._inbound_done = anyio.Event()
        self._sessions_changed = anyio.Event()
        self._warned: set[tuple[str, str]] = set()
        self._json_cache: dict[str, tuple[Any, Stamp, Any]] = {}
        """Per contact: (value, stamp, its JSON form), so each change is encoded once."""
        self._oversized: set[str] = set()
        """Contacts whose current content is too large to gossip (until it changes)."""

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
        for session in list(self._sessions.values()):
            session.stop("node shutting down")
        for target in list(self._targets.values()):
            if target.scope is not None:
                target.scope.cancel()
        try:
            await self.close_inbound("node shutting down")
        finally:
            await self._stack.__aexit__(exc_type, exc, tb)

    async def close_inbound(self, reason: str) -> None:
        """Close every link a peer dialled (a goodbye is sent) and wait for them to end."""
        for session in list(self._sessions.values()):
            if not session.dialer:
                session.stop(reason)
        for scope in list(self._inbound):
            scope.cancel()
        with anyio.move_on_after(self.settings.shutdown_grace + 1):
            while self._inbound:
                await self._inbound_done.wait()

    async def join_network(
        self,
        bassline: Bassline | str | os.PathLike[str] | Mapping[str, Any],
        groups: Iterable[str] | None = None,
    ) -> None:
        """Load the Bassline, start its runtime (recovering stored contents), and dial peers.

        ``groups`` are the gadget groups this node runs; by default the groups the
        Bassline's endpoints assign to this node, or every gadget group when none are.
        """
        if self._closing:
            raise RuntimeError("the node is closed")
        if self.runtime is not None:
            raise RuntimeError(f"node {self.node_id!r} already joined {self.runtime.spec.id!r}")
        spec = load_spec(bassline)
        run = self._choose_groups(spec, groups)
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
            runtime = StorageBackedRuntime(
                spec,
                storage,
                node_id=self.node_id,
                run_groups=run,
                durability=self.durability,
                replace_spec=self.replace_spec,
            )
            await self._stack.enter_async_context(runtime)
        self.runtime = runtime
        self.groups = frozenset(run)
        self._tg = await self._stack.enter_async_context(anyio.create_task_group())
        self.log.record_many(cid for cid, _, _ in runtime.network.state())
        runtime.network.add_listener(self._on_result)
        log.info(
            "node %s joined %s v%s (hash %s), running %s; %d contents recovered",
            self.node_id,
            spec.id,
            spec.version,
            spec.hash[:12],
            ", ".join(sorted(run)) or "no gadget groups",
            runtime.recovered,
        )
        for group, endpoint in sorted(spec.endpoints.items()):
            if endpoint.node != self.node_id and endpoint.url:
                try:
                    self._add_target(endpoint.url, learned=False)
                except ValueError as exc:
                    log.error("endpoint of group %s: %s", group, exc)
        for peer in self._initial_peers:
            self._add_target(peer.url if isinstance(peer, Endpoint) else peer, learned=False)

    def _choose_groups(self, spec: Bassline, groups: Iterable[str] | None) -> list[str]:
        if groups is None:
            mine = [g for g, e in spec.endpoints.items() if e.node == self.node_id]
            return mine or [g.id for g in spec.groups if g.gadget]
        chosen = list(groups)
        unknown = [g for g in chosen if g not in spec.group_by_id]
        if unknown:
            raise SpecError(
                [
                    SpecProblem("groups", f"unknown group {g!r} in Bassline {spec.id!r}")
                    for g in unknown
                ]
            )
        return chosen

    def _require(self) -> StorageBackedRuntime:
        if self.runtime is None:
            raise RuntimeError(f"node {self.node_id!r} has not joined a network yet")
        return self.runtime

    @property
    def spec(self) -> Bassline:
        """The Bassline this node runs."""
        return self._require().spec

    @property
    def spec_hash(self) -> str:
        """The hash peers must match."""
        return self._require().spec.hash

    # ---------------------------------------------------------------- contents

    async def update_contact(self, contact_id: str, content: Any) -> PropagationResult:
        """Write ``content`` (any node may write any contact); it replicates to every peer."""
        self._check_size(contact_id, content)
        return await self._require().update_contact(contact_id, content)

    async def update_many(self, items: Mapping[str, Any]) -> PropagationResult:
        """Write several contents in one run."""
        for cid, content in items.items():
            self._check_size(cid, content)
        return await self._require().update_many(items)

    def _check_size(self, contact_id: str, content: Any) -> None:
        limit = self.settings.max_frame_bytes - 4096
        t = type(content)
        if t is int or t is float or t is bool or content is None:
            return
        if t is str and len(content) * 6 < limit:  # even fully escaped it fits
            return
        size = len(encode(content))
        if size > limit:
            raise ContentError(
                f"content is {size} bytes; the gossip limit is {limit} (max_frame_bytes - 4096)",
                contact_id,
            )

    def value(self, contact_id: str, default: Any = ABSENT) -> Any:
        """A contact's content (``default`` when it has none)."""
        return self._require().value(contact_id, default)

    def contact(self, contact_id: str) -> ContactState:
        """Value, stamp, contradiction and failure of one contact."""
        return self._require().network.contact(contact_id)

    def values(self) -> dict[str, Any]:
        """Every contact with content."""
        return self._require().network.values()

    def changes(self, max_buffer: int = 1024) -> ChangeStream:
        """A bounded async stream of every propagation result (local or from peers)."""
        return self._require().network.changes(max_buffer)

    def add_listener(self, listener: Callable[[PropagationResult], None]) -> Callable[[], None]:
        """Call ``listener(result)`` after every run that changed something."""
        return self._require().network.add_listener(listener)

    def digest(self) -> str:
        """A hash of this node's contents: equal on two nodes exactly when they agree.

        Accept-last contacts contribute value and stamp; merge contacts their value only
        (a join that adds nothing new keeps a replica's own stamp, so stamps of equal
        lattice values may differ between replicas).
        """
        runtime = self._require()
        spec = runtime.spec
        h = hashlib.sha256()
        for cid, value, stamp in sorted(runtime.network.state(), key=lambda x: x[0]):
            if spec.contact(cid).blend is BlendMode.MERGE:
                h.update(encode([cid, value]))
            else:
                h.update(encode([cid, value, stamp.to_json()]))
            h.update(b"\n")
        return h.hexdigest()

    def _on_result(self, result: PropagationResult) -> None:
        ids, values, stamps = result.touched
        if not ids:
            return
        if self._oversized:
            self._oversized.difference_update(ids)  # a new content: checked when next sent
        source = _SOURCE.get()
        record = self.log.record
        if source is None:
            for cid in ids:
                record(cid)
        else:
            holder, sent = source  # (peer, its epoch)
            for cid, value, stamp in zip(ids, values, stamps, strict=True):
                got = sent.get(cid)
                same = (
                    got is not None
                    and got[1] == stamp
                    and (got[0] is value or values_equal(got[0], value))
                )
                record(cid, holder if same else None)
        self.log.notify()

    # ---------------------------------------------------------------- peers

    async def connect_to_peer(
        self, endpoint: Endpoint | str, *, wait: bool = False, within: float = 10.0
    ) -> None:
        """Dial a peer and keep the link up (redialling with backoff when it drops).

        With ``wait=True``, return once the link is established (PeerError if it is not
        within ``within`` seconds, with the last reason).
        """
        self._require()
        url = endpoint.url if isinstance(endpoint, Endpoint) else endpoint
        target = self._add_target(url, learned=False)
        if not wait:
            return
        with anyio.move_on_after(within):
            while target.node is None or target.node not in self._sessions:
                if target.refused:
                    raise PeerError(f"{target.url.ws} refused the link: {target.refused}")
                await self._sessions_changed.wait()
            return
        raise PeerError(
            f"could not connect to {target.url.ws} within {within}s"
            + (f": {target.last_error}" if target.last_error else "")
        )

    def disconnect_peer(self, url_or_node: str) -> bool:
        """Stop dialling a URL (or every URL of a node) and close the link; True if found."""
        found = False
        for key, target in list(self._targets.items()):
            if url_or_node in (target.node, target.url.ws, key) or _same_url(
                url_or_node, target.url
            ):
                del self._targets[key]
                if target.scope is not None:
                    target.scope.cancel()
                found = True
                if target.node in self._sessions:
                    self._sessions[target.node].stop("disconnected by request")
        session = self._sessions.get(url_or_node)
        if session is not None:
            session.stop("disconnected by request")
            found = True
        return found

    def peers(self) -> list[PeerInfo]:
        """Every connected peer."""
        now = anyio.current_time()
        head = self.log.head
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
                lagging=max(0, s.peer_head - self._cursors.get(s.peer, ("", 0))[1]),
            )
            for s in sorted(self._sessions.values(), key=lambda s: s.peer)
        ]

    def known_peers(self) -> list[tuple[str, str]]:
        """(node, URL) of every node this one knows an address for (itself included)."""
        known = dict(self._known)
        if self.advertise_url:
            known[self.node_id] = self.advertise_url
        return sorted(known.items())

    def learn_peers(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Remember nodes' advertised URLs; with discovery on, dial some of them."""
        for node, url in pairs:
            if node == self.node_id:
                continue
            try:
                self._known[node] = parse_node_url(url).ws
            except ValueError:
                self.metrics.items_rejected["bad-peer-url"] += 1
        self._discover()

    def _discover(self) -> None:
        if not self.settings.discover or self._closing or self._tg is None:
            return
        want = self.settings.target_peers - len(self._sessions)
        targeted = {t.node for t in self._targets.values()} | set(self._targets)
        for node, url in sorted(self._known.items()):
            if want <= 0:
                break
            if node in self._sessions or node in targeted or url in targeted:
                continue
            self._add_target(url, learned=True).node = node
            want -= 1

    def _add_target(self, url: str, *, learned: bool) -> _Target:
        parsed = parse_node_url(url)
        key = parsed.ws
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = _Target(parsed, learned)
            assert self._tg is not None
            self._tg.start_soon(self._dial_loop, key, target)
        elif not learned:
            target.learned = False
        return target

    async def _wait_sessions_change(self) -> None:
        await self._sessions_changed.wait()

    async def _dial_loop(self, key: str, target: _Target) -> None:
        settings = self.settings
        delay = settings.reconnect_min
        rng = random.Random()
        with anyio.CancelScope() as scope:
            target.scope = scope
            while not self._closing and self._targets.get(key) is target:
                if target.node is not None and target.node in self._sessions:
                    await self._wait_sessions_change()
                    continue
                established = False
                opened = anyio.current_time()
                try:
                    async with dial(
                        target.url, max_bytes=settings.max_frame_bytes, ssl_context=self.ssl_context
                    ) as transport:
                        hello = await handshake(self, transport, dialer=True, opened=opened)
                        target.node = hello.node
                        self._signal_sessions()
                        established = True
                        target.failures = 0
                        target.last_error = target.refused = ""
                        await self._run_session(transport, hello, dialer=True, opened=opened)
                except DialError as exc:
                    self.metrics.dial_failures += 1
                    target.failures += 1
                    target.last_error = str(exc)
                    log.debug("%s", exc)
                except (RefusedByPeer, Refusal) as exc:
                    target.failures += 1
                    target.last_error = str(exc)
                    if exc.code == "busy":  # transient: redial with the usual backoff
                        log.warning("%s", exc)
                    elif exc.code != "duplicate":
                        delay = settings.reconnect_max
                        target.refused = str(exc)
                        self._signal_sessions()
                        self._warn_once(target.url.ws, str(exc))
                    if exc.code == "self":
                        break  # that URL is this node, or a node with this node's id
                except (ProtocolViolation, ConnectionClosed) as exc:
                    target.failures += 1
                    target.last_error = str(exc)
                    log.warning("link to %s failed: %s", target.url.ws, exc)
                if target.learned and target.failures >= settings.max_learned_failures:
                    log.info("forgetting learned peer %s: %s", target.url.ws, target.last_error)
                    break
                if established:
                    delay = settings.reconnect_min
                await anyio.sleep(delay * (0.5 + rng.random()))
                if not established:
                    delay = min(settings.reconnect_max, delay * 2)
        if self._targets.get(key) is target:
            del self._targets[key]

    def _warn_once(self, key: str, message: str) -> None:
        if (key, message) not in self._warned:
            self._warned.add((key, message))
            log.error("%s", message)

    def admit(self, address: str | None) -> PendingLink:
        """A place among this node's pending inbound connections (``admission.py``).

        :class:`~bassline.net.node_server.NodeServer` takes one as soon as it accepts a
        connection and hands it to :meth:`accept` if the connection asks for gossip.
        """
        return self._pending.admit(address)

    @property
    def pending_handshakes(self) -> int:
        """Inbound connections not yet past their handshake (at most
        ``settings.max_pending_handshakes``)."""
        return len(self._pending)

    async def accept(self, transport: Transport, pending: PendingLink | None = None) -> None:
        """Serve one inbound link (the server's WebSocket endpoint calls this).

        ``pending`` is the link's place among pending connections (taken now if not
        given); while the handshake runs a newer connection may evict it (``busy``).
        """
        if pending is None:
            pending = self._pending.admit(transport.address)
        try:
            await self._accept(transport, pending)
        finally:
            pending.release()

    async def _accept(self, transport: Transport, pending: PendingLink) -> None:
        if self.runtime is None or self._closing:
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
                await self._run_session(transport, hello, dialer=False, opened=pending.opened)
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

    async def _run_session(
        self, transport: Transport, hello: Hello, *, dialer: bool, opened: float
    ) -> None:
        session = PeerSession(self, transport, hello, dialer=dialer, opened=opened)
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
                self._known[hello.node] = parse_node_url(hello.url).ws
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
            spec = self.spec
            raise Refusal(
                "bassline-hash",
                f"Bassline mismatch: peer {hello.node!r} runs hash {hello.bassline[:12]}, this "
                f"node runs {spec.id!r} v{spec.version} hash {spec.hash[:12]}; every node must "
                "load the same spec",
            )
        if (hello.auth == "hmac-sha256") != bool(self.secret):
            mine = "requires a cluster secret" if self.secret else "has no cluster secret"
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
        existing = self._sessions.get(hello.node)
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

    def _register(self, session: PeerSession) -> None:
        hello = session.hello
        self.check_link(hello, dialer=session.dialer, opened=session.opened)
        existing = self._sessions.get(session.peer)
        if existing is not None:
            existing.stop("duplicate link")
        self._sessions[session.peer] = session
        self._signal_sessions()

    def _unregister(self, session: PeerSession) -> None:
        if self._sessions.get(session.peer) is session:
            del self._sessions[session.peer]
        self._signal_sessions()
        self._discover()

    def _signal_sessions(self) -> None:
        self._sessions_changed.set()
        self._sessions_changed = anyio.Event()

    # ---------------------------------------------------------------- gossip

    async def handle_gossip(self, peer_id: str, message: Message | Mapping[str, Any]) -> None:
        """Act on one message from a connected peer (validated first if it is raw data).

        Raises :class:`~bassline.net.protocol.ProtocolViolation` for a bad message and
        :class:`~bassline.errors.PeerError` when no link to ``peer_id`` is open.
        """
        session = self._sessions.get(peer_id)
        if session is None:
            raise PeerError(f"no link to peer {peer_id!r}")
        if isinstance(message, Mapping):
            message = parse_message(dict(message))
        await session.handle(message)

    def cursor(self, peer: str) -> tuple[str | None, int]:
        """How far this node has applied ``peer``'s change log: (epoch, seq)."""
        epoch, seq = self._cursors.get(peer, (None, 0))
        return epoch, seq

    async def apply_delta(self, session: LinkState, delta: Delta) -> None:
        """Apply a peer's delta; advance the cursor on its log when nothing was missed."""
        peer = session.peer
        epoch, seq = self.cursor(peer)
        if delta.epoch != epoch and delta.start == 0:
            epoch, seq = delta.epoch, 0
        contiguous = delta.epoch == epoch and delta.start <= seq
        self.metrics.deltas_in += 1
        self.metrics.items_in += len(delta.items)
        complete = await self._apply_items(peer, delta.items, session.peer_epoch)
        if contiguous and complete and epoch is not None:
            self._cursors[peer] = (epoch, max(seq, delta.end))
        else:
            session.rewind = True

    async def _apply_items(
        self, peer: str, items: tuple[tuple[str, Any, Stamp], ...], epoch: str
    ) -> bool:
        runtime = self._require()
        network = runtime.network
        for cid, _, _ in items:
            if cid not in network:
                raise ProtocolViolation(
                    "unknown-contact",
                    f"delta names contact {cid[:80]!r}, which this Bassline does not have",
                )
        accepted = []
        complete = True
        for item in items:
            try:
                network.clock.observe(item[2])
            except ValueError as exc:
                self.metrics.items_rejected["future-stamp"] += 1
                self._warn_once(peer, f"peer {peer!r} sent a value stamped in the future: {exc}")
                complete = False
                continue
            try:
                network.validate(item[0], item[1])
            except ContentError as exc:
                # refused for good (it is not offered again): a peer's value of the wrong
                # kind for a merge contact changes nothing here, not even a contradiction
                self.metrics.items_rejected["wrong-kind"] += 1
                if (peer, "wrong-kind") not in self._warned:
                    self._warned.add((peer, "wrong-kind"))
                    log.error(
                        "peer %r sent a value this node refuses, dropped (later ones are "
                        'only counted, in items_rejected_total{reason="wrong-kind"}): %s',
                        peer,
                        exc,
                    )
                continue
            accepted.append(item)
        if not accepted:
            return complete
        token = _SOURCE.set(((peer, epoch), {cid: (v, s) for cid, v, s in accepted}))
        try:
            await runtime.apply(accepted)
        except PersistenceError as exc:
            self.metrics.apply_errors += 1
            log.error("contents from %s not stored (will be asked for again): %s", peer, exc)
            return False
        finally:
            _SOURCE.reset(token)
        return complete

    def build_delta(self, session: LinkState) -> tuple[bytes | None, int, int]:
        """The next delta frame for ``session``: (frame or None, items, log position)."""
        ids, scanned = self.log.since(
            session.scan, self.settings.max_delta_items, (session.peer, session.peer_epoch)
        )
        if not ids:
            return None, 0, scanned
        network = self._require().network
        cache = self._json_cache
        items = []
        for cid in ids:
            value = network.value(cid)
            if value is ABSENT:
                continue
            stamp = network.stamp(cid)
            hit = cache.get(cid)
            if hit is not None and hit[0] is value and hit[1] == stamp:
                plain = hit[2]
            else:
                plain = to_json(value)
                cache[cid] = (value, stamp, plain)
            items.append((cid, plain, stamp))
        limit = self.settings.max_frame_bytes
        while True:
            frame = dump(encode_delta(self.log.epoch, session.announced, scanned, items))
            if len(frame) <= limit:
                return frame, len(items), scanned
            if len(items) == 1:
                cid = items[0][0]
                if cid not in self._oversized:  # once per content, not per peer or attempt
                    self._oversized.add(cid)
                    self.metrics.oversized_values += 1
                    log.error(
                        "content of %r is too large to gossip (%d bytes, limit %d)",
                        cid,
                        len(frame),
                        limit,
                    )
                return None, 0, self.log.seq_of(cid)
            items = items[: len(items) // 2]
            scanned = self.log.seq_of(items[-1][0])

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
        if self._oversized:
            reasons.append(f"{len(self._oversized)} contents too large to gossip")
        configured = [t for t in self._targets.values() if not t.learned]
        if configured and not self._sessions:
            reasons.append(f"none of {len(configured)} configured peers is connected")
        return NetworkHealth(
            status="degraded" if reasons else "ok",
            reasons=tuple(reasons),
            runtime=runtime_health,
            peers=len(self._sessions),
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
            "groups": sorted(self.groups),
            "url": self.advertise_url,
            "digest": self.digest(),
            "contacts": {"total": len(runtime.network), "with_content": len(self.values())},
            "log": {"epoch": self.log.epoch, "head": self.log.head},
            "health": {"status": health.status, "reasons": list(health.reasons)},
            "storage": {
                "status": health.runtime.status if health.runtime else "unknown",
                "breaker": runtime.breaker.state.value,
                "queue_depth": runtime.queue_depth,
                "recovered": runtime.recovered,
                "pool": None if pool is None else attrs.asdict(pool),
            },
            "peers": [attrs.asdict(p) for p in self.peers()],
            "targets": sorted(
                (
                    {"url": t.url.ws, "node": t.node, "learned": t.learned, "error": t.last_error}
                    for t in self._targets.values()
                ),
                key=lambda t: str(t["url"]),
            ),
            "gossip": self.metrics.snapshot(),
            "gadget_failures": dict(runtime.network.failure_counts),
        }

    def prometheus(self) -> str:
        """Gossip metrics plus the runtime's, in Prometheus text format."""
        gauges = {
            "peers_connected": ("Peers with an open link.", float(len(self._sessions))),
            "peers_known": ("Nodes with a known address.", float(len(self._known))),
            "dial_targets": ("URLs this node keeps dialling.", float(len(self._targets))),
            "log_head": ("Sequence number of this node's latest change.", float(self.log.head)),
            "log_contacts": ("Contacts in the change log.", float(len(self.log))),
            "send_queue_frames": (
                "Frames queued for all peers.",
                float(sum(s.queue_depth for s in self._sessions.values())),
            ),
        }
        text = self.metrics.prometheus(gauges)
        if self.runtime is not None:
            text += self.runtime.prometheus()
            text += _gadget_failures_text(self.runtime.network.failure_counts)
        return text


def _gadget_failures_text(counts: Mapping[str, int]) -> str:
    """``bassline_gadget_failures_total`` by gadget id, in Prometheus text format."""
    name = "bassline_gadget_failures_total"
    lines = [
        f"# HELP {name} Gadget failures (raised, or content a port cannot compute with).",
        f"# TYPE {name} counter",
    ]
    samples = sorted(counts.items()) or [("none", 0)]
    lines += [f'{name}{{gadget="{label_value(g)}"}} {n}' for g, n in samples]
    return "\n".join(lines) + "\n"


def _same_url(text: str, url: NodeURL) -> bool:
    try:
        return parse_node_url(text) == url
    except ValueError:
        return False
