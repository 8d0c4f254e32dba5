"""The network's public verbs, result by result: reading, listening, batching, restoring.

Reading: ids sorted, membership, length, values with their stamps, an unknown id refused.
Listening: every run that changed something reaches each listener once, a run that changed
nothing reaches none, and unsubscribing stops only that listener. Batching: writes to one
contact coalesce (a merge contact's by join, keeping both when they contradict; an
accept-last contact's by the last), and ``flush`` applies them in one run.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from bassline import ABSENT, ContentError, Network, Stamp, UnknownContact
from bassline.engine import PropagationResult
from bassline.lattices import GrowSet, Interval, ShrinkSet


def spec() -> dict[str, Any]:
    return {
        "contacts": [
            {"id": "z"},
            {"id": "a"},
            {"id": "lone"},
            {"id": "m", "lattice": "max"},
            {"id": "s", "lattice": "shrink-set"},
            {"id": "g", "lattice": "grow-set"},
        ],
        "wires": [{"from": "z", "to": "a", "type": "directed"}],
    }


def test_reading_ids_values_and_stamps() -> None:
    net = Network(spec(), node_id="n1")
    assert net.contact_ids == ["a", "g", "lone", "m", "s", "z"] and len(net) == 6
    assert "a" in net and "q" not in net and 5 not in net
    net.apply([("z", "v", Stamp(9, "p")), ("m", 3, Stamp(4, "p"))])
    assert net.values() == {"z": "v", "a": "v", "m": 3}
    assert sorted(net.state()) == [
        ("a", "v", Stamp(9, "p")),
        ("m", 3, Stamp(4, "p")),
        ("z", "v", Stamp(9, "p")),
    ]
    assert net.value("lone") is ABSENT and net.value("lone", "none") == "none"
    assert net.value("a", "none") == "v"
    state = net.contact("a")
    assert (state.id, state.value, state.stamp) == ("a", "v", Stamp(9, "p"))
    assert state.contradiction is None and state.failure is None
    for unknown in ("zz", 5, ["a"]):
        with pytest.raises(UnknownContact) as caught:
            net.value(unknown)  # type: ignore[arg-type]
        assert caught.value.contact == str(unknown)
    with pytest.raises(UnknownContact) as caught:
        net.update_contact("lonely", 1)
    assert caught.value.suggestions == ("lone",)


def test_every_run_that_changed_something_reaches_each_listener_once() -> None:
    net = Network(spec())
    first: list[PropagationResult] = []
    second: list[PropagationResult] = []
    stop_first = net.add_listener(first.append)
    net.add_listener(second.append)
    lone = net.update_contact("lone", 1)  # nothing reads "lone": a one-step run
    wired = net.update_contact("z", 2)
    batch = net.update_many({"m": 5, "g": [1]})
    assert first == second == [lone, wired, batch]
    assert [r.changed for r in first] == [
        {"lone": 1},
        {"z": 2, "a": 2},
        {"m": 5, "g": GrowSet([1])},
    ]
    net.apply([("z", "old", Stamp(1, "p"))])  # older: changes nothing, reaches nobody
    net.update_contact("m", 4)  # below the max: nothing changes
    assert len(first) == len(second) == 3
    stop_first()
    last = net.update_contact("lone", 7)
    assert len(first) == 3 and second[-1] is last


def test_batched_writes_coalesce_per_contact_and_flush_in_one_run() -> None:
    net = Network(spec())
    net.submit("m", 3)
    net.submit("m", 8)
    net.submit("m", 5)  # below the join so far: the join stays
    net.submit("z", "first")
    net.submit("z", "last", via="cli")
    net.submit("g", [1])
    net.submit("g", [2])
    net.submit("s", [1, 2])
    net.submit("s", [3])  # contradicts [1, 2]: both are kept, the contradiction is reported
    assert net.pending == 5 and net.values() == {}
    r = net.flush()
    assert net.pending == 0
    assert net.values() == {
        "m": 8,
        "z": "last",
        "a": "last",
        "g": GrowSet([1, 2]),
        "s": ShrinkSet([1, 2]),
    }
    assert [(c.contact, c.incoming) for c in r.contradictions] == [("s", ShrinkSet([3]))]
    assert net.explain("z").premises()[0].via == "cli"
    assert net.flush().changes == ()  # nothing left to apply


def test_a_coalesced_write_carries_the_newest_stamp() -> None:
    net = Network(spec())
    net.submit("m", 8)
    net.submit("m", 3)
    newest = net.clock.tick()  # the next submit's stamp is newer than this one
    net.submit("m", 1)
    net.flush()
    assert net.value("m") == 8 and net.stamp("m") > newest


def test_restored_merge_content_is_a_value_of_its_lattice() -> None:
    net = Network(spec(), apply_initial=False)
    net.restore([("g", [2, 1], Stamp(5, "n")), ("m", 4, Stamp(6, "n"))])
    assert net.value("g") == GrowSet([1, 2]) and type(net.value("g")) is GrowSet
    assert net.update_contact("g", [1]).changes == ()  # joins with the restored set


def test_each_verb_names_where_its_writes_came_from_by_default() -> None:
    net = Network(spec())
    net.update_many([("z", 1)])  # pairs as well as a mapping
    net.submit("m", 7)
    net.flush()
    net.apply([("g", [1], Stamp(5, "p"))])
    with pytest.warns(DeprecationWarning):
        net.apply_many([("s", [1], Stamp(6, "p"))], source="peer-b")
        net.apply_many([("lone", 2, Stamp(7, "p"))])
    premises = {c: net.explain(c).premises()[0] for c in ("z", "m", "g", "s", "lone")}
    assert {c: (p.via, p.local) for c, p in premises.items()} == {
        "z": ("python", True),
        "m": ("python", True),
        "g": ("remote", False),
        "s": ("peer-b", False),
        "lone": ("remote", False),
    }
    assert net.value("a") == 1
    # the stored form a runtime keeps with each value
    assert net.stored_justification("z") == '{"kind":"write","via":"python","local":true}'
    assert net.stored_justification("a") == '{"kind":"wire","from":"z"}'
    assert net.stored_justification("s") == '{"kind":"write","via":"peer-b","local":false}'
    # together, as a runtime asks for a run's changes: the same texts, in order
    every = net.contact_ids
    assert net.stored_justifications(every) == [net.stored_justification(c) for c in every]
    assert net.stored_justifications([]) == []
    assert Network(spec()).stored_justifications(["z", "m"]) == [None, None]  # no values yet
    with pytest.raises(UnknownContact):
        net.stored_justifications(["z", "nope"])


def _old_verbs_warnings() -> list[warnings.WarningMessage]:
    net = Network(spec())
    with pytest.warns(DeprecationWarning) as caught:
        net.update("z", 1)
        net.apply_many([("lone", 2, Stamp(7, "p"))])
    return list(caught)


def test_the_deprecated_verbs_warn_naming_the_new_verb() -> None:
    assert [str(w.message) for w in _old_verbs_warnings()] == [
        "Network.update is deprecated; use Network.update_contact (the runtime's and the "
        "node's name too)",
        "Network.apply_many is deprecated; use Network.apply (the runtime's name too)",
    ]


def test_deprecation_warnings_point_at_the_caller() -> None:
    # (scripts/mutation.py skips this test: mutmut's trampoline adds a call frame)
    net = Network(spec())
    with pytest.warns(DeprecationWarning) as caught:
        net.update("z", 1)  # called here, not through a helper: one frame up is pytest's
        net.apply_many([("lone", 2, Stamp(7, "p"))])
    assert [w.filename for w in caught] == [__file__, __file__]


def test_a_change_stream_holds_1024_results_by_default() -> None:
    net = Network(spec())
    stream = net.changes()
    for n in range(1024):
        net.update_contact("lone", n)
    assert not stream.overflowed
    net.update_contact("lone", 1024)  # one more than it holds: the subscriber is cut off
    assert stream.overflowed


def test_settle_propagates_restored_content_and_reports_what_contradicts() -> None:
    net = Network(
        {
            "contacts": [
                {"id": "z"},
                {"id": "a"},
                {"id": "lo", "lattice": "interval"},
                {"id": "hi", "lattice": "interval"},
            ],
            "wires": [
                {"from": "z", "to": "a", "type": "directed"},
                {"from": "lo", "to": "hi", "type": "directed"},
            ],
        },
        apply_initial=False,
    )
    net.restore(
        [
            ("z", "v", Stamp(5, "n")),
            ("lo", Interval(0, 1), Stamp(5, "n")),
            ("hi", Interval(5, 6), Stamp(6, "n")),
        ]
    )
    r = net.settle()
    assert net.value("a") == "v" and r.changed == {"a": "v"}
    assert [(c.contact, c.incoming) for c in r.contradictions] == [("hi", Interval(0, 1))]


@pytest.mark.parametrize(
    "items",
    [["za"], [("z",)], [("z", 1, 2)], [5], ("z", 1)],
    ids=["a-string", "one-element", "three-elements", "not-a-pair", "one-pair-unwrapped"],
)
def test_update_many_refuses_an_item_that_is_not_a_pair(items: Any) -> None:
    """A string item is not split into a contact id and a value ("za" once wrote "a" to z)."""
    net = Network(spec())
    with pytest.raises(TypeError, match=r"each item must be a \(contact, value\) pair, got "):
        net.update_many(items)
    assert net.values() == {}


@pytest.mark.parametrize(
    "item",
    ["zvs", ("z", "v"), ("z", "v", Stamp(9, "p"), None, "extra"), 7],
    ids=["a-string", "two-elements", "five-elements", "not-a-tuple"],
)
def test_apply_refuses_an_item_of_the_wrong_shape(item: Any) -> None:
    net = Network(spec())
    with pytest.raises(TypeError, match=r"each item must be \(contact, value, stamp\) or "):
        net.apply([("a", 1, Stamp(9, "p")), item])
    assert net.values() == {}
    net.apply([["z", "v", Stamp(9, "p")], ("a", 1, Stamp(9, "p"), None)])  # lists do
    assert net.values() == {"z": "v", "a": 1}


def _cyclic() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (2**64, "64 bits"),
        ("\ud800", "lone surrogate"),
        (["ok", "x\udfff"], "lone surrogate"),
        ({"k": object()}, "object"),
        (_cyclic(), "nested more than"),
        (ABSENT, "cannot write ABSENT"),
        ("text", "not a value of the max lattice"),
    ],
    ids=[
        "nan",
        "inf",
        "big-int",
        "surrogate",
        "surrogate-in-list",
        "object",
        "cyclic",
        "absent",
        "wrong-kind",
    ],
)
def test_update_many_refuses_what_update_contact_refuses_before_anything_changes(
    value: Any, message: str
) -> None:
    """Every item is checked in full before any is written or stamped: the good item
    before the bad one is not written, and the clock has not moved."""
    net = Network(spec(), node_id="n1")
    target = "m" if message.startswith("not a value") else "lone"
    for write in (net.update_contact, lambda c, v: net.update_many({"z": "ok", c: v})):
        last = net.clock.last
        with pytest.raises(ContentError, match=message) as caught:
            write(target, value)
        assert caught.value.contact == target
        assert net.values() == {} and net.clock.last == last


def test_update_many_takes_any_mapping_or_pairs_and_refuses_an_unknown_contact_first() -> None:
    """A dict of known contacts and plain values is checked a column at a time; anything
    else one item at a time: the same writes, the same first error."""
    from types import MappingProxyType

    plain: dict[str, Any] = {"lone": [1, "x"], "z": "v"}  # known, plain, accept-last
    mixed: dict[str, Any] = {"z": "é", "m": 4, "lone": [1, "x"]}  # text, a merge contact
    for writes in (plain, mixed):
        for items in (writes, MappingProxyType(writes), list(writes.items())):
            net = Network(spec(), node_id="n1")
            result = net.update_many(items)
            expected = {**writes, "a": writes["z"]}
            assert net.values() == expected and result.changed == expected
            stamps = [net.stamp(c) for c in writes]
            assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # in order
    net = Network(spec(), node_id="n1")
    last = net.clock.last
    for bad in ({"z": 1, "nope": 2}, {"z": 1, "nope": float("nan")}, {"z": 1, 5: 2}):
        with pytest.raises(UnknownContact):
            net.update_many(bad)  # type: ignore[arg-type]
    with pytest.raises(ContentError, match="'z'"):
        net.update_many({"z": float("nan"), "nope": 2})  # the first item's error
    assert net.values() == {} and net.clock.last == last
