"""``Sharing``: what a runtime does with other processes on the same storage.

Two parts, each present only when the storage can do it: the change feed follower
(:class:`~bassline.storage.FeedsChanges`: :mod:`bassline.runtime.follower`) and turns on
gadget groups (:class:`~bassline.storage.abilities.ClaimsGroups`:
:mod:`bassline.runtime.ownership`). The runtime composes one :class:`Sharing` and calls it
around its recovery (:meth:`Sharing.before_load`, :meth:`Sharing.start`); its accessors
(``feed``, ``group_owners``, ``catch_up``) read from here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

import anyio
from anyio.abc import TaskGroup, TaskStatus
from returns.result import Success

from bassline.engine import Network
from bassline.errors import BasslineError, ContentError, PersistenceError
from bassline.runtime.flusher import Flusher
from bassline.runtime.follower import SOURCE, FeedStats, Follower
from bassline.runtime.ownership import GroupOwnership
from bassline.runtime.policy import positive_seconds
from bassline.spec import Bassline, Boundary
from bassline.storage import ChangeBatch, ContentRecord, FeedsChanges, NetworkStorage
from bassline.storage.abilities import ClaimsGroups, GroupClaims

__all__ = ["Sharing", "split_groups"]

log = logging.getLogger("bassline.runtime")


def split_groups(
    spec: Bassline,
    storage: NetworkStorage,
    run_groups: Iterable[str] | None,
    claim_groups: Iterable[str] | None,
) -> tuple[frozenset[str], frozenset[str]]:
    """The gadget groups a runtime always runs, and those it takes turns on.

    On storage that :class:`~bassline.storage.abilities.ClaimsGroups` with neither list
    given, every gadget group is taken in turns; without claims, a process runs every
    group it is given (both lists).
    """
    gadget_groups = frozenset(g.id for g in spec.groups if g.gadget)
    for name, given in (("run_groups", run_groups), ("claim_groups", claim_groups)):
        if isinstance(given, str):  # not its characters
            raise ValueError(f"{name} must be a collection of group ids, not the string {given!r}")
    runs = gadget_groups if run_groups is None else frozenset(run_groups)
    claimable = frozenset(claim_groups) if claim_groups is not None else frozenset()
    if bad := sorted((runs | claimable) - gadget_groups):
        raise ValueError(f"not gadget groups of network {spec.id!r}: {', '.join(map(repr, bad))}")
    if isinstance(storage, ClaimsGroups):
        if claim_groups is None and run_groups is None:
            claimable = gadget_groups
    else:  # nothing to take turns through: a process runs everything it is given
        runs, claimable = runs | claimable, frozenset()
    return runs - claimable, claimable


class Sharing:
    """Follows the feed and takes turns on ``claimable`` groups for one runtime."""

    def __init__(
        self,
        storage: NetworkStorage,
        network: Network,
        *,
        node_id: str,
        fixed_groups: frozenset[str],
        claimable: frozenset[str],
        claim_interval: float,
        follow: bool,
        feed_resync: float,
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        positive_seconds("claim_interval", claim_interval)  # checked even with nothing to claim
        positive_seconds("feed_resync", feed_resync)
        self.storage = storage
        self.network = network
        self.node_id = node_id
        self.fixed_groups = fixed_groups
        self.claimable = claimable
        self.claim_interval = claim_interval
        self._flush = flush
        self.ownership: GroupOwnership | None = None
        """How the runtime takes turns on its claimable groups (None without any)."""
        self.follower: Follower | None = None
        if follow and isinstance(storage, FeedsChanges):
            self.follower = Follower(storage, network, member=node_id, resync=feed_resync)

    async def before_load(self) -> None:
        """Take the feed position before the runtime loads contents: nothing in between
        is missed."""
        if self.follower is not None:
            await self.follower.start_position()

    async def start(self, task_group: TaskGroup) -> None:
        """Start claiming (first round done) and following (caught up once)."""
        storage = self.storage
        if self.claimable and isinstance(storage, ClaimsGroups):
            claims = storage.group_claims(self.network.spec.id, self.node_id)
            self.ownership = GroupOwnership(claims, self.claimable, self.claim_interval, self._hold)
            await task_group.start(self._own, claims)
        if self.follower is not None:
            await task_group.start(self.follower.run)

    async def _own(
        self, claims: GroupClaims, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        assert self.ownership is not None
        async with claims:
            try:
                await self.ownership.run(task_status=task_status)
            finally:
                self.network.set_run_groups(self.fixed_groups)  # the session is gone

    async def _hold(self, held: frozenset[str]) -> None:
        """Run the fixed groups plus ``held``: stop a lost group at once; catch a gained
        one up (its inputs as storage has them, then its outputs from them)."""
        network = self.network
        gained = held - network.run_groups
        if not gained:
            network.set_run_groups(self.fixed_groups | held)
            return
        network.set_run_groups(network.run_groups & (self.fixed_groups | held))
        items = []
        spec = network.spec
        for group in sorted(gained):
            for c in spec.contacts_of(group):
                if c.boundary is None or c.boundary is Boundary.OUTPUT:
                    continue
                loaded = await self.storage.load_contact_content(spec.id, group, c.id)
                if isinstance(loaded, Success):
                    record = loaded.unwrap()
                    items.append((c.id, record.value, record.stamp))
        named = ", ".join(sorted(gained))
        if items:
            try:
                network.apply(items, source="storage")
            except (ContentError, ValueError) as exc:
                log.warning("catching up gadget groups %s: %s", named, exc)
            except Exception:  # a listener raised, after the run: the groups run all the same
                log.exception("a listener raised catching up gadget groups %s", named)
        try:
            network.set_run_groups(self.fixed_groups | held)
        except Exception:  # a listener raised on the groups' first run, which took place
            # (and a raise here would end the claiming task and with it the runtime)
            log.exception("a listener raised on the first run of gadget groups %s", named)
        try:
            await self._flush()
        except PersistenceError as exc:
            log.warning("storing the outputs of gadget groups %s: %s", named, exc)

    # ---------------------------------------------------------------- observing

    @property
    def feed(self) -> FeedStats:
        """The follower's state (``following`` False without one)."""
        return self.follower.stats if self.follower is not None else FeedStats()

    def join_merges(self, flusher: Flusher, spec: Bassline) -> None:
        """Have ``flusher`` write merge contacts through ``write_joining`` when storage
        joins them (D62), telling :meth:`joined`; the follower then writes back
        no merge contact the feed changed."""
        flusher.join_merges(spec, self.joined)
        if flusher.joins is not None and self.follower is not None:
            self.follower.joined_by_storage = frozenset(c for _, c in flusher.joins)

    def joined(self, records: tuple[ContentRecord, ...]) -> None:
        """Records storage stored for this runtime's own writes to merge contacts that hold
        more than it wrote (what another process had stored: the feed will not bring them
        back, being this runtime's writes). Applied as the feed's records are, so nothing
        is written back that storage holds."""
        if self.follower is not None:
            self.follower.apply(ChangeBatch(0, list(records)))
            return
        items = [(r.contact, r.value, r.stamp, r.justification) for r in records]
        try:
            self.network.apply(items, source=SOURCE, stored=True)
        except (BasslineError, ValueError) as exc:  # a spec storage's joins do not fit
            log.warning("joined records of %r not applied: %s", self.network.spec.id, exc)

    async def catch_up(self) -> None:
        """Read and apply what others committed up to now; nothing when not following.
        Raises :class:`~bassline.errors.PersistenceError` when the read fails."""
        follower = self.follower
        if follower is None:
            await anyio.lowlevel.checkpoint()
            return
        if not await follower.catch_up():
            raise PersistenceError(
                f"cannot read the change feed: {follower.stats.last_error}", None
            )

    def group_owners(self) -> dict[str, str | None]:
        """Who runs each claimable group as of the last claim round (None: nobody)."""
        own = self.ownership
        if own is None:
            return {}
        return {g: own.holders.get(g) for g in sorted(own.groups)}

    def claim_problem(self) -> str | None:
        """Why the last claim round failed, for health (None: it did not)."""
        own = self.ownership
        if own is not None and own.error is not None:
            return f"cannot claim gadget groups: {own.error.message}"
        return None
