"""Justifications that travel (``Network.carried_justification``) and ``Network.apply``
with them: the receiver explains through its own contacts; a justification that cannot
describe its content raises before anything changes."""

from __future__ import annotations

from typing import Any

import pytest

from bassline.clock import Stamp
from bassline.engine import Kind, Network
from bassline.engine.carried import CarriedGadget, CarriedInput, CarriedWire, CarriedWrite
from bassline.errors import JustificationError
from tests.provenance_restart import chain_with_peak

SPEC: dict[str, Any] = chain_with_peak()


def pair() -> tuple[Network, Network]:
    """a runs the gadget and holds net = 10 (via http); b runs nothing and holds nothing."""
    a = Network(SPEC, node_id="a")
    a.update_contact("net", 10, via="http")
    return a, Network(SPEC, node_id="b", run_groups=[])


def test_what_travels_is_a_reference_per_kind() -> None:
    a, _ = pair()
    stamp = a.stamp("net")
    assert a.carried_justification("net") == CarriedWrite("http")
    assert a.carried_justification("gross") == CarriedWire("total.sum")
    assert a.carried_justification("total.sum") == CarriedGadget(
        "total", (CarriedInput("a", stamp, 10), CarriedInput("b", Stamp(1, ""), 2))
    )
    assert a.carried_justification("peak") == CarriedWire("gross")  # one contribution
    assert a.carried_justification("tax") == CarriedWrite("spec")


def test_the_receiver_explains_a_gadget_it_does_not_run_through_its_own_contacts() -> None:
    a, b = pair()
    b.apply([(c, v, s, a.carried_justification(c)) for c, v, s in a.state()])
    why = b.explain("peak")
    assert why.value == 12 and why.complete, why.gaps()
    assert {(p.contact, p.via, p.local, p.stamp.node) for p in why.premises()} == {
        ("net", "http", False, "a"),
        ("tax", "spec", True, ""),
    }
    run = next(s for s in why.walk() if s.contact == "total.sum").justification
    assert run is not None and run.kind is Kind.GADGET and run.group == "total"
    assert [(i.port, i.value, i.holds) for i in run.inputs] == [("a", 10, True), ("b", 2, True)]
    # b stores what it was told, and it restores on a fresh network
    c = Network(SPEC, node_id="c", run_groups=[], apply_initial=False)
    c.restore([(cid, v, s, b.stored_justification(cid)) for cid, v, s in b.state()])
    assert c.explain("peak").to_json() == why.to_json()


def test_an_input_value_the_receiver_does_not_hold_falls_back_to_an_applied_write() -> None:
    a, b = pair()
    # as the wire gives it: stamps only; b holds tax's (the spec's) but net never came
    stamp = a.stamp("net")
    sent = CarriedGadget("total", (CarriedInput("a", stamp), CarriedInput("b", Stamp(1, ""))))
    b.apply([("total.sum", 12, a.stamp("total.sum"), sent)])
    why = b.explain("total.sum")
    assert why.justification is not None and why.justification.kind is Kind.WRITE
    assert (why.justification.via, why.justification.local) == ("remote", False)


def test_an_input_value_that_comes_in_the_same_batch_explains_the_gadget_run() -> None:
    a, b = pair()
    # stamps only, as the wire gives them; b lacks port a's value before, and it comes
    # with the output
    stamp = a.stamp("net")
    sent = CarriedGadget("total", (CarriedInput("a", stamp), CarriedInput("b", Stamp(1, ""))))
    b.apply(
        [
            ("net", 10, stamp, CarriedWrite("http")),
            ("total.a", 10, stamp, CarriedWire("net")),
            ("total.sum", 12, a.stamp("total.sum"), sent),
        ]
    )
    run = b.explain("total.sum").justification
    assert run is not None and run.kind is Kind.GADGET and run.group == "total"
    assert [(i.port, i.value) for i in run.inputs] == [("a", 10), ("b", 2)]


