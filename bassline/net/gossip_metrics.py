"""Counters of the gossip layer, as plain data and as Prometheus text."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["NetMetrics", "frame_overhead", "label_value"]


def label_value(text: str) -> str:
    """``text`` escaped for a Prometheus label value (backslash, quote, newline)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def frame_overhead(size: int, masked: bool) -> int:
    """Bytes a WebSocket frame header adds to a payload of ``size`` bytes."""
    header = 2 if size < 126 else 4 if size < 65536 else 10
    return header + (4 if masked else 0)


class NetMetrics:
    """What one node's gossip did: messages, bytes, deltas, rounds, refusals, errors."""

    def __init__(self) -> None:
        self.messages_in: Counter[str] = Counter()
        self.messages_out: Counter[str] = Counter()
        self.bytes_in = 0
        """WebSocket bytes received (payload plus frame header)."""
        self.bytes_out = 0
        """WebSocket bytes sent (payload plus frame header)."""
        self.deltas_in = 0
        self.deltas_out = 0
        self.items_in = 0
        """Contact contents received in deltas."""
        self.items_out = 0
        """Contact contents sent in deltas."""
        self.items_redundant = 0
        """Contents received that this node held already (the same value and stamp,
        come over another link): the cost of links that form cycles."""
        self.items_announced_in = 0
        """Changes peers only announced (contact and stamp, for origins this node pruned)."""
        self.items_announced_out = 0
        """Changes announced to peers instead of sent (counted when the delta is built)."""
        self.items_left_out = 0
        """Changes neither sent nor announced to a peer that pruned their origin quietly
        (counted when the delta is built)."""
        self.grafts = 0
        """Grafts sent: announced changes this node lacked, asked for."""
        self.quiet_rewinds = 0
        """Times this node asked a peer to resend from an earlier position, because an
        origin it had pruned quietly there must now come over that link."""
        self.anti_entropy_rounds = 0
        """Digests sent (each asks a peer for whatever this node lacks)."""
        self.refused: Counter[str] = Counter()
        """Peers refused during the handshake, by reason."""
        self.refused_by_peer: Counter[str] = Counter()
        """Times a peer refused this node, by reason."""
        self.rejected: Counter[str] = Counter()
        """Inbound frames rejected (the link was closed), by reason."""
        self.items_rejected: Counter[str] = Counter()
        """Single items dropped from otherwise valid deltas, by reason."""
        self.disconnects: Counter[str] = Counter()
        """Links that ended, by reason."""
        self.connects = 0
        """Links that completed the handshake."""
        self.dial_failures = 0
        self.apply_errors = 0
        """Deltas whose contents storage did not accept (they are asked for again)."""
        self.oversized_values = 0
        """Contents too large to fit in a frame (not gossiped; see health)."""
        self.api_rejected: Counter[str] = Counter()
        """HTTP API requests refused, by reason."""

    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain data."""
        return {
            "messages_in": dict(self.messages_in),
            "messages_out": dict(self.messages_out),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "deltas_in": self.deltas_in,
            "deltas_out": self.deltas_out,
            "items_in": self.items_in,
            "items_out": self.items_out,
            "items_redundant": self.items_redundant,
            "items_announced_in": self.items_announced_in,
            "items_announced_out": self.items_announced_out,
            "items_left_out": self.items_left_out,
            "grafts": self.grafts,
            "quiet_rewinds": self.quiet_rewinds,
            "anti_entropy_rounds": self.anti_entropy_rounds,
            "refused": dict(self.refused),
            "refused_by_peer": dict(self.refused_by_peer),
            "rejected": dict(self.rejected),
            "items_rejected": dict(self.items_rejected),
            "disconnects": dict(self.disconnects),
            "connects": self.connects,
            "dial_failures": self.dial_failures,
            "apply_errors": self.apply_errors,
            "oversized_values": self.oversized_values,
            "api_rejected": dict(self.api_rejected),
        }

    def prometheus(self, gauges: dict[str, tuple[str, float]], prefix: str = "bassline_net") -> str:
        """Prometheus text (format 0.0.4); ``gauges`` maps name to (help, value)."""
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {prefix}_{name} {help_}")
            lines.append(f"# TYPE {prefix}_{name} {kind}")
            lines.extend(f"{prefix}_{name}{labels} {value}" for labels, value in samples)

        def by(label: str, counts: Counter[str]) -> list[tuple[str, float]]:
            # some reasons come from peers (their refusal codes): escape them
            return [(f'{{{label}="{label_value(k)}"}}', v) for k, v in sorted(counts.items())] or [
                (f'{{{label}="none"}}', 0)
            ]

        for name, (help_, value) in sorted(gauges.items()):
            metric(name, "gauge", help_, [("", value)])
        metric(
            "messages_in_total",
            "counter",
            "Frames received, by type.",
            by("type", self.messages_in),
        )
        metric(
            "messages_out_total", "counter", "Frames sent, by type.", by("type", self.messages_out)
        )
        metric("bytes_in_total", "counter", "WebSocket bytes received.", [("", self.bytes_in)])
        metric("bytes_out_total", "counter", "WebSocket bytes sent.", [("", self.bytes_out)])
        metric("deltas_in_total", "counter", "Delta frames received.", [("", self.deltas_in)])
        metric("deltas_out_total", "counter", "Delta frames sent.", [("", self.deltas_out)])
        metric("items_in_total", "counter", "Contents received in deltas.", [("", self.items_in)])
        metric("items_out_total", "counter", "Contents sent in deltas.", [("", self.items_out)])
        metric(
            "items_redundant_total",
            "counter",
            "Contents received that this node held already.",
            [("", self.items_redundant)],
        )
        metric(
            "items_announced_in_total",
            "counter",
            "Changes peers announced without their values.",
            [("", self.items_announced_in)],
        )
        metric(
            "items_announced_out_total",
            "counter",
            "Changes announced to peers without their values.",
            [("", self.items_announced_out)],
        )
        metric(
            "items_left_out_total",
            "counter",
            "Changes neither sent nor announced to peers that pruned their origin quietly.",
            [("", self.items_left_out)],
        )
        metric(
            "grafts_total",
            "counter",
            "Grafts sent (announced changes this node lacked).",
            [("", self.grafts)],
        )
        metric(
            "quiet_rewinds_total",
            "counter",
            "Peers asked to resend what they left out for an origin pruned quietly.",
            [("", self.quiet_rewinds)],
        )
        metric(
            "anti_entropy_rounds_total",
            "counter",
            "Digests sent to peers.",
            [("", self.anti_entropy_rounds)],
        )
        metric(
            "refused_peers_total",
            "counter",
            "Peers refused, by reason.",
            by("reason", self.refused),
        )
        metric(
            "refused_by_peer_total",
            "counter",
            "Refusals received from peers, by reason.",
            by("reason", self.refused_by_peer),
        )
        metric(
            "frames_rejected_total",
            "counter",
            "Inbound frames rejected, by reason.",
            by("reason", self.rejected),
        )
        metric(
            "items_rejected_total",
            "counter",
            "Items dropped from deltas, by reason.",
            by("reason", self.items_rejected),
        )
        metric(
            "disconnects_total",
            "counter",
            "Links ended, by reason.",
            by("reason", self.disconnects),
        )
        metric("connects_total", "counter", "Links established.", [("", self.connects)])
        metric("dial_failures_total", "counter", "Failed dials.", [("", self.dial_failures)])
        metric(
            "apply_errors_total", "counter", "Deltas storage refused.", [("", self.apply_errors)]
        )
        metric(
            "oversized_values_total",
            "counter",
            "Contents too large to gossip.",
            [("", self.oversized_values)],
        )
        metric(
            "api_rejected_total",
            "counter",
            "HTTP API requests refused, by reason.",
            by("reason", self.api_rejected),
        )
        return "\n".join(lines) + "\n"
