"""The restart scenario for provenance, run on every backend: a runtime writes through a
gadget chain, a merge contact and a wire, closes; a fresh runtime on the same storage
explains each value as before the restart."""

from __future__ import annotations

from typing import Any

import anyio

from bassline.engine.explanation import Kind
from bassline.runtime import StorageBackedRuntime
from bassline.spec import Bassline, parse_spec
from bassline.storage import NetworkStorage


def chain_with_peak() -> dict[str, Any]:
    """A gadget chain (net + tax -> gross) with a max contact after it, as a raw spec."""
    return {
        "id": "prices",
        "groups": [{"id": "total", "gadget": "add"}],
        "contacts": [
            {"id": "net"},
            {"id": "tax", "content": 2},
            {"id": "gross"},
            {"id": "peak", "lattice": "max"},
            {"id": "total.a", "group": "total", "name": "a", "boundary": "input"},
            {"id": "total.b", "group": "total", "name": "b", "boundary": "input"},
            {"id": "total.sum", "group": "total", "name": "sum", "boundary": "output"},
        ],
        "wires": [
            {"from": "net", "to": "total.a", "type": "directed"},
            {"from": "tax", "to": "total.b", "type": "directed"},
            {"from": "total.sum", "to": "gross", "type": "directed"},
            {"from": "gross", "to": "peak", "type": "directed"},
        ],
    }


SPEC: Bassline = parse_spec(chain_with_peak())


def _without_derived_stamps(data: Any) -> Any:
    """Explanation JSON without the stamps of steps and justifications: recovery re-runs
    gadgets, whose outputs then carry a stepped stamp (premises keep theirs)."""
    if isinstance(data, dict):
        return {
            k: _without_derived_stamps(v)
            for k, v in data.items()
            if k != "stamp" or "via" in data  # a write's stamp is its premise's
        }
    if isinstance(data, list):
        return [_without_derived_stamps(v) for v in data]
    return data


def _summary(runtime: StorageBackedRuntime) -> dict[str, Any]:
    """What explain says of each contact, in a form that compares across runtimes."""
    net = runtime.network
    out: dict[str, Any] = {}
    for cid in net.values():
        why = net.explain(cid)
        out[cid] = (_without_derived_stamps(why.to_json()), why.complete)
    return out


async def restart_keeps_explanations(storage: NetworkStorage, reopen: Any = None) -> None:
    """Write, close, open a fresh runtime on ``storage`` (or on ``await reopen()``), and
    check that every explanation is what it was and "still holds" is evaluated anew."""
    async with StorageBackedRuntime(SPEC, storage, node_id="shop") as first:
        await first.update_contact("net", 10)
        await first.update_contact("peak", 30)
        await first.update_contact("net", 40)
        before = _summary(first)
        gross_stamp = first.network.stamp("gross")
    assert before["gross"][1] and before["peak"][1]
    second_storage = storage if reopen is None else await reopen()
    async with StorageBackedRuntime(SPEC, second_storage, node_id="shop") as second:
        after = _summary(second)
        assert after == before
        gross = second.network.explain("gross")
        assert gross.justification is not None and gross.justification.stamp == gross_stamp
        (source,) = gross.justification.inputs  # type: ignore[union-attr]
        assert (source.contact, source.holds) == ("total.sum", True)
        run = source.explanation.justification  # type: ignore[union-attr]
        assert run.kind is Kind.GADGET and run.group == "total"
        assert [(i.port, i.value, i.holds) for i in run.inputs] == [("a", 40, True), ("b", 2, True)]
        assert [(p.contact, p.value, p.via, p.stamp.node) for p in gross.premises()] == [
            ("net", 40, "python", "shop"),
            ("tax", 2, "spec", ""),
        ]
        peak = second.network.explain("peak").justification
        assert peak is not None and peak.kind is Kind.MERGE
        assert [(c.kind, c.value) for c in peak.contributions] == [
            (Kind.WRITE, 30),
            (Kind.WIRE, 42),  # 12 from the same wire is included in it, and replaced
        ]
        # "still holds" is judged against current values, not stored ones
        await second.update_contact("net", 1)
    third_storage = storage if reopen is None else await reopen()
    async with StorageBackedRuntime(SPEC, third_storage, node_id="shop") as third:
        peak = third.network.explain("peak")
        (wire,) = [c for c in peak.justification.contributions if c.value == 42]  # type: ignore[union-attr]
        assert wire.inputs[0].contact == "gross" and not wire.inputs[0].holds
        assert third.network.explain("gross").complete


async def feed_explains_what_another_process_wrote(
    writer_storage: NetworkStorage, reader_storage: NetworkStorage
) -> None:
    """Two runtimes on one store: the reader runs no gadgets, so the gadget chain's output
    reaches it only through the change feed, with the writer's stored justification; its
    explanation walks the gadget run down to the writer's write, named with its ``via``."""
    async with (
        StorageBackedRuntime(SPEC, writer_storage, node_id="writer") as writer,
        StorageBackedRuntime(SPEC, reader_storage, node_id="reader", run_groups=[]) as reader,
    ):
        await writer.update_contact("net", 10, via="http")
        with anyio.fail_after(30):
            while reader.value("gross") != 12:  # noqa: ASYNC110 - a poll with a deadline
                await anyio.sleep(0.01)
        net = reader.explain("net")
        assert net.justification is not None and net.justification.kind is Kind.WRITE
        assert (net.justification.via, net.justification.local) == ("http", False)
        assert net.stamp is not None and net.stamp.node == "writer"
        total = reader.explain("total.sum")  # computed by the writer only
        why = total.justification
        assert why is not None and why.kind is Kind.GADGET and why.group == "total"
        assert [(i.port, i.contact, i.value, i.holds) for i in why.inputs] == [
            ("a", "total.a", 10, True),
            ("b", "total.b", 2, True),
        ]
        premises = sorted((p.contact, p.value, p.via) for p in reader.explain("gross").premises())
        assert premises == [("net", 10, "http"), ("tax", 2, "spec")]
