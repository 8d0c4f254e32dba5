"""One authenticated gossip link: reader, writer, pusher and ticker tasks.

The session owns a bounded send queue (``settings.send_queue_frames``). The pusher
reads this node's change log from the peer's position and queues deltas; when the
peer (or the network) is slow the queue fills, the pusher waits, and the change log —
one entry per contact — is all that accumulates. A slow peer therefore costs no
memory per update: it falls back to receiving the latest contents when it catches up.
"""

from __future__ import annotations

import logging

import anyio
from anyio.abc import TaskGroup

from bassline.clock import Stamp
from bassline.net.gossip_metrics import frame_overhead
from bassline.net.handshake import RefusedByPeer, send_refusal
from bassline.net.host import Replication, SessionHost
from bassline.net.loop_clock import loop_clock
from bassline.net.protocol import (
    MAX_GRAFT,
    MAX_ORIGINS,
    Auth,
    Bye,
    Delta,
    Digest,
    Graft,
    Heartbeat,
    Hello,
    Links,
    Message,
    Peers,
    ProtocolViolation,
    Prune,
    Refuse,
    dump,
    encode_delta,
    kind_of,
    parse_frame,
)
from bassline.net.transport import ConnectionClosed, Transport

__all__ = ["PeerSession"]

MAX_LAZY = 10_000
"""Most origins a peer may prune on one link (beyond them, values are sent), and most
contacts a peer's grafts may have waiting for an answer (beyond them, they are dropped:
the peer asks again)."""
GRAFT_TRIES = 3
"""How many times an announced change this node lacks is asked for."""
GRAFT_PATIENCE = 4
"""How many ``graft_delay`` s a lacked change is waited for while other changes of its
origin keep coming."""

log = logging.getLogger("bassline.net")


