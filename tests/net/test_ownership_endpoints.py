"""Gadget ownership by the Bassline's endpoints, over gossip between real nodes.

A gadget group the endpoints assign to a node runs on that node only: a node the
endpoints do not name (or name for other groups) never runs it, yet receives its
outputs by gossip. While the owner is down, outputs keep their last value.
"""

from __future__ import annotations

from typing import Any

import pytest

from bassline.errors import SpecError
from bassline.net import BasslineNetwork
from bassline.spec import parse_spec

from .conftest import node, wait_until

pytestmark = pytest.mark.anyio


def owned_calculator(*, container: bool = False) -> Any:
    """input-a + input-b -> result through gadget group ``adder``, assigned to ``owner``
    (directly, or through its parent group ``box`` with ``container``)."""
    groups: list[dict[str, Any]] = [{"id": "adder", "gadget": "add"}]
    outer = "root"
    if container:
        groups = [{"id": "box"}, {"id": "adder", "gadget": "add", "parent": "box"}]
        outer = "box"
    return parse_spec(
        {
            "id": "owned",
            "groups": groups,
            "contacts": [
                {"id": "input-a", "group": outer},
                {"id": "input-b", "group": outer},
                {"id": "result", "group": outer},
                {"id": "adder.a", "group": "adder", "name": "a", "boundary": "input"},
                {"id": "adder.b", "group": "adder", "name": "b", "boundary": "input"},
                {"id": "adder.sum", "group": "adder", "name": "sum", "boundary": "output"},
            ],
            "wires": [
                {"from": "input-a", "to": "adder.a", "type": "directed"},
                {"from": "input-b", "to": "adder.b", "type": "directed"},
                {"from": "adder.sum", "to": "result", "type": "directed"},
            ],
            "endpoints": {("box" if container else "adder"): {"node": "owner"}},
        }
    )


@pytest.mark.parametrize("container", [False, True], ids=["group", "container"])
async def test_only_the_named_owner_computes_and_values_still_gossip(container: bool) -> None:
    spec = owned_calculator(container=container)
    assert spec.assignments == {"adder": "owner"}
    async with node("bystander", spec) as (by, sb):
        assert by.groups == frozenset()
        # alone, the bystander writes the inputs: the run reached its fixpoint when the
        # write returned, and it did not compute the owner's group
        await by.update_contact("input-a", 5)
        await by.update_contact("input-b", 7)
        assert by.value("adder.a") == 5 and by.value("result", None) is None
        assert sb.url is not None
        async with node("owner", spec, peers=[sb.url.ws]) as (own, _):
            assert own.groups == frozenset({"adder"})
            await wait_until(lambda: own.value("result", None) == 12, what="the owner's sum")
            await wait_until(lambda: by.value("result", None) == 12, what="the sum gossiped")
            await by.update_contact("input-a", 30)
            await wait_until(lambda: by.value("result", None) == 37, what="the new sum back")
            owners = by.status()["owners"]
            assert owners == {"adder": {"owner": "owner", "by": "endpoints"}}
        # the owner is down: inputs are still accepted, the output keeps its last value
        await by.update_contact("input-b", 100)
        assert by.value("input-b") == 100 and by.value("result") == 37


async def test_a_node_may_not_be_told_to_run_a_group_assigned_to_another() -> None:
    spec = owned_calculator(container=True)
    for groups in (["adder"], ["box"]):
        with pytest.raises(SpecError) as caught:
            async with BasslineNetwork("bystander", spec, groups):
                pass
        assert (
            "gadget group 'adder' is assigned to node 'owner' by the Bassline's endpoints; "
            "node 'bystander' may not run it" in str(caught.value)
        )
    with pytest.raises(SpecError) as caught:  # a string is one id, not its characters
        async with BasslineNetwork("owner", spec, "adder"):  # type: ignore[arg-type]
            pass
    assert "groups: expected a list of group ids, got the string 'adder'" in str(caught.value)
    for bad in ("own\ter", "o" * 201, "", "own\ud800"):  # no peer would take its hello
        with pytest.raises(ValueError, match="without control characters or lone surrogates, not "):
            BasslineNetwork(bad, spec)
    # the owner may name it, or its container, which stands for every gadget group in it
    async with BasslineNetwork("owner", spec, ["box"]) as own:
        assert own.groups == frozenset({"adder"})
        await own.update_many({"input-a": 1, "input-b": 2})
        assert own.value("result") == 3


async def test_unassigned_groups_run_on_every_node_that_is_not_told_otherwise() -> None:
    data = owned_calculator().to_dict()
    data["groups"].append({"id": "doubler", "gadget": "add", "parent": None})
    data["contacts"] += [
        {"id": "doubler.a", "group": "doubler", "name": "a", "boundary": "input"},
        {"id": "doubler.b", "group": "doubler", "name": "b", "boundary": "input"},
        {"id": "doubler.sum", "group": "doubler", "name": "sum", "boundary": "output"},
    ]
    spec = parse_spec(data)
    async with BasslineNetwork("bystander", spec) as by:
        assert by.groups == frozenset({"doubler"})
        assert by.owners() == {
            "adder": {"owner": "owner", "by": "endpoints"},
            "doubler": {"owner": "bystander", "by": "local"},
        }
        await by.update_many({"doubler.a": 1, "doubler.b": 2})
        assert by.value("doubler.sum") == 3


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ({"ghost": {"node": "n1"}}, "$.endpoints.ghost: unknown group 'ghost'"),
        ({"adder": {"node": ""}}, "$.endpoints.adder.node: id must not be empty"),
        ({"adder": {}}, "$.endpoints.adder.node: expected a string id, got null"),
        ({"adder": "n1"}, "$.endpoints.adder: expected an object with 'node' and 'url'"),
    ],
)
def test_an_endpoint_naming_no_group_or_no_node_is_refused_at_spec_load(
    endpoints: dict[str, Any], message: str
) -> None:
    data = owned_calculator().to_dict()
    data["endpoints"] = endpoints
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    assert message in str(caught.value)
