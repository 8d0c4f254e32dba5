"""``Network.set_run_groups``: ownership moving while the network runs."""

from __future__ import annotations

import pytest

from bassline.engine import Network
from tests.ownership_support import two_adders


def test_a_group_stopped_computes_nothing_and_a_group_started_catches_up() -> None:
    net = Network(two_adders(), run_groups=["left"])
    net.update_many({"l-a": 1, "l-b": 2, "r-a": 3, "r-b": 4})
    assert net.value("l-sum") == 3 and net.value("r-sum", None) is None
    result = net.set_run_groups(["right"])
    assert net.run_groups == frozenset({"right"})
    assert net.value("r-sum") == 7 and result.changed["r-sum"] == 7
    net.update_contact("l-a", 10)
    assert net.value("l-sum") == 3  # stopped: keeps what it had computed
    net.update_contact("r-a", 10)
    assert net.value("r-sum") == 14
    assert not net.set_run_groups(["right"])  # nothing new: nothing runs


def test_only_gadget_groups_of_the_spec_can_run() -> None:
    net = Network(two_adders())
    with pytest.raises(ValueError, match="not gadget groups of network 'adders': 'nope'"):
        net.set_run_groups(["left", "nope"])
    assert net.run_groups == frozenset({"left", "right"})
