"""LogOnce: each key logged once, and never more than ``limit`` keys remembered."""

from __future__ import annotations

import pytest

from bassline.net.log_once import LogOnce


def test_each_key_is_first_once_while_remembered() -> None:
    once = LogOnce(limit=4)
    assert [once.first(k) for k in ("a", "b", "a", ("peer", "x"), ("peer", "x"))] == [
        True,
        True,
        False,
        True,
        False,
    ]
    assert len(once) == 3


def test_the_memory_is_bounded_and_the_oldest_key_is_forgotten_first() -> None:
    once = LogOnce(limit=3)
    assert all(once.first(k) for k in range(1000))
    assert len(once) == 3
    assert not once.first(999)
    assert once.first(0)  # forgotten long ago: logged again
    assert len(once) == 3


def test_a_key_seen_again_is_remembered_longer() -> None:
    once = LogOnce(limit=2)
    once.first("a")
    once.first("b")
    assert not once.first("a")  # now the most recent
    assert once.first("c")  # forgets "b", the least recent
    assert not once.first("a")
    assert once.first("b")


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LogOnce(limit=0)
