"""Histograms for ``/metrics``: bucket edges, cumulative counts, the text format's numbers."""

from __future__ import annotations

import pytest

from bassline.runtime.metrics import LATENCY_BUCKETS, Histogram, LatencyWindow, format_value


def test_an_observation_counts_in_the_first_bucket_whose_bound_holds_it() -> None:
    h = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        h.observe(value)
    assert h.buckets() == [(0.1, 2), (1.0, 4), (float("inf"), 5)]
    assert h.count == 5 and h.total == pytest.approx(8.65)


def test_a_latency_window_feeds_its_histogram_and_keeps_percentiles() -> None:
    w = LatencyWindow(size=2)
    for seconds in (0.002, 0.003, 20.0):
        w.add(seconds)
    assert w.count == 3 and w.total == pytest.approx(20.005)  # every duration, ever
    assert w.percentile(0) == 0.003  # the window keeps the last two only
    assert w.histogram.buckets()[-1] == (float("inf"), 3)
    assert w.histogram.bounds == LATENCY_BUCKETS


def test_bounds_must_ascend() -> None:
    for bad in ((), (1.0, 0.5), (0.1, 0.1)):
        with pytest.raises(ValueError, match="ascending"):
            Histogram(bad)


def test_values_are_written_as_prometheus_reads_them() -> None:
    assert format_value(float("inf")) == "+Inf"
    assert format_value(0.00025) == "0.00025"
    assert format_value(10.0) == "10"
    assert format_value(3) == "3"