BAD = [
    ("gross", "a justification", "not a justification: str"),
    ("gross", CarriedWire("net"), "no wire from 'net' reaches this contact"),
    ("gross", CarriedWire("nowhere"), "no wire from 'nowhere' reaches this contact"),
    ("gross", CarriedWrite(""), "a write's via must be a label of 1 to 200 characters"),
    ("gross", CarriedWrite("a\nb"), "none of them a control character"),
    ("gross", CarriedWrite("x" * 201), "a write's via must be a label of 1 to 200 characters"),
    ("gross", CarriedWrite("\ud800"), "or a lone surrogate"),
    ("gross", CarriedWrite(5), "a write's via must be a label"),  # type: ignore[arg-type]
    (
        "total.sum",
        CarriedGadget("total", (CarriedInput("a", Stamp(1, ""), float("nan")),)),
        "input 'a' carries nan is not valid JSON",
    ),
    (
        "total.sum",
        CarriedGadget("total", (CarriedInput("a", Stamp(1, ""), {1, 2}),)),
        "input 'a' carries",
    ),
    (
        "total.sum",
        CarriedGadget("total", (CarriedInput("a", Stamp(1, ""), 10**30),)),
        "input 'a' carries integer",
    ),
    ("gross", CarriedWrite("http", Stamp(2**62, "a")), "no newer than the content's"),
    ("gross", CarriedGadget("total", ()), "contact 'gross' is no output of a gadget group"),
    ("total.sum", CarriedGadget("nope", ()), "no output of a gadget group 'nope'"),
    ("total.sum", CarriedGadget("total", (CarriedInput("c", Stamp(1, "")),)), "no input port"),
    (
        "total.sum",
        CarriedGadget("total", (CarriedInput("a", Stamp(1, "")), CarriedInput("a", Stamp(1, "")))),
        "or it is named twice",
    ),
    (
        "total.sum",
        CarriedGadget("total", (CarriedInput("a", Stamp(2**62, "a")),)),
        "input 'a' must carry a stamp no newer than the output's",
    ),
    ("total.sum", CarriedGadget("total", ("a",)), "a gadget input must be a CarriedInput"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("contact", "carried", "message"), BAD)
def test_a_justification_that_cannot_describe_its_content_raises_and_changes_nothing(
    contact: str, carried: Any, message: str
) -> None:
    a, b = pair()
    held = b.values()
    with pytest.raises(JustificationError, match=message.replace("(", r"\(")):
        b.apply([("tax", 5, a.clock.tick(), None), (contact, 12, a.stamp("net"), carried)])
    assert b.values() == held


def test_a_merge_input_travels_with_its_value_and_an_accept_last_one_with_its_stamp() -> None:
    """Only total.sum crosses (as a frame, encoded and parsed as a node does): its merge
    input's value came with it, so the run is explained though the receiver holds no such
    input; an accept-last input it does not hold leaves the value an applied write."""
    from bassline.codec import to_json
    from bassline.net.carry import CarryCodec
    from bassline.net.protocol import Delta, dump, encode_delta, parse_frame

    spec = {
        **SPEC,
        "contacts": [
            {**c, "lattice": "max"} if c["id"] == "total.a" else c for c in SPEC["contacts"]
        ],
    }
    a = Network(spec, node_id="a")
    a.update_contact("net", 10, via="http")
    codec = CarryCodec(a.spec)
    for receiver_holds_tax, kind in ((True, Kind.GADGET), (False, Kind.WRITE)):
        b = Network(spec, node_id="b", run_groups=[], apply_initial=receiver_holds_tax)
        items = [("total.sum", to_json(a.value("total.sum")), a.stamp("total.sum"))]
        whys = [codec.to_wire("total.sum", a.carried_justification("total.sum"))]
        frame = dump(encode_delta("0" * 16, 0, 1, items, whys))
        assert b'"whys":[["g",[[' in frame  # both inputs at explicit stamps
        delta = parse_frame(frame, 1 << 20)
        assert isinstance(delta, Delta) and delta.whys[0] is not None
        held = {c: (v, s) for c, v, s in delta.items}
        ((cid, value, stamp),) = delta.items
        b.apply([(cid, value, stamp, codec.from_wire(cid, delta.whys[0], held))])
        why = b.explain("total.sum").justification
        assert why is not None and why.kind is kind
        if kind is Kind.GADGET:
            assert [(i.port, i.value, i.holds) for i in why.inputs] == [
                ("a", 10, False),  # carried; b's total.a holds nothing
                ("b", 2, True),
            ]


def test_a_batch_sharing_write_references_explains_each_item_by_its_own_via() -> None:
    """A peer's delta shares one CarriedWrite per via among its items, and apply resolves
    each shared object once: items with another via, or an equal one in another object,
    keep theirs; a shared one that is refused is refused for its first item."""
    net = Network({"id": "n", "contacts": [{"id": f"c{i}"} for i in range(5)]}, node_id="b")
    http, cli = CarriedWrite("http"), CarriedWrite("cli")
    stamps = [Stamp(10 + i, "a") for i in range(5)]
    net.apply(
        [
            ("c0", 0, stamps[0], http),
            ("c1", 1, stamps[1], cli),
            ("c2", 2, stamps[2], http),
            ("c3", 3, stamps[3], CarriedWrite("http")),
            ("c4", 4, stamps[4], CarriedWrite("http", Stamp(9, "a"))),
        ]
    )
    vias = [net.explain(f"c{i}").justification for i in range(5)]
    assert [(j.via if j else None) for j in vias] == ["http", "cli", "http", "http", "http"]
    bad = CarriedWrite("")
    with pytest.raises(JustificationError, match="contact 'c1'"):
        net.apply([("c1", 9, Stamp(20, "a"), bad), ("c2", 9, Stamp(21, "a"), bad)])
    assert net.value("c1") == 1 and net.value("c2") == 2
