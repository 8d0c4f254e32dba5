"""Taking turns on gadget groups with other processes on one storage (``ClaimsGroups``).

A :class:`GroupOwnership` holds one claim session of the storage and, in one task, claims
the runtime's claimable groups: at once when the runtime starts, then every
``interval`` seconds (the timed poll by which a waiting process notices that a holder
has gone). When its own session is found lost it stops running the groups at once and
claims again after two intervals, so that a process already waiting gets them first. Each round hands the
groups it holds to the runtime (``on_change``), which stops running a group it lost
before anything else runs and catches a gained group up from storage.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
from anyio.abc import TaskStatus
from returns.result import Failure

from bassline.runtime.policy import positive_seconds
from bassline.storage.abilities import GroupClaims
from bassline.storage.errors import StorageError

__all__ = ["GroupOwnership"]

log = logging.getLogger("bassline.runtime")


class GroupOwnership:
    """Claims ``groups`` through ``claims`` and reports what it holds to ``on_change``."""

    def __init__(
        self,
        claims: GroupClaims,
        groups: frozenset[str],
        interval: float,
        on_change: Callable[[frozenset[str]], Awaitable[None]],
    ) -> None:
        positive_seconds("claim_interval", interval)
        self.claims = claims
        self.groups = groups
        self.interval = interval
        self._on_change = on_change
        self.held: frozenset[str] = frozenset()
        """The groups this process holds (and runs) now."""
        self.holders: dict[str, str] = {}
        """Who held each claimable group at the last round (absent: nobody)."""
        self.error: StorageError | None = None
        """Why the last round failed (None when it succeeded)."""
        self.rounds = 0
        self.losses = 0
        """How often the claim session was found lost while holding groups."""

    async def _set(self, held: frozenset[str]) -> None:
        if held != self.held:
            lost, gained = self.held - held, held - self.held
            self.held = held
            if lost:
                log.warning("no longer running gadget groups %s", ", ".join(sorted(lost)))
            if gained:
                log.info("now running gadget groups %s", ", ".join(sorted(gained)))
            await self._on_change(held)

    async def claim_once(self) -> None:
        """One round: claim what is free, hand the outcome to the runtime."""
        result = await self.claims.claim(self.groups)
        self.rounds += 1
        if isinstance(result, Failure):
            error = result.failure()
            if self.error is None or self.error.message != error.message:
                log.warning("claiming gadget groups failed: %s", error.message)
            self.error = error
            self.holders = {}
            if self.held:  # the session is gone with them (a round can find that first)
                self.losses += 1
            await self._set(frozenset())
            return
        claims = result.unwrap()
        self.error = None
        self.holders = dict(claims.holders)
        await self._set(claims.held & self.groups)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Claim now (then report started), then every ``interval`` or on a lost session."""
        await self.claim_once()
        task_status.started()
        while True:
            if await self.claims.wait_lost(self.interval):
                self.losses += 1
                self.holders = {}
                await self._set(frozenset())  # stop running at once, before anything else
                # give a process already waiting (polling every interval) the first try
                await anyio.sleep(2 * self.interval)
            await self.claim_once()
