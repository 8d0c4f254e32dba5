"""What carrying justifications costs gossip: delta bytes per item, with them and without.

Run: python bench/bench_gossip_bytes.py [--contacts 1000] [--stages 200] [--rounds 20]

The frames are built exactly as a node builds them (``Replicator.build_delta``): each
changed contact's value through ``to_json`` and its stamp, split into deltas of at most
``max_delta_items`` (2000) items, encoded by ``encode_delta`` and ``dump``; with
justifications, each item's ``Network.carried_justification`` through the node's
``CarryCodec`` into the ``whys`` table (protocol v2, what ships); without, the same items
with no ``whys`` (the baseline, the v1 item form). Bytes do not depend on the machine's
load. Every frame with justifications is parsed back and applied to a second network
that runs no gadget, which must then explain the last value completely (a check that
what was measured works).

Also the CPU time (``time.process_time``, so other processes' load counts less than in
wall time) to build the frames, per item, with and without (alternating which goes first,
median of the rounds): the sender's cost; and to receive them (parse, resolve each
entry, apply to a network running no gadget; without: a second such network given the
frames without justifications), the receiver's.

Workloads:

- ``writes``: each round writes every one of ``--contacts`` unconnected contacts (small
  integer values, via ``http``) on node a; one delta item per write.
- ``chain``: ``--stages`` ``add`` gadgets in a chain (``x{k}`` -> ``g{k}.a``, ``step`` ->
  ``g{k}.b``, ``g{k}.sum`` -> ``x{k+1}``; ``step`` written once before the rounds); each
  round writes ``x0``, and the run changes three contacts per stage: a wire copy into the
  gadget, the gadget output, and a wire copy out. The ``b`` input is not in the round's
  delta, so its stamp is sent explicitly; ``a`` is, so it is sent as ``1``. Every stage's
  ``b`` holds the same stamp, so all the outputs share one ``whys`` entry.
- ``chain-own``: the same chain, but stage k's ``b`` comes from a contact of its own,
  ``k{k}``, each written once before the rounds: every output's entry names another
  stamp, so each has its own (the case the sharing does not help).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bassline.codec import to_json
from bassline.engine import Network
from bassline.net.carry import CarryCodec
from bassline.net.protocol import Delta, dump, encode_delta, parse_frame
from bassline.net.settings import GossipSettings
from bassline.spec import Bassline, parse_spec

EPOCH = "0123456789abcdef"


def writes_spec(n: int) -> Bassline:
    return parse_spec({"id": "writes", "contacts": [{"id": f"c{i}"} for i in range(n)]})


def chain_spec(stages: int, own: bool = False) -> Bassline:
    """With ``own``, stage k's ``b`` comes from a contact of its own, ``k{k}``."""
    groups, contacts, wires = [], [{"id": "step"}], []
    for k in range(stages + 1):
        contacts.append({"id": f"x{k}"})
        if own:
            contacts.append({"id": f"k{k}"})
    for k in range(stages):
        g = f"g{k}"
        groups.append({"id": g, "gadget": "add"})
        for port, boundary in (("a", "input"), ("b", "input"), ("sum", "output")):
            contacts.append({"id": f"{g}.{port}", "group": g, "name": port, "boundary": boundary})
        wires += [
            {"from": f"x{k}", "to": f"{g}.a", "type": "directed"},
            {"from": f"k{k}" if own else "step", "to": f"{g}.b", "type": "directed"},
            {"from": f"{g}.sum", "to": f"x{k + 1}", "type": "directed"},
        ]
    return parse_spec({"id": "chain", "groups": groups, "contacts": contacts, "wires": wires})


def frames(net: Network, codec: CarryCodec | None, ids: list[str], limit: int) -> list[bytes]:
    """The delta frames a node sends for ``ids`` (as ``build_delta``), with or without
    justifications."""
    out = []
    for start in range(0, len(ids), limit):
        chunk = ids[start : start + limit]
        items = [(cid, to_json(net.value(cid)), net.stamp(cid)) for cid in chunk]
        whys = None
        if codec is not None:
            whys = [codec.to_wire(cid, net.carried_justification(cid)) for cid in chunk]
        out.append(dump(encode_delta(EPOCH, start, start + len(chunk), items, whys)))
    return out


