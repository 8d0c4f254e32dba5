"""A value a merge contact refuses is recorded in the contact's own form (its lattice's),
as the value kept is: the list ``[6,9]`` written to an interval contact holding ``[1, 5]``
was recorded raw, and explained as ``refused [6,9]`` beside ``[1, 5]``."""

from __future__ import annotations

from typing import Any

from bassline import Network
from bassline.lattices import Interval

SPEC: dict[str, Any] = {
    "id": "iv",
    "contacts": [
        {
            "id": "t",
            "blend": "merge",
            "lattice": "interval",
            "content": {"$type": "interval", "value": [1, 5]},
        }
    ],
}


def test_a_refused_lattice_value_is_in_the_contacts_form_everywhere() -> None:
    net = Network(SPEC, node_id="n")
    result = net.update_contact("t", [6, 9])
    [record] = result.contradictions
    assert type(record.incoming) is Interval and record.incoming == Interval(6, 9)
    assert net.contact("t").contradiction == record
    why = net.explain("t")
    refused = why.contradiction
    assert refused is not None
    assert type(refused.value) is Interval and refused.value == Interval(6, 9)
    assert type(refused.justification.value) is Interval
    assert [(p.contact, p.value) for p in refused.premises()] == [("t", Interval(6, 9))]
    step = why.to_json()["steps"][0]
    tagged = {"$type": "interval", "value": [6, 9]}
    assert step["value"] == {"$type": "interval", "value": [1, 5]}
    assert step["contradiction"]["value"] == tagged
    assert step["contradiction"]["justification"]["value"] == tagged
    assert step["contradiction"]["premises"][0]["value"] == tagged


def test_a_value_of_no_lattice_form_is_refused_as_offered() -> None:
    """A write of one is refused outright (ContentError); one a wire brings is recorded."""
    spec = {
        **SPEC,
        "contacts": [*SPEC["contacts"], {"id": "s"}],
        "wires": [{"from": "s", "to": "t", "type": "directed"}],
    }
    net = Network(spec, node_id="n")
    [record] = net.update_contact("s", "soon").contradictions
    assert record.incoming == "soon"
    assert "is not a value of the interval lattice" in record.reason
    refused = net.explain("t").contradiction
    assert refused is not None and refused.value == "soon"
