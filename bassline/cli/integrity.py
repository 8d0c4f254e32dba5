"""``bassline storage check``: what an integrity check looks at, as plain data.

For every stored network: its spec loads and is still valid (gadgets and lattices
installed), its contents load and decode, every content belongs to a contact of the
spec and sits in that contact's group, stamps are well formed and not from the future,
merge contacts hold values of their lattice, and every snapshot loads.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
from returns.result import Failure

from bassline.clock import LOGICAL_BITS, Stamp, is_stamp_node
from bassline.codec import to_json
from bassline.engine import Network
from bassline.errors import BasslineError, ContentError
from bassline.spec import Bassline, parse_spec
from bassline.storage import ContentRecord, NetworkStorage

__all__ = ["MAX_FUTURE_MS", "NetworkReport", "check_network"]

MAX_FUTURE_MS = 60_000
"""A stamp further ahead of this machine's clock than this is reported (the runtime's drift bound)."""


@attrs.frozen
class NetworkReport:
    """What the check found for one network."""

    network: str
    contents: int = 0
    snapshots: int = 0
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The report as JSON data."""
        return {
            "network": self.network,
            "contents": self.contents,
            "snapshots": self.snapshots,
            "ok": not self.problems,
            "problems": list(self.problems),
        }


def _stamp_problem(stamp: object, now_hlc: int) -> str | None:
    if not (
        isinstance(stamp, Stamp)
        and type(stamp.hlc) is int
        and 0 <= stamp.hlc < 2**63
        and isinstance(stamp.node, str)
    ):
        return f"malformed stamp {stamp!r}"
    if not is_stamp_node(stamp.node):
        return (
            f"stamp {stamp.hlc} names node {stamp.node!r:.80}, which is no node id (at most "
            "200 characters, no control characters): every peer would refuse the deltas "
            "that carry it"
        )
    if stamp.hlc > now_hlc:
        ahead = (stamp.hlc >> LOGICAL_BITS) - (now_hlc >> LOGICAL_BITS) + MAX_FUTURE_MS
        return f"stamp {stamp.hlc} of node {stamp.node!r} is {ahead} ms in the future"
    return None


def _revalidate(spec: Bassline) -> tuple[Network | None, list[str]]:
    try:
        parse_spec(to_json(spec.to_dict()))
        return Network(spec, apply_initial=False), []
    except BasslineError as exc:
        lines = str(exc).splitlines()
        return None, [f"spec is no longer valid: {line.strip()}" for line in lines[1:] or lines]


def _content_problems(
    spec: Bassline, network: Network | None, records: list[ContentRecord]
) -> list[str]:
    problems: list[str] = []
    now_hlc = (time.time_ns() // 1_000_000 + MAX_FUTURE_MS) << LOGICAL_BITS
    seen: set[str] = set()
    for r in records:
        where = f"contact {r.contact!r}"
        if r.contact in seen:
            problems.append(f"{where} has more than one stored content")
        seen.add(r.contact)
        stamp_problem = _stamp_problem(r.stamp, now_hlc)
        if stamp_problem:
            problems.append(f"{where}: {stamp_problem}")
        contact = spec.contact_by_id.get(r.contact)
        if contact is None:
            problems.append(f"{where} is not in the spec (group {r.group!r})")
            continue
        if contact.group != r.group:
            problems.append(
                f"{where} is stored under group {r.group!r}, but the spec puts it in {contact.group!r}"
            )
        if network is None or stamp_problem:
            continue
        try:
            network.restore([(r.contact, r.value, r.stamp)])
        except ContentError as exc:
            problems.append(str(exc) if exc.contact == r.contact else f"{where}: {exc}")
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
    return problems


async def check_network(storage: NetworkStorage, network: str) -> NetworkReport:
    """Check one stored network; problems are collected, never raised."""
    loaded = await storage.load_network(network)
    if isinstance(loaded, Failure):
        return NetworkReport(network, problems=(f"spec does not load: {loaded.failure()}",))
    spec = loaded.unwrap()
    problems: list[str] = []
    if spec.id != network:
        problems.append(f"stored under {network!r} but the spec's id is {spec.id!r}")
    engine, spec_problems = _revalidate(spec)
    problems += spec_problems
    contents = await storage.load_contents(network)
    count = 0
    if isinstance(contents, Failure):
        problems.append(f"contents do not load: {contents.failure()}")
    else:
        records = contents.unwrap()
        count = len(records)
        problems += _content_problems(spec, engine, records)
    snapshots = await storage.list_snapshots(network)
    n_snapshots = 0
    if isinstance(snapshots, Failure):
        problems.append(f"snapshots do not list: {snapshots.failure()}")
    else:
        infos = snapshots.unwrap()
        n_snapshots = len(infos)
        for info in infos:
            snap = await storage.load_snapshot(network, info.id)
            if isinstance(snap, Failure):
                problems.append(f"snapshot {info.id!r} does not load: {snap.failure()}")
    return NetworkReport(network, count, n_snapshots, tuple(problems))
