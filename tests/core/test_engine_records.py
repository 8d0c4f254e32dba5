"""What a run reports, field by field: contradictions, changes, and equal-stamp ties.

A contradiction names the contact, the reason, both values, where the refused value came
from and its stamp; a run lists a contact as changed only when its content differs from
before; a replica's equal-stamp value that wins the tie carries along its wired copies.
"""

from __future__ import annotations

from bassline.clock import Stamp
from bassline.engine import Network
from bassline.engine.results import Change, ContradictionRecord
from bassline.lattices.values import ShrinkSet
from bassline.spec import parse_spec


def network() -> Network:
    return Network(
        parse_spec(
            {
                "id": "n",
                "contacts": [
                    {"id": "s", "lattice": "shrink-set"},
                    {"id": "d", "lattice": "defined"},
                    {"id": "a"},
                    {"id": "b"},
                ],
                "wires": [{"id": "w", "from": "a", "to": "b"}],
            }
        )
    )


def test_a_refused_value_is_recorded_with_where_it_came_from_and_its_stamp() -> None:
    net = network()
    net.update_contact("s", [1, 2])
    local = net.update_contact("s", [3])
    (record,) = local.contradictions
    assert record == ContradictionRecord(
        contact="s",
        reason="no value is in both sets",
        current=ShrinkSet([1, 2]),
        incoming=[3],
        source="update",
        stamp=record.stamp,
    )
    assert record.stamp.node == "local" and record.stamp > net.stamp("s")
    remote = net.apply([("s", [4], Stamp(5, "peer"))], source="peer-x")
    assert remote.contradictions == (
        ContradictionRecord(
            "s", "no value is in both sets", ShrinkSet([1, 2]), [4], "peer-x", Stamp(5, "peer")
        ),
    )
    assert net.contradictions == {"s": remote.contradictions[0]}
    assert net.value("s") == ShrinkSet([1, 2])


def test_information_a_contact_already_holds_is_neither_a_change_nor_a_contradiction() -> None:
    net = network()
    net.update_contact("s", [1])
    result = net.apply([("s", [1], Stamp(5, "peer"))], source="peer-y")
    assert result.contradictions == () and result.changes == ()


def test_rewriting_the_same_content_is_no_change() -> None:
    net = network()
    first = net.update_contact("a", "z")
    assert [c.contact for c in first.changes] == ["a", "b"]
    again = net.update_contact("a", "z")
    assert again.changes == ()
    assert net.value("b") == "z"


def test_a_first_value_is_a_change_even_when_it_is_null() -> None:
    net = network()
    result = net.update_contact("d", None)
    assert [(c.contact, c.value) for c in result.changes] == [("d", None)]


def test_an_equal_stamp_value_that_wins_the_tie_carries_its_wired_copy() -> None:
    net = network()
    stamp = Stamp(100, "p")
    net.apply([("a", "x", stamp)])
    assert (net.value("b"), net.stamp("b")) == ("x", stamp)
    won = net.apply([("a", "y", stamp)])  # the same write seen from a replica: "y" wins the tie
    assert won.changes == (Change("a", "y", stamp), Change("b", "y", stamp))
    lost = net.apply([("a", "a0", stamp)])  # loses the tie: nothing moves
    assert lost.changes == ()
    assert (net.value("a"), net.value("b")) == ("y", "y")


def test_a_local_write_at_an_older_stamp_never_wins() -> None:
    net = network()
    net.apply([("a", "new", Stamp(10, "n2"))])
    assert net.apply([("a", "old", Stamp(9, "n9"))]).changes == ()
    assert net.apply([("a", "b-tie", Stamp(10, "n1"))]).changes == ()  # lower node: older
    assert net.value("a") == "new" and net.value("b") == "new"
