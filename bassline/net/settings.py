"""Tuning knobs of the gossip layer, validated once."""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["DEFAULT_PORT", "GossipSettings"]

DEFAULT_PORT = 8455
"""The port ``bassline start`` listens on by default (the prototype's)."""


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """Seconds: a finite number above 0 (infinity would stop what it paces)."""
    if type(value) not in (int, float):
        raise TypeError(f"{attribute.name} must be a number, got {value!r}")
    if not 0 < value < math.inf:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def _count(_inst: object, attribute: attrs.Attribute[Any], value: int) -> None:
    """A size or a count: a whole number of at least 1."""
    if type(value) is not int:
        raise TypeError(f"{attribute.name} must be a whole number, got {value!r}")
    if value < 1:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def _delay(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if type(value) not in (int, float):
        raise TypeError(f"{attribute.name} must be a number, got {value!r}")
    if not 0 <= value < math.inf:
        raise ValueError(f"{attribute.name} must be a finite number >= 0, got {value!r}")


def _flag(_inst: object, attribute: attrs.Attribute[Any], value: bool) -> None:
    """On or off: ``True`` or ``False`` only (``"no"`` or ``0`` is no answer to take)."""
    if type(value) is not bool:
        raise TypeError(f"{attribute.name} must be True or False, got {value!r}")


@attrs.frozen
class GossipSettings:
    """Intervals, limits and queue bounds of one node's gossip.

    ``heartbeat_timeout`` must be at least three heartbeat intervals, so one late
    heartbeat never evicts a live peer.
    """

    heartbeat_interval: float = attrs.field(default=2.0, validator=_positive)
    """Seconds between heartbeats on an otherwise idle link."""
    heartbeat_timeout: float = attrs.field(default=6.0, validator=_positive)
    """A link with no frame for this long is closed (and redialled by its dialer)."""
    anti_entropy_interval: float = attrs.field(default=1.0, validator=_positive)
    """Seconds between digests sent on every link."""
    handshake_timeout: float = attrs.field(default=5.0, validator=_positive)
    """Connect plus hello plus authentication must finish within this."""
    max_pending_handshakes: int = attrs.field(default=64, validator=_count)
    """Inbound connections not yet past their handshake at once; a newer one evicts the
    oldest (refused ``busy``), so idle strangers cannot lock members out."""
    max_pending_per_address: int = attrs.field(default=8, validator=_count)
    """Of those, at most this many from one address (IPv4, or IPv6 /64); a newer one from
    that address evicts the oldest from that address."""
    reconnect_min: float = attrs.field(default=0.1, validator=_positive)
    """First redial delay; doubles (with jitter) up to ``reconnect_max``."""
    reconnect_max: float = attrs.field(default=5.0, validator=_positive)
    """Largest redial delay (also used after a refusal: wrong secret or Bassline)."""
    max_frame_bytes: int = attrs.field(default=1 << 20, validator=_count)
    """Largest frame accepted or sent; a larger inbound frame is refused (``oversized``) as
    soon as this many bytes of it have arrived."""
    max_handshake_frame_bytes: int = attrs.field(default=64 << 10, validator=_count)
    """Largest frame accepted before the handshake completes (``hello``, ``auth``), or
    ``max_frame_bytes`` if that is smaller (see :attr:`handshake_frame_limit`)."""
    watch_buffer_bytes: int = attrs.field(default=2 << 20, validator=_count)
    """Events an ``/api/changes`` reader may leave untaken; a reader further behind is
    cut off (an ``overflow`` event, then the stream ends)."""
    max_delta_items: int = attrs.field(default=2000, validator=_count)
    """Most contacts in one delta frame."""
    send_queue_frames: int = attrs.field(default=16, validator=_count)
    """Frames queued per peer; a slow peer holds the pusher back (it never buffers more)."""
    push_delay: float = attrs.field(default=0.002, validator=_delay)
    """How long the pusher lets a burst of changes gather before sending them."""
    lazy_push: bool = attrs.field(default=True, validator=_flag)
    """Ask a peer that sends a content this node holds already to only announce further
    changes of that content's origin (``prune``); off: every link carries every value."""
    link_state: bool = attrs.field(default=True, validator=_flag)
    """Prune ahead (with ``lazy_push``): on each link, ask the peer to only announce the
    changes of the origins whose values the link-state table says come over a shorter
    path through another neighbour; off: prunes only follow copies received twice (the
    table is still kept and sent)."""
    graft_delay: float = attrs.field(default=0.5, validator=_positive)
    """How long an announced change this node lacks may take to come over another link
    before the announcing peer is asked for it (``graft``)."""
    peer_exchange_interval: float = attrs.field(default=10.0, validator=_positive)
    """Seconds between ``peers`` messages (known node URLs)."""
    discover: bool = attrs.field(default=True, validator=_flag)
    """Dial peers learned from peers, while fewer than ``target_peers`` are connected."""
    target_peers: int = attrs.field(default=3, validator=_count)
    """How many connections discovery aims for."""
    max_learned_failures: int = attrs.field(default=5, validator=_count)
    """A learned (not configured) peer is forgotten after this many failed dials in a row."""
    shutdown_grace: float = attrs.field(default=1.0, validator=_positive)
    """How long closing waits for goodbyes to reach peers."""
    gossip_feed_values: bool = attrs.field(default=False, validator=_flag)
    """Also send a peer on the same store (its hello names the same feed identity) the
    values this node's change feed brought it; off by default, because the store's feed
    carries them to that peer already (``docs/network.md``)."""

    def __attrs_post_init__(self) -> None:
        if self.heartbeat_timeout < 3 * self.heartbeat_interval:
            raise ValueError(
                f"heartbeat_timeout ({self.heartbeat_timeout}s) must be at least 3x "
                f"heartbeat_interval ({self.heartbeat_interval}s)"
            )
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must not be smaller than reconnect_min")
        if self.max_frame_bytes < 4096:
            raise ValueError("max_frame_bytes must be at least 4096")
        if self.max_handshake_frame_bytes < 1024:
            raise ValueError("max_handshake_frame_bytes must be at least 1024")
        if self.watch_buffer_bytes < 4096:
            raise ValueError("watch_buffer_bytes must be at least 4096")

    @property
    def handshake_frame_limit(self) -> int:
        """The largest frame accepted before the handshake completes."""
        return min(self.max_handshake_frame_bytes, self.max_frame_bytes)
