"""Runtime metrics: latencies, queue depth, batches, retries, errors, breaker, cache."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

__all__ = ["LatencyWindow", "RuntimeMetrics"]


class LatencyWindow:
    """The most recent ``size`` durations of one operation, for percentiles."""

    def __init__(self, size: int = 4096) -> None:
        self._samples: deque[float] = deque(maxlen=size)
        self.count = 0
        self.total = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self._samples.append(seconds)
        self.count += 1
        self.total += seconds

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

    def snapshot(self, breaker: dict[str, Any]) -> dict[str, Any]:
        """Everything, as plain data."""
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
        }

    def prometheus(self, breaker: dict[str, Any], prefix: str = "bassline_runtime") -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP {prefix}_{name} {help_}")
            lines.append(f"# TYPE {prefix}_{name} {kind}")
            for labels, value in samples:
                lines.append(f"{prefix}_{name}{labels} {value}")

        quantiles = []
        for op, w in sorted(self.latency.items()):
            for q in (50, 95, 99):
                v = w.percentile(q)
                if v is not None:
                    quantiles.append((f'{{operation="{op}",quantile="{q / 100}"}}', v))
            quantiles.append((f'_count{{operation="{op}"}}', w.count))
            quantiles.append((f'_sum{{operation="{op}"}}', w.total))
        lines.append(f"# HELP {prefix}_operation_seconds Storage and update latency.")
        lines.append(f"# TYPE {prefix}_operation_seconds summary")
        for labels, value in quantiles:
            if labels.startswith("_"):
                suffix, rest = labels.split("{", 1)
                lines.append(f"{prefix}_operation_seconds{suffix}{{{rest} {value}")
            else:
                lines.append(f"{prefix}_operation_seconds{labels} {value}")
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
        return "\n".join(lines) + "\n"
