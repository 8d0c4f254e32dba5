"""Runtime metrics: latencies, queue depth, batches, retries, errors, breaker, cache."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

import attrs

from bassline.storage import PoolStats

__all__ = [
    "LATENCY_BUCKETS",
    "Histogram",
    "LatencyWindow",
    "RuntimeMetrics",
    "format_value",
    "pool_prometheus",
]

LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Upper bounds (seconds) of the latency histograms' buckets, 100 µs to 10 s (+Inf above)."""


def format_value(value: float) -> str:
    """A sample value or bucket bound as Prometheus text writes it (``+Inf``, ``0.001``)."""
    if value == float("inf"):
        return "+Inf"
    if isinstance(value, int) or value.is_integer():
        return str(int(value)) if abs(value) < 2**53 else repr(float(value))
    return repr(value)


class Histogram:
    """Counts of observations per bucket (cumulative when read), with their count and sum.

    Unlike a window of recent samples, histograms of several processes add up: Prometheus
    computes quantiles across nodes from them (``histogram_quantile``).
    """

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError(f"histogram bounds must be distinct and ascending, got {bounds!r}")
        self.bounds = tuple(float(b) for b in bounds)
        self._counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation in the first bucket whose bound is at least ``value``."""
        self._counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value

    def buckets(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= bound)`` for every bound and ``inf``: cumulative."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self._counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class LatencyWindow:
    """Durations of one operation: a histogram of all of them (for ``/metrics``) and the
    most recent ``size`` (for percentiles in status and ``metrics``)."""

    def __init__(self, size: int = 4096, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self.histogram = Histogram(bounds)

    @property
    def count(self) -> int:
        """Durations recorded, ever."""
        return self.histogram.count

    @property
    def total(self) -> float:
        """Their sum, in seconds."""
        return self.histogram.total

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self._samples.append(seconds)
        h = self.histogram  # Histogram.observe, inlined: this runs on every update
        h._counts[bisect_left(h.bounds, seconds)] += 1
        h.count += 1
        h.total += seconds

    def percentile(self, p: float) -> float | None:
        """The ``p``-th percentile (0-100) of the window, or None when empty."""
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[k]

    def summary(self) -> dict[str, float | int | None]:
        """count, p50, p95, p99 (seconds)."""
        return {
            "count": self.count,
            "p50": self.percentile(50),
            "p95": self.percentile(95),
            "p99": self.percentile(99),
        }


class RuntimeMetrics:
    """Counters and gauges of one :class:`~bassline.runtime.StorageBackedRuntime`."""

    def __init__(self) -> None:
        self.latency: dict[str, LatencyWindow] = {}
        self.queue_depth = 0
        self.queue_depth_max = 0
        self.batch_sizes = LatencyWindow()
        self.flushed = 0
        """Content records committed."""
        self.coalesced = 0
        """Writes folded into a pending write of the same contact."""
        self.batches = 0
        self.retries = 0
        self.errors: Counter[str] = Counter()
        self.cache_hits = 0
        self.cache_misses = 0
        self.dropped = 0
        """Records given up after a permanent error (each also reported to its writers)."""

    def window(self, operation: str) -> LatencyWindow:
        """The latency window of one operation (created on first use)."""
        window = self.latency.get(operation)
        if window is None:
            window = self.latency[operation] = LatencyWindow()
        return window

    def observe(self, operation: str, seconds: float) -> None:
        """Record how long one operation took."""
        window = self.latency.get(operation)
        if window is None:
            window = self.latency[operation] = LatencyWindow()
        window.add(seconds)

    def set_depth(self, depth: int) -> None:
        """Update the queue-depth gauge."""
        self.queue_depth = depth
        if depth > self.queue_depth_max:
            self.queue_depth_max = depth

    def snapshot(self, breaker: dict[str, Any], pool: PoolStats | None = None) -> dict[str, Any]:
        """Everything, as plain data; ``pool`` is the storage's connection pool, if any."""
        return {
            "latency_seconds": {op: w.summary() for op, w in sorted(self.latency.items())},
            "queue_depth": self.queue_depth,
            "queue_depth_max": self.queue_depth_max,
            "batches": self.batches,
            "batch_size": self.batch_sizes.summary(),
            "flushed": self.flushed,
            "coalesced": self.coalesced,
            "retries": self.retries,
            "dropped": self.dropped,
            "errors": dict(self.errors),
            "breaker": breaker,
            "cache": {"hits": self.cache_hits, "misses": self.cache_misses},
            "pool": None if pool is None else attrs.asdict(pool),
        }

    def prometheus(
        self,
        breaker: dict[str, Any],
        pool: PoolStats | None = None,
        prefix: str = "bassline_runtime",
    ) -> str:
        """The Prometheus text exposition format (version 0.0.4).

        With ``pool``, the storage's connection pool too, as ``bassline_storage_pool_*``.
        """
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {prefix}_{name} {help_}")
            lines.append(f"# TYPE {prefix}_{name} {kind}")
            for labels, value in samples:
                lines.append(f"{prefix}_{name}{labels} {value}")

        name = f"{prefix}_operation_seconds"
        lines.append(f"# HELP {name} Storage and update latency.")
        lines.append(f"# TYPE {name} histogram")
        for op, w in sorted(self.latency.items()):
            for bound, n in w.histogram.buckets():
                lines.append(f'{name}_bucket{{operation="{op}",le="{format_value(bound)}"}} {n}')
            lines.append(f'{name}_sum{{operation="{op}"}} {format_value(w.total)}')
            lines.append(f'{name}_count{{operation="{op}"}} {w.count}')
        metric("queue_depth", "gauge", "Contacts waiting to be written.", [("", self.queue_depth)])
        metric(
            "queue_depth_max", "gauge", "Largest queue depth seen.", [("", self.queue_depth_max)]
        )
        metric("batches_total", "counter", "Batches committed.", [("", self.batches)])
        metric("flushed_total", "counter", "Content records committed.", [("", self.flushed)])
        metric(
            "coalesced_total",
            "counter",
            "Writes folded into a pending write.",
            [("", self.coalesced)],
        )
        metric("retries_total", "counter", "Retried storage writes.", [("", self.retries)])
        metric(
            "dropped_total",
            "counter",
            "Records given up after a permanent error.",
            [("", self.dropped)],
        )
        metric(
            "errors_total",
            "counter",
            "Failed storage writes by error code.",
            [(f'{{code="{code}"}}', n) for code, n in sorted(self.errors.items())]
            or [('{code="none"}', 0)],
        )
        metric(
            "breaker_state",
            "gauge",
            "Circuit breaker state (1 for the current one).",
            [
                (f'{{state="{s}"}}', 1 if breaker["state"] == s else 0)
                for s in ("closed", "open", "half-open")
            ],
        )
        metric(
            "breaker_transitions_total",
            "counter",
            "Circuit breaker transitions.",
            [(f'{{transition="{t}"}}', n) for t, n in sorted(breaker["transitions"].items())]
            or [('{transition="none"}', 0)],
        )
        metric("cache_hits_total", "counter", "Reads served from memory.", [("", self.cache_hits)])
        metric(
            "cache_misses_total",
            "counter",
            "Reads of contacts with no content.",
            [("", self.cache_misses)],
        )
        if pool is not None:
            lines.extend(pool_prometheus(pool))
        return "\n".join(lines) + "\n"


def pool_prometheus(pool: PoolStats, prefix: str = "bassline_storage_pool") -> list[str]:
    """A connection pool's state as Prometheus text lines."""
    lines: list[str] = []
    for name, kind, help_, value in (
        ("size", "gauge", "Connections the pool keeps open (pool_size).", pool.size),
        ("max_overflow", "gauge", "Connections it may open beyond its size.", pool.max_overflow),
        ("connections_open", "gauge", "Connections open, idle or in use.", pool.open),
        ("connections_in_use", "gauge", "Connections checked out by operations.", pool.in_use),
        ("overflow", "gauge", "Open connections beyond the pool's size.", pool.overflow),
        ("waiting", "gauge", "Operations waiting for a connection now.", pool.waiting),
        ("waits_total", "counter", "Operations that waited for a connection.", pool.waits),
        (
            "wait_seconds_total",
            "counter",
            "Seconds operations waited for a connection.",
            pool.wait_seconds,
        ),
    ):
        lines.append(f"# HELP {prefix}_{name} {help_}")
        lines.append(f"# TYPE {prefix}_{name} {kind}")
        lines.append(f"{prefix}_{name} {format_value(value)}")
    return lines