class _Ended(Exception):
    """Internal: the link ended for ``reason``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class PeerSession:
    """An established link to one peer (after :func:`~bassline.net.handshake.handshake`)."""

    def __init__(
        self,
        host: SessionHost,
        replication: Replication,
        transport: Transport,
        hello: Hello,
        *,
        dialer: bool,
        opened: float | None = None,
    ) -> None:
        self.host = host
        self.replication = replication
        self.transport = transport
        self.hello = hello
        self.peer = hello.node
        self.peer_epoch = hello.epoch
        self.peer_url = hello.url
        self.peer_groups = hello.groups
        self.peer_store = hello.store
        self.dialer = dialer
        self._now, self._sleep = loop_clock()  # read per frame: found once
        self.connected_at = self._now()
        self.opened = self.connected_at if opened is None else opened
        """When the link's handshake began (before :attr:`connected_at`)."""
        self.last_seen = self.connected_at
        self.last_sent = self.connected_at
        settings = host.settings
        frames = settings.send_queue_frames
        self._send, self._queue = anyio.create_memory_object_stream[tuple[str, bytes, int]](frames)
        self._idle = False  # the writer waits and none was queued since (see enqueue)
        self._direct = self._queued = 0
        self._scope: anyio.CancelScope | None = None
        self._stop_reason: str | None = None
        self.end_reason = ""
        # what this node sends: the peer has applied our log up to ``announced``
        self.started = anyio.Event()
        self.scan = 0
        self.announced = 0
        # what this node receives
        self.rewind = False
        self.peer_head = 0
        self.peer_has = 0
        """The peer's cursor on our log, from its latest digest."""
        self.frames_in = 0
        self.frames_out = 0
        # eager and lazy push (both ways, for this link only: a new link starts eager)
        self.lazy: set[str] = set()
        """Origins the peer pruned: their changes are announced to it, not sent."""
        self.quiet: set[str] = set()
        """Of those, the ones it pruned quietly: their changes are not even announced."""
        self.pruned: set[str] = set()
        """Origins this node asked the peer to prune (not asked again until grafted)."""
        self.prepruned: set[str] = set()
        """Of those, the ones pruned because the link-state view gives them another
        neighbour as parent (``topology.plan``), not because the peer sent a copy."""
        self.grafted: set[str] = set()
        """Origins this node grafted here for changes it lacked: never pre-pruned again on
        this link (the views disagreed; the reactive prunes rule)."""
        # owed to the peer, marked by the membership (other links' readers never wait on
        # this link's queue), sent by this link's pusher
        self.owed_rows: set[str] = set()
        """Nodes whose link-state rows are due to the peer."""
        self.owed_prunes: set[str] = set()
        self.owed_grafts: set[str] = set()
        """Pre-prunes and origins-only grafts due to the peer (already in ``pruned``)."""
        self.owed_rewinds: set[str] = set()
        """Origins pruned quietly on an earlier link to the peer that this link must now
        carry: the peer is asked to resend from where this node stood then."""
        self.wanted: dict[str, tuple[Stamp, float, float, int]] = {}
        """Announced changes this node lacks: contact -> (stamp, when noted, when noted or
        last asked for, times asked for)."""
        self.requested: dict[str, None] = {}
        """Contacts the peer grafted, in order, not sent yet."""
        self._wanting = anyio.Event()

    @property
    def queue_depth(self) -> int:
        """Frames waiting to be written to this peer (one its sender writes itself too)."""
        return self._queue.statistics().current_buffer_used + self._direct

    # ---------------------------------------------------------------- lifecycle

    def stop(self, reason: str) -> None:
        """End the link (a goodbye is sent); returns at once."""
        self._stop_reason = reason
        if self._scope is not None:
            self._scope.cancel()

    async def run(self) -> None:
        """Serve the link until it ends; the reason is kept in :attr:`end_reason`."""
        reason, detail = "closed", ""
        try:
            async with anyio.create_task_group() as tg:
                self._scope = tg.cancel_scope
                if self._stop_reason is not None:
                    tg.cancel_scope.cancel()
                tg.start_soon(self._guard, self._writer, tg)
                tg.start_soon(self._guard, self._pusher, tg)
                tg.start_soon(self._guard, self._ticker, tg)
                tg.start_soon(self._guard, self._watchdog, tg)
                tg.start_soon(self._guard, self._grafter, tg)
                await self._send_owed()  # the link-state table, pre-prunes: before deltas
                await self._send_digest()
                await self._send_peers()
                await self._guard(self._reader, tg)
        finally:
            if self._stop_reason is not None and not self.end_reason:
                reason, detail = "stopped", self._stop_reason
            elif self.end_reason:
                reason, detail = self.end_reason.split(":", 1)[0], self.end_reason
            self.host.metrics.disconnects[reason] += 1
            if self._stop_reason is not None and not self.end_reason:
                await self._goodbye(self._stop_reason)
            await self.transport.close(1000, reason)
            self._send.close()
            self._queue.close()
            log.info("link to %s closed (%s)", self.peer, detail or reason)

    async def _goodbye(self, reason: str) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.host.settings.shutdown_grace):
            try:
                frame = dump({"t": "bye", "reason": reason[:500]})
                sent = await self.transport.send(frame)
                self.host.metrics.bytes_out += sent
                self.host.metrics.messages_out["bye"] += 1
            except ConnectionClosed:
                pass

    async def _guard(self, task: object, tg: TaskGroup) -> None:
        """Run one of the session's tasks; any way it ends, end the session with a reason."""
        try:
            await task()  # type: ignore[operator]
        except _Ended as ended:
            self.end_reason = self.end_reason or f"{ended.reason}: {ended.detail}"
        except ConnectionClosed as closed:
            self.end_reason = self.end_reason or f"connection-lost: {closed}"
        except RefusedByPeer as refused:
            self.host.metrics.refused_by_peer[refused.code] += 1
            log.warning("peer %s refused this node: %s", self.peer, refused.reason)
            self.end_reason = self.end_reason or f"refused-by-peer: {refused.reason}"
        except ProtocolViolation as violation:
            self.host.metrics.rejected[violation.code] += 1
            log.warning("peer %s sent a bad frame (%s): %s", self.peer, violation.code, violation)
            self.end_reason = self.end_reason or f"protocol-violation: {violation}"
            tg.cancel_scope.cancel()  # nothing else is sent after the refusal
            await send_refusal(self.transport, violation.code, str(violation), self.host.metrics)
        finally:
            tg.cancel_scope.cancel()

    # ---------------------------------------------------------------- sending

    async def enqueue(self, kind: str, frame: bytes, items: int = 0) -> None:
        """Send a frame (a delta of ``items`` contents): written here while the writer
        idles (nothing queued or in hand: the order holds; others queue behind it), else
        queued; waits while the peer is slow either way, holding only this frame."""
        if self._idle:
            self._idle, self._direct, queued = False, 1, self._queued
            await self._write(kind, frame, items)
            self._direct = 0  # (left at 1 when the write failed: the link ends)
            self._idle = self._queued == queued  # none queued since: the writer waits
        else:
            await self._send.send((kind, frame, items))
            self._idle = False  # (it may have been handed to the writer as it went idle)
            self._queued += 1

    def enqueue_nowait(self, kind: str, frame: bytes) -> bool:
        """Queue a frame unless the queue is full (heartbeats: traffic proves liveness)."""
        try:
            self._send.send_nowait((kind, frame, 0))
        except anyio.WouldBlock:
            return False
        self._idle = False
        self._queued += 1
        return True

    async def _writer(self) -> None:
        while True:
            try:
                kind, frame, items = self._queue.receive_nowait()  # no wait, no wake-up
            except anyio.WouldBlock:
                self._idle = True
                kind, frame, items = await self._queue.receive()
            self._idle = False
            await self._write(kind, frame, items)

    async def _write(self, kind: str, frame: bytes, items: int) -> None:
        sent = await self.transport.send(frame)  # not `+= await`: other links add meanwhile
        metrics = self.host.metrics
        metrics.bytes_out += sent
        metrics.messages_out[kind] += 1
        if kind == "delta":  # counted when written, like every other frame
            metrics.deltas_out += 1
            metrics.items_out += items
        self.frames_out += 1
        self.last_sent = self._now()

    async def _send_digest(self) -> None:
        replication = self.replication
        epoch, seq = replication.cursor(self.peer)
        frame = {
            "t": "digest",
            "epoch": epoch,
            "seq": seq,
            "head_epoch": replication.log.epoch,
            "head": replication.log.head,
            "rewind": self.rewind,
        }
        self.rewind = False
        self.host.metrics.anti_entropy_rounds += 1
        await self.enqueue("digest", dump(frame))

    async def _announce_passed_over(self) -> None:
        """Tell the peer how far our log was read for it when nothing was sent.

        Changes that came from the peer are never sent back to it, so a log ending in
        them is read without a delta. An empty delta over that stretch moves the peer's
        cursor to our head; without it the peer would count those changes as lagging
        (and we as behind) until our next change of our own. Sent at most once per
        anti-entropy round, so echoes cost no frame each.
        """
        if self.scan > self.announced:
            frame = dump(encode_delta(self.replication.log.epoch, self.announced, self.scan, []))
            self.announced = self.scan
            await self.enqueue("delta", frame)

    async def _send_peers(self) -> None:
        peers = [[n, u] for n, u in self.host.known_peers() if n != self.peer]
        await self.enqueue("peers", dump({"t": "peers", "peers": peers[:1000]}))

    @property
    def owes(self) -> bool:
        """Whether link-state rows, pre-prunes or origins-only grafts are due."""
        return bool(self.owed_rows or self.owed_prunes or self.owed_grafts or self.owed_rewinds)

    def owe(self, prunes: set[str], grafts: set[str]) -> None:
        """Pre-prune ``prunes`` and graft ``grafts`` (origins only) on this link: taken as
        asked at once, sent by the pusher (one still unsent is cancelled instead)."""
        self.pruned -= grafts
        self.prepruned -= grafts
        unsent = grafts & self.owed_prunes
        self.owed_prunes -= unsent
        self.owed_grafts |= grafts - unsent
        self.pruned |= prunes
        self.prepruned |= prunes
        unsent = prunes & self.owed_grafts
        self.owed_grafts -= unsent
        self.owed_prunes |= prunes - unsent

    async def _send_owed(self) -> None:
        rows, self.owed_rows = self.owed_rows, set()
        grafts, self.owed_grafts = sorted(self.owed_grafts), set()
        prunes, self.owed_prunes = sorted(self.owed_prunes), set()
        rewinds, self.owed_rewinds = self.owed_rewinds.union(grafts), set()
        for frame in self.host.links_frames(rows) if rows else ():
            await self.enqueue("links", frame)
        for k in range(0, len(grafts), MAX_ORIGINS):
            graft = {"t": "graft", "origins": grafts[k : k + MAX_ORIGINS], "contacts": []}
            await self.enqueue("graft", dump(graft))
        await self._rewind_quiet(rewinds)  # after the grafts: resent with their values
        self.replication.quiet.note(self.peer, prunes)
        for k in range(0, len(prunes), MAX_ORIGINS):
            prune = {"t": "prune", "origins": prunes[k : k + MAX_ORIGINS], "quiet": True}
            await self.enqueue("prune", dump(prune))

    async def _rewind_quiet(self, origins: set[str]) -> None:
        """Ask the peer to resend what it left out of ``origins`` (pruned quietly here or
        on an earlier link to it), now that this link must carry them: the cursor on its
        log moves back to where this node stood when it first pruned them, and a digest
        asks the peer to resend from there."""
        if origins and self.replication.quiet.rewind(self.peer, origins):
            self.host.metrics.quiet_rewinds += 1
            self.rewind = True
            await self._send_digest()

    async def _pusher(self) -> None:
        replication = self.replication
        changes = replication.log
        started = self.started
        delay = self.host.settings.push_delay
        while True:
            # re-read on every wake-up: a digest asking for a rewind moves ``scan`` back
            # (and notifies) without the log growing; the first digest notifies too
            while not self.owes and (
                not started.is_set() or (self.scan >= changes.head and not self.requested)
            ):
                await changes.wait_notified()
            if self.owes:  # link state: sent even before the peer's first digest
                await self._send_owed()
            if not started.is_set():
                continue
            if delay:
                await self._sleep(delay)  # let a burst of changes gather into one frame
            while self.requested:
                asked = list(self.requested)[: self.host.settings.max_delta_items]
                frame, count, covered = replication.build_reply(self, asked)
                for cid in asked[:covered]:
                    del self.requested[cid]
                if frame is not None:
                    await self.enqueue("delta", frame, count)
            while self.scan < changes.head:
                frame, count, scanned = replication.build_delta(self)
                self.scan = scanned
                if frame is not None:
                    self.announced = scanned
                    await self.enqueue("delta", frame, count)

    async def _ticker(self) -> None:
        settings = self.host.settings
        now = self._now()
        next_digest = now + settings.anti_entropy_interval
        next_peers = now + settings.peer_exchange_interval
        step = min(settings.heartbeat_interval, settings.anti_entropy_interval) / 2
        while True:
            await self._sleep(step)
            now = self._now()
            if now - self.last_sent >= settings.heartbeat_interval:
                self.enqueue_nowait("hb", b'{"t":"hb"}')
            if now >= next_digest:
                next_digest = now + settings.anti_entropy_interval
                # skipped while the queue is half full; a one-frame queue must be empty
                if self.queue_depth < max(1, settings.send_queue_frames // 2):
                    await self._announce_passed_over()
                    await self._send_digest()
            if now >= next_peers:
                next_peers = now + settings.peer_exchange_interval
                await self._send_peers()

    async def _watchdog(self) -> None:
        """Close a silent link. Its own task: the ticker may wait for room in the queue
        (a peer that stopped reading), and that must not keep a dead link open."""
        settings = self.host.settings
        while True:
            await self._sleep(settings.heartbeat_interval / 2)
            silent = self._now() - self.last_seen
            if silent > settings.heartbeat_timeout:
                raise _Ended("heartbeat-timeout", f"no frame from {self.peer} for {silent:.1f}s")

    def want(self, contact: str, stamp: Stamp) -> None:
        """Note an announced change this node lacks; :meth:`_grafter` asks for it."""
        noted = self.wanted.get(contact)
        if noted is None:
            now = self._now()
            self.wanted[contact] = (stamp, now, now, 0)
            self._wanting.set()
        elif noted[0] < stamp:  # a newer change of it
            self.wanted[contact] = (stamp, *noted[1:])

    async def _grafter(self) -> None:
        """Ask the peer for announced changes that did not come over another link within
        ``graft_delay`` (``graft``: their contacts, and their origins sent eagerly again).

        While other contents of a change's origin keep coming over some link since the
        change was announced, that link is live and the change likely on its way behind
        them (an announcement may outrun the values): it is asked for only after
        ``GRAFT_PATIENCE`` times ``graft_delay``. One still lacking is asked for again each
        ``graft_delay``, at most ``GRAFT_TRIES`` times (the peer may have sent a value
        this node refused)."""
        delay = self.host.settings.graft_delay
        holds, arrived = self.replication.holds, self.replication.arrived
        while True:
            await self._wanting.wait()
            self._wanting = anyio.Event()
            await self._sleep(delay)
            now, origins, contacts = self._now(), set(), []
            for cid, (stamp, first, noted, tries) in list(self.wanted.items()):
                if holds(cid, stamp) or tries >= GRAFT_TRIES:
                    del self.wanted[cid]
                    continue
                if now - noted < delay:
                    continue
                coming = not tries and arrived(stamp.node) > first
                if coming and now - first < GRAFT_PATIENCE * delay:
                    continue  # the origin's values are coming: this one likely too
                self.wanted[cid] = (stamp, first, now, tries + 1)
                origins.add(stamp.node)
                contacts.append(cid)
            if self.wanted:
                self._wanting.set()  # some are still wanted: looked at again
            self.pruned.difference_update(origins)
            self.prepruned.difference_update(origins)
            self.grafted.update(origins)
            for k in range(0, len(contacts), MAX_GRAFT):
                self.host.metrics.grafts += 1
                frame = {"t": "graft", "origins": sorted(origins)[:MAX_ORIGINS]}
                frame["contacts"] = contacts[k : k + MAX_GRAFT]
                await self.enqueue("graft", dump(frame))
            await self._rewind_quiet(origins)

    def _on_prune(self, prune: Prune) -> None:
        if len(self.lazy) + len(prune.origins) <= MAX_LAZY:
            self.lazy.update(prune.origins)
            if prune.quiet:
                self.quiet.update(prune.origins)
            else:
                self.quiet.difference_update(prune.origins)

    def _on_graft(self, graft: Graft) -> None:
        self.lazy.difference_update(graft.origins)
        self.quiet.difference_update(graft.origins)
        if len(self.requested) + len(graft.contacts) <= MAX_LAZY:
            self.requested.update(dict.fromkeys(graft.contacts))
            self.replication.log.notify()  # wakes the pusher

    # ---------------------------------------------------------------- receiving

    async def _reader(self) -> None:
        host = self.host
        limit = host.settings.max_frame_bytes
        metrics = host.metrics
        while True:
            data = await self.transport.receive()
            self.last_seen = self._now()
            self.frames_in += 1
            metrics.bytes_in += len(data) + frame_overhead(len(data), masked=not self.dialer)
            message = parse_frame(data, limit)
            await host.handle_gossip(self.peer, message)

    async def handle(self, message: Message) -> None:
        """Act on one validated message from this peer."""
        self.host.metrics.messages_in[kind_of(message)] += 1
        if isinstance(message, Delta):
            held = await self.replication.apply_delta(self, message)
            if held and self.host.settings.lazy_push:
                self._prune(held)
        elif isinstance(message, Prune):
            self._on_prune(message)
        elif isinstance(message, Graft):
            self._on_graft(message)
        elif isinstance(message, Digest):
            self._on_digest(message)
        elif isinstance(message, Heartbeat):
            pass
        elif isinstance(message, Peers):
            self.host.learn_peers(message.peers)
        elif isinstance(message, Links):
            self.host.learn_links(self.peer, message.rows)
        elif isinstance(message, Bye):
            raise _Ended("peer-left", f"{self.peer} said goodbye: {message.reason}")
        elif isinstance(message, Refuse):
            raise RefusedByPeer(message.code, message.reason)
        elif isinstance(message, Hello):
            raise ProtocolViolation(
                "unexpected-hello", "hello after the handshake (a replayed hello?)"
            )
        elif isinstance(message, Auth):
            raise ProtocolViolation("unexpected-auth", "auth after the handshake")

    def _prune(self, held: dict[str, set[str]]) -> None:
        """Ask the peer to only announce changes of origins it sent this node held.

        Not when the content came first from peers this node has asked to prune that
        origin (they sent it before the prune reached them): the peer may be the only
        link the origin's values still come over."""
        prunes = self.host.prunes
        origins = sorted(
            origin
            for origin, before in held.items()
            if origin not in self.pruned and not (before and all(prunes(p, origin) for p in before))
        )[:1000]
        # not waited for (the reader must not wait on its own link's queue): when the
        # queue is full the prune is left out, and asked for at the next copy
        if origins and self.enqueue_nowait("prune", dump({"t": "prune", "origins": origins})):
            self.pruned.update(origins)

    def _on_digest(self, digest: Digest) -> None:
        changes = self.replication.log
        self.peer_head = digest.head
        # a digest about another incarnation of our log means the peer has none of this one
        position = min(digest.seq, changes.head) if digest.epoch == changes.epoch else 0
        self.peer_has = position
        if not self.started.is_set():
            self.scan = self.announced = position
            self.started.set()
            changes.notify()  # wakes the pusher
        elif digest.rewind:
            self.scan = min(self.scan, position)
            self.announced = position
            changes.notify()
