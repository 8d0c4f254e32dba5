"""Which gadget groups a node runs, who runs the rest, and how a node reports it.

Plain functions over the Bassline: the node (``bassline.net.node``) calls them when it
joins a network (:func:`choose_groups`), for its status (:func:`group_owners`) and for
its Prometheus text (:func:`running_text`, :func:`gadget_failures_text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bassline.errors import SpecError, SpecProblem
from bassline.net.gossip_metrics import label_value
from bassline.spec import Bassline

__all__ = ["choose_groups", "gadget_failures_text", "group_owners", "running_text"]


def choose_groups(spec: Bassline, node_id: str, groups: Iterable[str] | None) -> list[str]:
    """The gadget groups node ``node_id`` runs (see ``BasslineNetwork.join_network``).

    By default the gadget groups the endpoints assign to the node plus every gadget group
    they assign to no node. ``groups`` chooses instead (a group stands for every gadget
    group in it); naming an unknown group, or one the endpoints assign to another node,
    is a :class:`~bassline.errors.SpecError`.
    """
    assigned = spec.assignments
    if groups is None:
        return sorted(
            g.id for g in spec.groups if g.gadget and assigned.get(g.id, node_id) == node_id
        )
    if isinstance(groups, str):  # not its characters
        raise SpecError(
            [SpecProblem("groups", f"expected a list of group ids, got the string {groups!r}")]
        )
    chosen = list(groups)
    problems = [
        SpecProblem("groups", f"unknown group {g!r} in Bassline {spec.id!r}")
        for g in chosen
        if g not in spec.group_by_id
    ]
    if problems:
        raise SpecError(problems)
    run = sorted({gadget for g in chosen for gadget in spec.gadget_groups_in(g)})
    for g in run:
        owner = assigned.get(g, node_id)
        if owner != node_id:
            problems.append(
                SpecProblem(
                    "groups",
                    f"gadget group {g!r} is assigned to node {owner!r} by the "
                    f"Bassline's endpoints; node {node_id!r} may not run it "
                    "(a group's gadgets run in one process)",
                )
            )
    if problems:
        raise SpecError(problems)
    return run


def group_owners(
    spec: Bassline, node_id: str, shared: Mapping[str, str | None], running: frozenset[str]
) -> dict[str, dict[str, str | None]]:
    """Who runs each gadget group, as node ``node_id`` knows it (``BasslineNetwork.owners``).

    ``shared`` is what the runtime learnt through a shared database (group -> holder),
    ``running`` the groups this node runs now.
    """
    assigned = spec.assignments
    out: dict[str, dict[str, str | None]] = {}
    for g in spec.groups:
        if not g.gadget:
            continue
        if g.id in assigned:
            out[g.id] = {"owner": assigned[g.id], "by": "endpoints"}
        elif g.id in shared:
            out[g.id] = {"owner": shared[g.id], "by": "database"}
        else:
            out[g.id] = {"owner": node_id if g.id in running else None, "by": "local"}
    return out


def gadget_failures_text(counts: Mapping[str, int]) -> str:
    """``bassline_gadget_failures_total`` by gadget id, in Prometheus text format."""
    name = "bassline_gadget_failures_total"
    lines = [
        f"# HELP {name} Gadget failures (raised, or content a port cannot compute with).",
        f"# TYPE {name} counter",
    ]
    samples = sorted(counts.items()) or [("none", 0)]
    lines += [f'{name}{{gadget="{label_value(g)}"}} {n}' for g, n in samples]
    return "\n".join(lines) + "\n"


def running_text(spec: Bassline, running: frozenset[str]) -> str:
    """``bassline_gadget_group_running{group}``: 1 for each gadget group this process runs."""
    name = "bassline_gadget_group_running"
    lines = [
        f"# HELP {name} 1 if this process runs the gadget group now, else 0.",
        f"# TYPE {name} gauge",
    ]
    lines += [
        f'{name}{{group="{label_value(g.id)}"}} {int(g.id in running)}'
        for g in spec.groups
        if g.gadget
    ]
    return "\n".join(lines) + "\n"
