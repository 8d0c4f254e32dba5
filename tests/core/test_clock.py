"""The hybrid logical clock and its stamps: exact readings, bounds and the drift limit.

The wall clock is frozen (``time.time_ns`` replaced for the test) so every reading is
exact: a stamp is milliseconds shifted left 16 bits plus a logical counter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bassline.clock import INITIAL_STAMP, LOGICAL_BITS, ZERO_STAMP, HybridLogicalClock, Stamp

MS = 1_000_000  # nanoseconds


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Freeze the wall clock; call the fixture with a time in milliseconds to move it."""
    now = [0]

    def set_ms(ms: float) -> None:
        now[0] = int(ms * MS)

    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    return set_ms


def test_a_stamp_is_milliseconds_above_sixteen_logical_bits() -> None:
    stamp = Stamp((1234 << 16) + 7, "n")
    assert LOGICAL_BITS == 16
    assert stamp.wall_ms == 1234
    assert stamp.to_json() == [(1234 << 16) + 7, "n"]
    assert Stamp(0, "") == ZERO_STAMP and Stamp(1, "") == INITIAL_STAMP
    assert ZERO_STAMP < INITIAL_STAMP < Stamp(2, "") < Stamp(2, "a")


def test_from_json_takes_exactly_an_hlc_in_range_and_a_node() -> None:
    assert Stamp.from_json([0, ""]) == Stamp(0, "")
    assert Stamp.from_json((2**63 - 1, "n")) == Stamp(2**63 - 1, "n")
    bad: list[object] = [
        [-1, "n"],
        [2**63, "n"],
        [True, "n"],
        [1.0, "n"],
        [1, 2],
        [1, "n", "x"],
        [1],
        "1n",
        None,
        {"hlc": 1, "node": "n"},
    ]
    for data in bad:
        with pytest.raises(ValueError) as refused:
            Stamp.from_json(data)
        assert str(refused.value) == f"not a stamp (expected [hlc, node]): {data!r}"


def test_tick_reads_the_wall_clock_in_milliseconds_and_counts_within_one(
    wall: Callable[[float], None],
) -> None:
    wall(5_000.9)
    clock = HybridLogicalClock("n")
    assert clock.last == 0
    assert clock.tick() == Stamp(5_000 << 16, "n")
    assert clock.tick() == Stamp((5_000 << 16) + 1, "n")
    assert clock.last == (5_000 << 16) + 1
    wall(6_000)
    assert clock.tick() == Stamp(6_000 << 16, "n")


def test_tick_never_goes_back_when_the_wall_clock_does(wall: Callable[[float], None]) -> None:
    wall(9_000)
    clock = HybridLogicalClock("n")
    first = clock.tick()
    wall(1_000)
    assert clock.tick() == Stamp(first.hlc + 1, "n")
    assert clock.tick() == Stamp(first.hlc + 2, "n")


def test_ticks_gives_what_as_many_ticks_give_within_one_millisecond(
    wall: Callable[[float], None],
) -> None:
    wall(5_000.2)
    clock, one_by_one = HybridLogicalClock("n"), HybridLogicalClock("n")
    assert clock.ticks(0) == [] and clock.last == 0
    assert (
        clock.ticks(3)
        == [one_by_one.tick() for _ in range(3)]
        == [Stamp((5_000 << 16) + k, "n") for k in range(3)]
    )
    assert clock.last == one_by_one.last == (5_000 << 16) + 2
    wall(1_000)  # the wall clock goes back: the counts go on
    assert clock.ticks(2) == [Stamp((5_000 << 16) + 3, "n"), Stamp((5_000 << 16) + 4, "n")]
    clock.observe(Stamp((5_000 << 16) + 50, "r"))
    assert clock.ticks(1) == [Stamp((5_000 << 16) + 51, "n")]
    wall(6_000)
    assert clock.ticks(2) == [Stamp(6_000 << 16, "n"), Stamp((6_000 << 16) + 1, "n")]
    assert clock.tick() == Stamp((6_000 << 16) + 2, "n")

    class Counting(HybridLogicalClock):
        calls = 0

        def tick(self) -> Stamp:
            self.calls += 1
            return Stamp(self.calls, "c")

    counting = Counting("c")  # a subclass's own tick is called, once a stamp
    assert counting.ticks(3) == [Stamp(1, "c"), Stamp(2, "c"), Stamp(3, "c")]
    assert counting.calls == 3
    for bad in (-1, 1.5, True, "2", None):
        with pytest.raises(ValueError, match="ticks takes a whole number >= 0, not "):
            clock.ticks(bad)  # type: ignore[arg-type]
    assert clock.last == (6_000 << 16) + 2


