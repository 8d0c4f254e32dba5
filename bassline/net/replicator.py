"""Replication: the change log, cursors on peers' logs, deltas built and applied, digests.

A :class:`Replicator` holds one node's side of the gossip protocol's data: it records
every change of the runtime's contacts in the :class:`~bassline.net.changelog.ChangeLog`
(marking changes a peer sent, so they are not echoed back to it), builds the deltas a
peer session sends from that log, applies the deltas peers send through the runtime and
keeps a cursor on each peer's log. It knows nothing of links: a session reaches it
through :class:`~bassline.net.host.Replication`, and it reads only the
:class:`~bassline.net.host.LinkState` of a session.
"""

from __future__ import annotations

import logging
import math
from contextvars import ContextVar
from itertools import compress
from operator import eq, itemgetter, not_
from typing import Any

import anyio

from bassline.clock import Stamp
from bassline.codec import encode
from bassline.content import values_equal
from bassline.engine.carried import Carried
from bassline.engine.results import PropagationResult
from bassline.errors import ContentError, JustificationError, PersistenceError
from bassline.net.carry import CarryCodec
from bassline.net.changelog import ChangeLog
from bassline.net.content_digest import ContentDigest
from bassline.net.delta_entries import applied_notes, cache_sent, derivable, entries, link_entries
from bassline.net.delta_items import Columns, Item, carried_items, unlike_sent
from bassline.net.gossip_metrics import NetMetrics
from bassline.net.host import LinkState
from bassline.net.log_once import LogOnce
from bassline.net.protocol import Delta, ProtocolViolation, dump, encode_delta
from bassline.net.quiet_prunes import QuietPrunes
from bassline.net.settings import GossipSettings
from bassline.net.wire_whys import WhyRef
from bassline.runtime import FollowsFeed, Runtime
from bassline.spec import BlendMode

__all__ = ["Replicator"]

log = logging.getLogger("bassline.net")

_SOURCE: ContextVar[tuple[tuple[str, str], list[Item], set[str]] | None] = ContextVar(
    "bassline_gossip_source", default=None
)
"""While a peer's delta is applied: ((peer, its epoch), what it sent, the contacts logged
as holding what it sent), so the log does not echo it back to that incarnation of the
peer (a restarted peer may have lost it)."""