def receive(receiver: Network, codec: CarryCodec | None, sent: list[bytes]) -> None:
    """Apply the frames as a node does (parse, resolve the whys, apply); without a codec,
    as frames without justifications."""
    for frame in sent:
        delta = parse_frame(frame, 1 << 24)
        assert isinstance(delta, Delta)
        if codec is None:
            receiver.apply(delta.items)
            continue
        held = {cid: (value, stamp) for cid, value, stamp in delta.items}
        items = []
        for n, (cid, value, stamp) in enumerate(delta.items):
            why = delta.whys[n] if delta.whys else None
            items.append(
                (cid, value, stamp, None if why is None else codec.from_wire(cid, why, held))
            )
        receiver.apply(items)


def run(name: str, spec: Bassline, rounds: int, write: object) -> tuple[float, ...]:
    limit = GossipSettings().max_delta_items
    a = Network(spec, node_id="node-a")
    if "step" in a:
        a.update_contact("step", 1, via="http")  # before the first sync: not in the rounds
    for k in range(len(a)):
        if f"k{k}" in a:
            a.update_contact(f"k{k}", 1, via="http")  # one write each: a stamp each
    b = Network(spec, node_id="node-b", run_groups=[])
    b_plain = Network(spec, node_id="node-b", run_groups=[])
    codec = CarryCodec(spec)
    everything = [cid for cid, _, _ in a.state()]
    receive(b, codec, frames(a, codec, everything, limit))
    receive(b_plain, None, frames(a, None, everything, limit))
    with_bytes, without_bytes, with_us, without_us, items = [], [], [], [], 0
    in_with: list[float] = []
    in_without: list[float] = []
    for r in range(rounds):
        result = write(a, r)  # type: ignore[operator]
        ids = list(result.touched[0])
        for order in (codec, None) if r % 2 else (None, codec):  # alternate which goes first
            started = time.process_time()
            built = frames(a, order, ids, limit)
            took = (time.process_time() - started) * 1e6 / len(ids)
            if order is None:
                plain = built
                without_us.append(took)
            else:
                sent = built
                with_us.append(took)
        for order in (codec, None) if r % 2 else (None, codec):
            started = time.process_time()
            if order is None:
                receive(b_plain, None, plain)
                in_without.append((time.process_time() - started) * 1e6 / len(ids))
            else:
                receive(b, codec, sent)
                in_with.append((time.process_time() - started) * 1e6 / len(ids))
        with_bytes.append(sum(map(len, sent)) / len(ids))
        without_bytes.append(sum(map(len, plain)) / len(ids))
        items = len(ids)
    last = ids[-1]
    why = b.explain(last)
    assert why.complete and why.value == a.value(last), (name, why.gaps())
    median = statistics.median
    return (
        median(without_bytes),
        median(with_bytes),
        items,
        median(without_us),
        median(with_us),
        median(in_without),
        median(in_with),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--stages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    def write_all(net: Network, r: int) -> object:
        return net.update_many(
            {f"c{i}": r * args.contacts + i for i in range(args.contacts)}, via="http"
        )

    def write_head(net: Network, r: int) -> object:
        return net.update_contact("x0", r + 1000, via="http")

    print(
        f"{'workload':<9} {'items/round':>11} {'without B/item':>15} {'with B/item':>12} "
        f"{'ratio':>6} {'build µs/item without':>22} {'with':>6} {'ratio':>6} "
        f"{'receive µs/item without':>24} {'with':>6} {'ratio':>6}"
    )
    for name, spec, write in (
        ("writes", writes_spec(args.contacts), write_all),
        ("chain", chain_spec(args.stages), write_head),
        ("chain-own", chain_spec(args.stages, own=True), write_head),
    ):
        without, with_, items, us_without, us_with, in_without, in_with = run(
            name, spec, args.rounds, write
        )
        print(
            f"{name:<9} {items:>11} {without:>15.1f} {with_:>12.1f} {with_ / without:>5.2f}x "
            f"{us_without:>22.2f} {us_with:>6.2f} {us_with / us_without:>5.2f}x "
            f"{in_without:>24.2f} {in_with:>6.2f} {in_with / in_without:>5.2f}x"
        )


if __name__ == "__main__":
    main()