def test_observe_moves_the_clock_past_a_newer_stamp_only(wall: Callable[[float], None]) -> None:
    wall(5_000)
    clock = HybridLogicalClock("n")
    clock.observe(Stamp((5_000 << 16) + 50, "r"))
    assert clock.last == (5_000 << 16) + 50
    clock.observe(Stamp(3, "old"))
    assert clock.last == (5_000 << 16) + 50
    assert clock.tick() == Stamp((5_000 << 16) + 51, "n")


def test_observe_accepts_up_to_exactly_the_drift_limit(wall: Callable[[float], None]) -> None:
    wall(5_000)
    clock = HybridLogicalClock("n", max_drift_ms=10)
    limit = (5_000 + 10) << 16
    clock.observe(Stamp(limit, "r"))
    assert clock.last == limit
    with pytest.raises(ValueError) as refused:
        clock.observe(Stamp(limit + (3 << 16) + 1, "far"))
    assert str(refused.value) == (
        "stamp from node 'far' is 3 ms beyond the allowed clock drift of 10 ms"
    )
    assert clock.last == limit  # a refused stamp does not move the clock


def test_the_default_drift_limit_is_sixty_seconds(wall: Callable[[float], None]) -> None:
    wall(5_000)
    clock = HybridLogicalClock("n")
    limit = (5_000 + 60_000) << 16
    clock.observe(Stamp(limit, "r"))
    with pytest.raises(ValueError, match="drift of 60000 ms"):
        clock.observe(Stamp(limit + 1, "r"))


@pytest.mark.parametrize(
    "stamp",
    [Stamp(1.5, "peer"), Stamp(True, "peer"), Stamp(-1, "peer"), (5, "peer"), None],
    ids=["float", "bool", "negative", "tuple", "none"],
)
def test_observing_what_is_no_stamp_is_refused_and_the_clock_stays_whole(stamp: Any) -> None:
    """A float reading observed made every later tick a float: every write of the node
    was then refused by storage (``INVALID``) and by its peers, until it restarted."""
    clock = HybridLogicalClock("n")
    before = clock.tick()
    with pytest.raises(ValueError, match="not a stamp to observe"):
        clock.observe(stamp)
    after = clock.tick()
    assert type(after.hlc) is int and after > before


def test_observing_a_float_reading_near_now_is_refused() -> None:
    clock = HybridLogicalClock("n")
    with pytest.raises(ValueError, match="not a stamp to observe"):
        clock.observe(Stamp(float(clock.tick().hlc + 10), "peer"))
    assert type(clock.tick().hlc) is int


@pytest.mark.parametrize("node", ["", None, 5, "a\nb", "x" * 201])
def test_a_clock_is_named_by_a_node_id(node: Any) -> None:
    """``HybridLogicalClock("")`` stamped local writes like a spec's own contents."""
    with pytest.raises(ValueError, match="node_id must be a non-empty string"):
        HybridLogicalClock(node)


@pytest.mark.parametrize("drift", [-1, 1.5, None, True])
def test_a_clocks_drift_is_a_whole_number_of_milliseconds(drift: Any) -> None:
    with pytest.raises(ValueError, match="max_drift_ms must be a whole number >= 0"):
        HybridLogicalClock("n", max_drift_ms=drift)