class Replicator:
    """One node's replicated contents: what changed, what peers have, what they sent."""

    def __init__(
        self, node_id: str, settings: GossipSettings, metrics: NetMetrics, log: ChangeLog
    ) -> None:
        self.node_id = node_id
        self.settings = settings
        self.metrics = metrics
        self.log = log
        """This node's change log (shared with the node, which exposes it as ``log``)."""
        self.warned = LogOnce()  # a peer's content problems logged (later ones counted)
        self._runtime: Runtime | None = None
        self._codec: CarryCodec | None = None
        self._cursors: dict[str, tuple[str, int]] = {}
        self.quiet = QuietPrunes(self._cursors)
        """The origins this node pruned quietly on each peer's link, and where from."""
        self._json_cache: dict[str, tuple[Any, Stamp, Any, int, WhyRef | None]] = {}
        """Per contact: its change made ready to send once for all peers (``Cached``)."""
        self._contacts: frozenset[str] = frozenset()
        self._oversized: set[str] = set()  # contents too large to gossip, until changed
        self._feed: FollowsFeed | None = None
        self.store: str | None = None  # the feed identity of the store the runtime follows
        self._store_key: tuple[str, str] | None = None
        """How the log marks what the store's feed brought (not sent to its other nodes)."""
        self.contents: ContentDigest | None = None  # the digest, once attached
        self._merging: frozenset[str] = frozenset()
        """The merge contacts (never only announced: replicas may stamp them apart)."""
        self._derived: frozenset[str] = frozenset()  # contacts a wire or a gadget may set
        self._arrived: dict[str, float] = {}  # per origin: see arrived()

    def attach(self, runtime: Runtime) -> ContentDigest:
        """Replicate ``runtime``: log every content it holds now, then every change;
        returns the digest of its contents (:attr:`contents`)."""
        self._runtime = runtime
        if isinstance(runtime, FollowsFeed) and runtime.feed_identity is not None:
            self._feed, self.store = runtime, runtime.feed_identity
            if not self.settings.gossip_feed_values:
                self._store_key = ("store", self.store)
        self._codec = CarryCodec(runtime.spec)
        self._contacts = frozenset(c.id for c in runtime.spec.contacts)
        self._merging = frozenset(c.id for c in runtime.spec.contacts if c.blend is BlendMode.MERGE)
        contents_of = getattr(runtime, "contents_of", None)  # not in the Runtime protocol
        self.contents = ContentDigest(
            self.log, self._merging, runtime.state, runtime.stamped, contents_of
        )
        self._derived = derivable(runtime.spec)
        self.log.record_many(cid for cid, _, _ in runtime.state())
        runtime.add_listener(self._on_result)
        return self.contents

    def _require(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError(f"node {self.node_id!r} has not joined a network yet")
        return self._runtime

    @property
    def oversized(self) -> int:
        """How many contacts hold a content too large to gossip (until it changes)."""
        return len(self._oversized)

    # ---------------------------------------------------------------- local contents

    def check_size(self, contact_id: str, content: Any) -> None:
        """Raise ContentError when ``content`` could never be sent in a delta."""
        limit = self.settings.max_frame_bytes - 4096
        t = type(content)
        if t is int or t is float or t is bool or content is None:
            return
        if t is str and len(content) * 6 < limit:  # even fully escaped it fits
            return
        try:
            size = len(encode(content))
        except ContentError as exc:  # named as the engine and the runtime name it
            if exc.contact is not None:
                raise
            raise ContentError(str(exc), contact_id) from None
        if size > limit:
            raise ContentError(
                f"content is {size} bytes; the gossip limit is {limit} (max_frame_bytes - 4096)",
                contact_id,
            )

    def digest(self) -> str:
        """A hash of the runtime's contents: equal on two nodes exactly when they agree
        (:mod:`bassline.net.content_digest`: a sum of line hashes, kept up to date)."""
        self._require()
        return self.contents.digest()  # type: ignore[union-attr]  # attached

    @property
    def with_content(self) -> int:
        """How many contacts hold content (as of the last :meth:`digest`)."""
        self.digest()
        return len(self.contents.lines)  # type: ignore[union-attr]  # attached

    def _on_result(self, result: PropagationResult) -> None:
        ids, values, stamps = result.touched
        if not ids:
            return
        if self._oversized:
            self._oversized.difference_update(ids)  # a new content: checked when next sent
        source = _SOURCE.get()
        record = self.log.record
        feed = self._feed
        if source is None and feed is not None and (held := feed.from_feed()) is not None:
            store = self._store_key  # values the store holds: its feed carries them
            for cid, value, stamp in zip(ids, values, stamps, strict=True):
                record(cid, store if held(cid, value, stamp) else None)
        elif source is None:
            self.log.record_all(list(ids))
        else:
            holder, items, logged = source  # (peer, its epoch), ...
            sent = unlike_sent(items, ids, values, stamps)
            if sent is None:  # all as the peer sent them (the common case): logged together
                notes = applied_notes(ids, stamps, items, self._merging, self._derived)
                first = self.log.record_all(list(ids), holder, notes)
                if notes is not None:  # each holds its item's write: ready to forward
                    cache_sent(self._codec, self._json_cache, ids, values, stamps, items, first)
                logged.update(ids)
                self.log.notify()
                return
            for cid, value, stamp in zip(ids, values, stamps, strict=True):
                got = sent.get(cid)
                same = (
                    got is not None
                    and got[1] == stamp
                    and (got[0] is value or values_equal(got[0], value))
                )
                if same:
                    record(cid, holder)
                    logged.add(cid)
                else:
                    record(cid)
        self.log.notify()

    # ---------------------------------------------------------------- from peers

    def cursor(self, peer: str) -> tuple[str | None, int]:
        """How far this node has applied ``peer``'s change log: (epoch, seq)."""
        epoch, seq = self._cursors.get(peer, (None, 0))
        return epoch, seq

    async def apply_delta(self, session: LinkState, delta: Delta) -> dict[str, set[str]]:
        """Apply a peer's delta; advance the cursor on its log when nothing was missed.

        Returns the origins (stamps' nodes) of the contents it sent that this node held
        already, each with the peers that had sent that content before (none: this node
        had it otherwise): the peer may stop sending their values (``prune``).
        """
        peer = session.peer
        epoch, seq = self.cursor(peer)
        if delta.epoch != epoch and delta.start == 0:
            epoch, seq = delta.epoch, 0
        contiguous = delta.epoch == epoch and delta.start <= seq
        self.metrics.deltas_in += 1
        self.metrics.items_in += len(delta.items)
        held: dict[str, set[str]] = {}
        if delta.have:  # checked, as the items are, before anything of the delta is applied
            self.metrics.items_announced_in += len(delta.have)
            self._known_announced(delta)
        complete = await self._apply_items(peer, self._carrying(delta), session.peer_epoch, held)
        if delta.have:
            self._announced(session, delta)
        if contiguous and complete and epoch is not None:
            self._cursors[peer] = (epoch, max(seq, delta.end))
        else:
            session.rewind = True
        return held

    def _announced(self, session: LinkState, delta: Delta) -> None:
        """Note what a peer announced: a change this node holds marks the peer as holding
        it too; one it lacks is wanted (grafted unless it comes over another link)."""
        runtime = self._require()
        holder = (session.peer, session.peer_epoch)
        have = delta.have
        contents_of = getattr(runtime, "contents_of", None)  # not in the Runtime protocol
        if contents_of is not None:  # read together, in C loops
            ids = list(map(itemgetter(0), have))
            announced = list(map(itemgetter(1), have))
            current = contents_of(ids)[1]
            if current == announced:
                self.log.hold_all(ids, holder)  # the usual case: held here already
                return
            same = list(map(eq, current, announced))
            if any(same):  # those held here noted together
                self.log.hold_all(list(compress(ids, same)), holder)
            other = list(map(not_, same))
            want = session.want
            for cid, stamp, current_stamp in zip(
                compress(ids, other),
                compress(announced, other),
                compress(current, other),
                strict=True,
            ):
                if current_stamp < stamp:  # lacked here: grafted unless it comes otherwise
                    want(cid, stamp)
            return
        hold, stamped = self.log.hold, runtime.stamped
        for cid, stamp in have:
            current_stamp = stamped(cid)[1]
            if current_stamp == stamp:
                hold(cid, holder)
            elif current_stamp < stamp:
                session.want(cid, stamp)

    def _known_announced(self, delta: Delta) -> None:
        """ProtocolViolation if the delta announces a contact the Bassline lacks."""
        self._require()
        contacts = self._contacts
        if contacts.issuperset(map(itemgetter(0), delta.have)):
            return
        for cid, _ in delta.have:
            if cid not in contacts:
                raise ProtocolViolation(
                    "unknown-contact",
                    f"delta announces contact {cid[:80]!r}, which this Bassline does not have",
                )

    def holds(self, contact: str, stamp: Stamp) -> bool:
        """Whether this node holds ``contact``'s change stamped ``stamp``, or a newer one."""
        return self._require().stamped(contact)[1] >= stamp

    def arrived(self, origin: str) -> float:
        """When a peer last sent a content of ``origin`` not held here (loop time)."""
        return self._arrived.get(origin, -math.inf)

    def _carrying(self, delta: Delta) -> tuple[list[Item], Columns | None]:
        """The delta's items made ready to apply (:func:`~.delta_items.carried_items`)."""
        self._require()
        assert self._codec is not None
        return carried_items(self._codec, self._contacts, delta)

    async def _apply_items(
        self,
        peer: str,
        carrying: tuple[list[Item], Columns | None],
        epoch: str,
        held: dict[str, set[str]],
    ) -> bool:
        runtime = self._require()
        items, columns = carrying
        in_time = False
        newest = None
        if items:
            stamps = columns[2] if columns is not None else list(map(itemgetter(2), items))
            hlcs = list(map(itemgetter(0), stamps))  # ints compared, not the stamps (tuples)
            newest = stamps[hlcs.index(max(hlcs))]
            try:  # the newest stamp first: when the clock takes it, it takes every one
                runtime.observe(newest)
                in_time = True
            except ValueError:
                pass  # one at a time, below: the ones in time are applied
        holder = (peer, epoch)
        fresh = self._drop_held(runtime, items, holder, held, columns)
        if fresh is not items:
            items, columns = fresh, None  # those held here left out: applied item by item
        if items:
            now, arrived = anyio.current_time(), self._arrived
            stamps = columns[2] if columns is not None else list(map(itemgetter(2), items))
            for origin in set(map(itemgetter(1), stamps)):
                arrived[origin] = now
        # in time: the engine checks every content as it applies, all or nothing, so the
        # items are checked one by one only once it refused one
        accepted, complete = (items, True) if in_time else self._admit(peer, items, in_time)
        if not accepted:
            return complete
        # columns: every item in time and none held here (the usual delta), handed to
        # the runtime as they are when it takes them so (its own apply checks the rest)
        apply_columns = None
        if columns is not None and accepted is items:
            apply_columns = getattr(runtime, "apply_columns", None)
        logged: set[str] = set()
        token = _SOURCE.set((holder, accepted, logged))
        try:
            try:
                if apply_columns is not None:
                    await apply_columns(*columns, newest)  # type: ignore[misc]
                else:
                    await runtime.apply(accepted)
            except ContentError:  # raised before anything changed: drop what it refuses
                if accepted is not items:
                    raise
                accepted, complete = self._admit(peer, items, in_time)
                if not accepted:
                    return complete
                _SOURCE.set((holder, accepted, logged))
                await runtime.apply(accepted)
        except JustificationError as exc:  # raised before anything changed
            raise ProtocolViolation("bad-justification", str(exc)) from None
        except PersistenceError as exc:
            self.metrics.apply_errors += 1
            log.error("contents from %s not stored (will be asked for again): %s", peer, exc)
            return False
        finally:
            _SOURCE.reset(token)
        if len(logged) < len(accepted):
            self._note_held(runtime, accepted, holder, logged)
        return complete

    def _admit(
        self, peer: str, items: list[tuple[str, Any, Stamp, Carried | None]], in_time: bool
    ) -> tuple[list[tuple[str, Any, Stamp, Carried | None]], bool]:
        """The items this node may apply now, checked one by one, and whether that is all
        of them (False: some are stamped too far ahead, and asked for again later)."""
        runtime = self._require()
        accepted = []
        complete = True
        for item in items:
            try:
                if not in_time:
                    runtime.observe(item[2])
            except ValueError as exc:
                # kept for later (not confirmed, so asked for again): the clock may catch up
                self.metrics.items_rejected["future-stamp"] += 1
                if self.warned.first((peer, "future-stamp")):
                    log.error(
                        "peer %r sent a value stamped in the future, not applied (later "
                        'ones are only counted, in items_rejected_total{reason="future-stamp"}'
                        "): %s",
                        peer,
                        exc,
                    )
                complete = False
                continue
            try:
                runtime.validate(item[0], item[1])
            except ContentError as exc:
                # refused for good (it is not offered again): a peer's value of the wrong
                # kind for a merge contact changes nothing here, not even a contradiction
                self.metrics.items_rejected["wrong-kind"] += 1
                if self.warned.first((peer, "wrong-kind")):
                    log.error(
                        "peer %r sent a value this node refuses, dropped (later ones are "
                        'only counted, in items_rejected_total{reason="wrong-kind"}): %s',
                        peer,
                        exc,
                    )
                continue
            accepted.append(item)
        return accepted, complete

    def _drop_held(
        self,
        runtime: Runtime,
        items: list[tuple[str, Any, Stamp, Carried | None]],
        holder: tuple[str, str],
        held: dict[str, set[str]],
        columns: Columns | None,
    ) -> list[tuple[str, Any, Stamp, Carried | None]]:
        """The items this node does not hold already (``items`` itself when that is all;
        ``columns``, when given, are theirs). One it holds (the same value and stamp, come
        over another link first) would change nothing: it is not applied, its sender is
        marked as holding it (so it is not sent back), it is counted, and unless that
        sender had sent or announced it before (a resend shows no second path), its
        origin (its stamp's node) is added to ``held`` with the peers that had."""
        contents_of = getattr(runtime, "contents_of", None)  # not in the Runtime protocol
        cids = columns[0] if columns is not None else list(map(itemgetter(0), items))
        sent = columns[2] if columns is not None else list(map(itemgetter(2), items))
        if contents_of is not None:  # read together, in C loops (as columns: no pairs made)
            values, stamps = contents_of(cids)
        else:
            current = list(map(runtime.stamped, cids))
            values, stamps = list(map(itemgetter(0), current)), list(map(itemgetter(1), current))
        if not any(map(eq, stamps, sent)):
            return items  # no item's stamp is the one held: none can be held already
        hold, holders = self.log.hold, self.log.holders
        store = ("store", self.store)
        fresh = []
        for item, value, stamp in zip(items, values, stamps, strict=True):
            if stamp == item[2] and (value is item[1] or values_equal(value, item[1])):
                had = holders(item[0])
                if holder not in had:  # the peer again (a resend): no second path
                    before = held.setdefault(item[2].node, set())
                    for h in had:  # (peer, epoch) pairs, and the store's key
                        if h != store and type(h) is tuple:
                            before.add(h[0])
                hold(item[0], holder)
            else:
                fresh.append(item)
        self.metrics.items_redundant += len(items) - len(fresh)
        return fresh

    def _note_held(
        self,
        runtime: Runtime,
        items: list[tuple[str, Any, Stamp, Carried | None]],
        holder: tuple[str, str],
        logged: set[str],
    ) -> None:
        """Mark ``holder`` as holding what it sent that this node held already (come
        over another link first), so it is not sent back; count those items."""
        hold, stamped = self.log.hold, runtime.stamped
        redundant = 0
        for cid, value, stamp, _ in items:
            if cid in logged:  # applied now, logged as the peer's
                continue
            current, current_stamp = stamped(cid)
            if current_stamp == stamp and (current is value or values_equal(current, value)):
                redundant += 1
                hold(cid, holder)
        self.metrics.items_redundant += redundant

    # ---------------------------------------------------------------- to peers

    def build_delta(self, session: LinkState) -> tuple[bytes | None, int, int]:
        """The next delta frame for ``session``: (frame or None, items, log position).
        A change stamped by an origin the peer pruned (``session.lazy``) is announced, not
        sent, when it is a write (for a derived value or a merge contact's a stamp does not
        say whether the peer holds it); those of origins pruned quietly are left out."""
        store = self._store_key
        ids, scanned, left_out, notes = self.log.since_noted(
            session.scan,
            self.settings.max_delta_items,
            (session.peer, session.peer_epoch),
            store if store is not None and session.peer_store == self.store else None,
            session.quiet,
        )
        if not ids:
            self.metrics.items_left_out += left_out
            return None, 0, scanned  # the peer's cursor moves with the next delta
        codec, runtime, cache = self._codec, self._require(), self._json_cache
        assert codec is not None
        items, whys, have, order, dropped = link_entries(
            runtime, codec, cache, self._merging, self.log, ids, session.lazy, session.quiet, notes
        )
        self.metrics.items_left_out += left_out + dropped
        if dropped and not items and not have:
            return None, 0, scanned
        limit = self.settings.max_frame_bytes
        epoch = self.log.epoch
        while True:
            frame = dump(encode_delta(epoch, session.announced, scanned, items, whys, have))
            if len(frame) <= limit:
                self.metrics.items_announced_out += len(have)
                return frame, len(items), scanned
            if len(order) == 1:
                self._too_large(items[0][0], len(frame))
                return None, 0, self.log.seq_of(items[0][0])
            order = order[: len(order) // 2]  # the older half, in log order
            kept = order.count(False)
            items, whys, have = items[:kept], whys[:kept], have[: len(order) - kept]
            last = have[-1] if order[-1] else items[-1]
            scanned = self.log.seq_of(last[0])

    def build_reply(self, session: LinkState, contacts: list[str]) -> tuple[bytes | None, int, int]:
        """A delta of the current contents of ``contacts`` (what a graft asked for), at
        the peer's position in the log (it moves no cursor): (frame or None, items, how
        many of ``contacts`` it covers). ProtocolViolation for an unknown contact."""
        for cid in contacts:
            if cid not in self._contacts:
                raise ProtocolViolation(
                    "unknown-contact",
                    f"graft names contact {cid[:80]!r}, which this Bassline does not have",
                )
        at, n = session.announced, len(contacts)
        codec, runtime, cache = self._codec, self._require(), self._json_cache
        assert codec is not None
        while True:
            items, whys, _, _ = entries(
                runtime, codec, cache, self._merging, self.log, contacts[:n], ()
            )
            frame = dump(encode_delta(self.log.epoch, at, at, items, whys))
            if len(frame) <= self.settings.max_frame_bytes:
                return (frame if items else None), len(items), n
            if n == 1:
                self._too_large(contacts[0], len(frame))
                return None, 0, 1
            n //= 2

    def _too_large(self, cid: str, size: int) -> None:
        if cid not in self._oversized:  # once per content, not per peer or attempt
            self._oversized.add(cid)
            self.metrics.oversized_values += 1
            log.error(
                "content of %r is too large to gossip (%d bytes, limit %d)",
                cid,
                size,
                self.settings.max_frame_bytes,
            )
