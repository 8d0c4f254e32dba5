"""``Network.set_run_groups``: ownership moving while the network runs."""

from __future__ import annotations

import pytest

from bassline.clock import NODE_ID_RULE
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
    with pytest.raises(ValueError) as caught:
        net.set_run_groups(["nope", "left", "also", "l-a"])
    assert str(caught.value) == "not gadget groups of network 'adders': 'also', 'l-a', 'nope'"
    assert net.run_groups == frozenset({"left", "right"})


def test_a_group_started_reports_what_its_outputs_contradict() -> None:
    net = Network(
        {
            "id": "one",
            "groups": [{"id": "g", "gadget": "add"}],
            "contacts": [
                {"id": "a"},
                {"id": "b"},
                {"id": "g.a", "group": "g", "name": "a", "boundary": "input"},
                {"id": "g.b", "group": "g", "name": "b", "boundary": "input"},
                {"id": "g.sum", "group": "g", "name": "sum", "boundary": "output"},
                {"id": "total", "lattice": "grow-set"},
            ],
            "wires": [
                {"from": "a", "to": "g.a", "type": "directed"},
                {"from": "b", "to": "g.b", "type": "directed"},
                {"from": "g.sum", "to": "total", "type": "directed"},
            ],
        },
        run_groups=[],
    )
    net.update_many({"a": 1, "b": 2})
    assert net.value("g.sum", None) is None
    result = net.set_run_groups(["g"])
    assert result.changed == {"g.sum": 3}
    assert [(c.contact, c.incoming) for c in result.contradictions] == [("total", 3)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"run_groups": ["nope", "left"]}, "not gadget groups of network 'adders': 'nope'"),
        ({"run_groups": "left"}, "groups must be a collection of group ids, not the string 'left'"),
        ({"step_budget": 0}, "step_budget must be a whole number >= 1 or None, not 0"),
        ({"step_budget": 2.5}, "step_budget must be a whole number >= 1 or None, not 2.5"),
        ({"node_id": ""}, f"{NODE_ID_RULE}, not ''"),
        ({"node_id": 7}, f"{NODE_ID_RULE}, not 7"),
        # what a peer refuses in the hello and in a delta's stamps
        ({"node_id": "a\tb"}, f"{NODE_ID_RULE}, not 'a\\tb'"),
        ({"node_id": "n" * 201}, f"{NODE_ID_RULE}, not {'n' * 201!r:.80}"),
        # not text at all: no JSON (a hello, a delta, an export) can carry it
        ({"node_id": "n\ud800"}, f"{NODE_ID_RULE}, not 'n\\ud800'"),
    ],
)
def test_a_network_refuses_options_it_would_silently_misuse(
    options: dict[str, object], message: str
) -> None:
    """Once, ``run_groups=["nope"]`` or ``"left"`` (its letters) ran no gadget at all, a step
    budget below 1 stopped every run unsettled, node id 7 failed only when stored, and a
    node id with a tab or of 201 characters stamped values no peer would take."""
    with pytest.raises(ValueError) as caught:
        Network(two_adders(), **options)  # type: ignore[arg-type]
    assert str(caught.value) == message
    with pytest.raises(ValueError, match="not the string 'right'"):
        Network(two_adders()).set_run_groups("right")
