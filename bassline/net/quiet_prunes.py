"""Where each peer's log stood when this node pruned origins there quietly (protocol v5).

A quiet prune (a pre-prune from the link-state table, decisions.md D66) asks the peer to
leave an origin's changes out of its deltas altogether: no value, no announcement. The
cursor on the peer's log moves past them all the same. Should that link later be the one
the origin's values must come over (the peer becomes its parent, or it is reachable no
more), this node rewinds its cursor on the peer's log to where it stood when it first
pruned the origin there, so the peer sends again everything it left out.

The positions outlive the link: a change left out before a redial stays left out, so the
rewind reaches back to the first quiet prune of the origin on any link to that peer. They
are kept for at most :data:`MAX_DEPARTED` peers with no live link: beyond that, the notes
of the peer that left first go, with the cursor on its log, so that a redial of that peer
starts from the beginning of its log as a new peer's link does (nothing left out stays
out; the peer resends all it holds).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["MAX_DEPARTED", "QuietPrunes"]

MAX_DEPARTED = 64
"""Most peers without a live link whose quiet prunes are kept (see the module docs)."""

Position = tuple[str | None, int]
"""A position in a peer's log: (its epoch, a sequence number)."""


class QuietPrunes:
    """Per peer and quietly pruned origin, the position of this node's cursor on the
    peer's log when the origin was first pruned there; ``cursors`` are the replicator's
    cursors on its peers' logs (peer -> (epoch, seq)), which :meth:`rewind` moves back."""

    def __init__(self, cursors: dict[str, tuple[str, int]]) -> None:
        self._cursors = cursors
        self._since: dict[str, dict[str, Position]] = {}
        self._departed: dict[str, None] = {}
        """The noted peers with no live link, those that left first first."""

    def note(self, peer: str, origins: Collection[str]) -> None:
        """``origins`` are pruned quietly on ``peer``'s link now (an origin noted already
        keeps its earlier position)."""
        if not origins:
            return
        cursor: Position = self._cursors.get(peer, (None, 0))
        since = self._since.setdefault(peer, {})
        for origin in origins:
            since.setdefault(origin, cursor)

    def linked(self, peers: Collection[str]) -> None:
        """``peers`` are the peers linked now: the others with notes have departed; the
        notes of those beyond :data:`MAX_DEPARTED` that left first are dropped, with the
        cursor on their logs."""
        departed = self._departed
        for peer in peers:
            departed.pop(peer, None)
        for peer in self._since.keys() - departed.keys() - set(peers):
            departed[peer] = None
        while len(departed) > MAX_DEPARTED:
            peer = next(iter(departed))
            del departed[peer], self._since[peer]
            self._cursors.pop(peer, None)

    def origins(self, peer: str) -> Iterable[str]:
        """The origins noted for ``peer``."""
        return self._since.get(peer, {}).keys()

    def rewind(self, peer: str, origins: Iterable[str]) -> bool:
        """Forget ``origins`` for ``peer`` and move the cursor on its log back to the
        earliest of their positions (to the start of the log when one was in another of
        the peer's epochs), so that the peer, asked to resend from the cursor, sends
        again what it left out. Whether any of them was noted: the cursor may not have
        moved, yet deltas on their way may cover changes left out; the peer must be asked
        to resend all the same."""
        since = self._since.get(peer)
        if not since:
            return False
        epoch, seq = self._cursors.get(peer, (None, 0))
        taken = False
        for origin in origins:
            noted = since.pop(origin, None)
            if noted is not None:
                taken = True
                seq = min(seq, noted[1]) if noted[0] == epoch else 0
        if not since:
            del self._since[peer]
            self._departed.pop(peer, None)
        if taken and epoch is not None:
            self._cursors[peer] = (epoch, seq)
        return taken
