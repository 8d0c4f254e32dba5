"""How ``bassline explain`` draws each part of an explanation (issue 16): stale inputs,
repeats, cycles, merges with dropped contributions, restored content, failures, long chains."""

from __future__ import annotations

from bassline.cli.explain_tree import draw
from bassline.clock import Stamp
from bassline.engine import CONTRIBUTION_LIMIT, Network
from tests.provenance_restart import chain_with_peak


def test_an_input_that_moved_on_says_what_was_used_and_what_it_holds_now() -> None:
    net = Network(chain_with_peak(), node_id="shop")
    net.update_contact("net", 20, via="http")
    net.update_contact("net", 5, via="cli")
    lines = draw(net.explain("peak"))
    assert lines[:3] == [
        "peak = 22  <- join of 1 contribution",
        "└── offered 22  <- wire from gross",
        "    └── gross used 22, now holds 7  <- wire from total.sum",
    ]
    assert "not fully explained:" in lines
    assert "  - peak: input gross no longer holds the value used" in lines


def test_a_contact_used_twice_is_drawn_once_and_a_remote_write_names_its_node() -> None:
    spec = {
        "id": "diamond",
        "groups": [{"id": "g", "gadget": "add"}],
        "contacts": [
            {"id": "x"},
            {"id": "g.a", "group": "g", "name": "a", "boundary": "input"},
            {"id": "g.b", "group": "g", "name": "b", "boundary": "input"},
            {"id": "g.sum", "group": "g", "name": "sum", "boundary": "output"},
        ],
        "wires": [
            {"from": "x", "to": "g.a", "type": "directed"},
            {"from": "x", "to": "g.b", "type": "directed"},
        ],
    }
    net = Network(spec, node_id="here")
    net.apply([("x", 4, Stamp(9 << 16, "there"))])
    lines = draw(net.explain("g.sum"))
    assert lines[:5] == [
        "g.sum = 8  <- gadget add (group g)",
        "├── a: g.a = 4 (still holds)  <- wire from x",
        "│   └── x = 4  <- written on node there, came here (remote)",
        "└── b: g.b = 4 (still holds)  <- wire from x",
        "    └── x = 4  <- written on node there, came here (remote) (drawn above)",
    ]
    assert lines[5:] == [
        "premises (the writes it rests on):",
        "  x = 4  (on node there, 1970-01-01 00:00:00.009 UTC; came here: remote)",
        "complete: these premises alone reproduce the value",
    ]


def test_a_cycle_is_cut_and_named() -> None:
    spec = {
        "id": "loop",
        "groups": [{"id": "inc", "gadget": "add"}],
        "contacts": [
            {"id": "a"},
            {"id": "step", "content": 1},
            {"id": "inc.a", "group": "inc", "name": "a", "boundary": "input"},
            {"id": "inc.b", "group": "inc", "name": "b", "boundary": "input"},
            {"id": "inc.sum", "group": "inc", "name": "sum", "boundary": "output"},
        ],
        "wires": [
            {"from": "a", "to": "inc.a", "type": "directed"},
            {"from": "step", "to": "inc.b", "type": "directed"},
            {"from": "inc.sum", "to": "a", "type": "directed"},
        ],
    }
    net = Network(spec, step_budget=200)
    net.update_contact("a", 0)
    net.update_contact("step", 2)
    lines = draw(net.explain("inc.sum"))
    assert any(line.endswith("<- explained further up (a cycle)") for line in lines)
    assert any("cycle of justifications" in line for line in lines)


def test_dropped_contributions_restored_content_and_a_failed_gadget_are_said() -> None:
    spec = {"id": "s", "contacts": [{"id": "tags", "lattice": "grow-set"}, {"id": "r"}]}
    net = Network(spec)
    for n in range(CONTRIBUTION_LIMIT + 2):
        net.update_contact("tags", [n])
    lines = draw(net.explain("tags"))
    assert lines[0].startswith(
        f"tags = grow-set{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}  <- join of "
        f"{CONTRIBUTION_LIMIT} contributions, 2 older dropped"
    )
    assert lines[1] == "├── offered grow-set{2}  <- written (python) on node local"
    net.restore([("r", 1, Stamp(5 << 16, "n"))])
    assert draw(net.explain("r")) == [
        "r = 1  <- restored from storage, without its justification",
        "not fully explained:",
        "  - r: restored from storage without its justification",
    ]
    failing = Network(
        {
            "id": "f",
            "groups": [{"id": "g", "gadget": "add"}],
            "contacts": [
                {"id": "g.a", "group": "g", "name": "a", "boundary": "input", "content": 1},
                {"id": "g.b", "group": "g", "name": "b", "boundary": "input", "content": 2},
                {"id": "g.sum", "group": "g", "name": "sum", "boundary": "output"},
            ],
        }
    )
    failing.update_contact("g.a", "text")
    lines = draw(failing.explain("g.sum"))
    assert lines[0] == "g.sum = 3  <- gadget add (group g)"
    assert any(line.startswith("└── gadget add failed: ") for line in lines), lines


def test_a_long_chain_draws_without_recursion_and_long_values_are_cut() -> None:
    n = 1500
    spec = {
        "id": "chain",
        "contacts": [{"id": f"c{i}"} for i in range(n)],
        "wires": [{"from": f"c{i}", "to": f"c{i + 1}", "type": "directed"} for i in range(n - 1)],
    }
    net = Network(spec)
    net.update_contact("c0", "x" * 500)
    lines = draw(net.explain(f"c{n - 1}"))
    assert len(lines) == n + 3  # the contacts, the premise under its heading, "complete"
    assert lines[0] == f'c{n - 1} = "{"x" * 58}…  <- wire from c{n - 2}'
    assert lines[-1] == "complete: these premises alone reproduce the value"
