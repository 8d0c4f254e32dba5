"""Turning a batch into what the log and the index need, checking it against the index.

Planning reads the index and changes nothing, so a batch that fails any check (a
missing network or group, an unencodable value) leaves no trace. The plan carries the
batch's framed records, ready for one append, and the changes to apply once it is durable.
"""

from __future__ import annotations

from operator import itemgetter

import attrs

from bassline.errors import ContentError
from bassline.spec import Bassline, GroupSpec, WireSpec
from bassline.storage import ErrorCode, StorageError, WriteSummary
from bassline.storage.toolkit import (
    CheckedBatch,
    ContentColumns,
    missing_group,
    missing_network,
)
from bassline_storage_fs.entries import (
    Whys,
    content_frame,
    contents_frame,
    spec_frame,
    whys_frame,
)
from bassline_storage_fs.index import ContentTable, Index
from bassline_storage_fs.specs import (
    SpecDecodeError,
    group_ids,
    merged,
    spec_from_bytes,
    spec_to_bytes,
)

__all__ = ["MAX_RECORD_BYTES", "Plan", "Rows", "plan_batch", "plan_columns"]

MAX_RECORD_BYTES = 256 * 1024 * 1024
"""The largest content value (or spec) one record may hold, in canonical JSON bytes."""


def _too_big(what: str, size: int) -> StorageError:
    return StorageError(
        ErrorCode.LIMIT_EXCEEDED,
        f"{what} is {size:,} bytes encoded; the file backend stores at most "
        f"{MAX_RECORD_BYTES:,} bytes per record",
        transient=False,
    )


@attrs.frozen
class Rows:
    """Contents to store in one network, as columns (contacts distinct)."""

    contacts: list[str] = attrs.field(factory=list)
    groups: list[str] = attrs.field(factory=list)
    hlcs: list[int] = attrs.field(factory=list)
    nodes: list[str] = attrs.field(factory=list)
    values: list[bytes] = attrs.field(factory=list)
    whys: list[str | None] = attrs.field(factory=list)

    def store_in(self, table: ContentTable) -> None:
        """Put these rows into ``table``."""
        table.put_rows(self.contacts, self.groups, self.hlcs, self.nodes, self.values, self.whys)

    def whys_record(self, network: str) -> bytes | None:
        """The WHYS record of the rows that have a justification (None: none has one)."""
        picked = [n for n, why in enumerate(self.whys) if why is not None]
        if not picked:
            return None
        return whys_frame(
            Whys(
                network,
                [self.contacts[n] for n in picked],
                [self.hlcs[n] for n in picked],
                [self.nodes[n] for n in picked],
                [self.whys[n] for n in picked],  # type: ignore[misc]
            )
        )


@attrs.frozen
class Plan:
    """A checked batch: its log records and the index changes they stand for."""

    specs: dict[str, tuple[bytes, frozenset[str]]]
    """New spec (canonical JSON) and group ids per network."""
    contents: dict[str, Rows]
    """The contents to store per network, stale ones already dropped."""
    newest: tuple[int, str]
    """The greatest stamp among ``contents`` (``(0, "")`` if none)."""
    frames: bytes
    count: int
    """How many records ``frames`` holds."""
    summary: WriteSummary


def _current_spec(index: Index, network: str) -> Bassline | StorageError | None:
    state = index.networks.get(network)
    if state is None:
        return None
    try:
        return spec_from_bytes(state.spec)
    except SpecDecodeError as exc:
        return StorageError(ErrorCode.CORRUPTION, f"network {network!r}: {exc}")


def _plan_specs(
    nb: CheckedBatch, index: Index
) -> dict[str, tuple[bytes, frozenset[str]]] | StorageError:
    specs: dict[str, Bassline] = {r.spec.id: r.spec for r in nb.networks}
    groups: dict[str, list[GroupSpec]] = {}
    wires: dict[str, list[WireSpec]] = {}
    for g in nb.groups:
        groups.setdefault(g.network, []).append(g.group)
    for w in nb.wires:
        wires.setdefault(w.network, []).append(w.wire)
    for network in sorted(groups.keys() | wires.keys()):
        base = specs.get(network) or _current_spec(index, network)
        if base is None:
            kind, item = (
                ("group", groups[network][0].id)
                if network in groups
                else ("wire", wires[network][0].id)
            )
            return missing_network(kind, item, network)
        if isinstance(base, StorageError):
            return base
        specs[network] = merged(base, groups.get(network, ()), wires.get(network, ()))
    out: dict[str, tuple[bytes, frozenset[str]]] = {}
    for network, spec in specs.items():
        try:
            out[network] = (spec_to_bytes(spec), group_ids(spec))
        except (ContentError, TypeError, ValueError, AttributeError) as exc:
            return StorageError(
                ErrorCode.SERIALIZATION,
                f"spec of network {network!r} cannot be encoded: {exc}",
                transient=False,
                cause=exc,
            )
    return out


def plan_columns(columns: ContentColumns, index: Index, *, whys: bool) -> Plan | None:
    """Plan a simple batch (the contents of one stored network) as one CONTENTS record,
    a column at a time; None when the per-record path must decide (or report) instead."""
    network = columns.networks[0]
    state = index.networks.get(network)
    if state is None or len(set(columns.networks)) != 1:
        return None
    if not state.groups.issuperset(columns.groups):
        return None
    groups, contacts, hlcs, nodes = columns.groups, columns.contacts, columns.hlcs, columns.nodes
    stamps, encoded = columns.stamps, columns.encoded
    justifications = columns.justifications if whys else ()
    if not any(justifications):
        justifications = (None,) * len(contacts)
    if sum(map(len, encoded)) + sum(map(len, contacts)) > MAX_RECORD_BYTES:
        return None  # one record per content keeps every frame within its size limit
    keep = state.contents.newer_or_equal(contacts, stamps)
    stale = len(contacts) - len(keep)
    if stale:
        if not keep:
            return Plan({}, {}, (0, ""), b"", 0, WriteSummary(contents=0, stale=stale))
        pick = itemgetter(*keep) if len(keep) > 1 else lambda c: (c[keep[0]],)
        groups, contacts, hlcs, nodes = pick(groups), pick(contacts), pick(hlcs), pick(nodes)
        stamps, encoded = pick(stamps), list(pick(encoded))
        justifications = pick(justifications)
    frames = contents_frame(network, groups, contacts, hlcs, nodes, encoded)
    if frames is None:
        return None
    rows = Rows(
        list(contacts), list(groups), list(hlcs), list(nodes), list(encoded), list(justifications)
    )
    count = 1
    if any(justifications):
        record = rows.whys_record(network)
        if record is None:
            return None
        frames += record
        count = 2
    summary = WriteSummary(contents=len(contacts), stale=stale)
    return Plan({}, {network: rows}, max(stamps), frames, count, summary)


def plan_batch(
    nb: CheckedBatch, index: Index, *, columns: bool = False, whys: bool = False
) -> Plan | StorageError:
    """Check a checked batch against ``index`` and frame it.

    With ``columns``, a simple batch of contents is framed as one CONTENTS record
    (logs of version 2 and later); otherwise each content is a CONTENT record. With
    ``whys`` (logs of version 3 and later), the contents' justifications follow in one
    WHYS record per network; without, they are not stored.
    """
    if columns and nb.columns is not None:
        plan = plan_columns(nb.columns, index, whys=whys)
        if plan is not None:
            return plan
    specs = _plan_specs(nb, index) if nb.networks or nb.groups or nb.wires else {}
    if isinstance(specs, StorageError):
        return specs
    for network, (spec, _) in specs.items():
        if len(spec) > MAX_RECORD_BYTES:
            return _too_big(f"the spec of network {network!r}", len(spec))
    frames = [spec_frame(network, spec) for network, (spec, _) in specs.items()]
    contents: dict[str, Rows] = {}
    # per network: (stored contents, group ids, UTF-8 id, planned contents); per text: UTF-8
    targets: dict[str, tuple[ContentTable, frozenset[str], bytes, Rows]] = {}
    utf8: dict[str, bytes] = {}
    stale = stored = 0
    newest = (0, "")
    for record, value in zip(nb.contents, nb.encoded, strict=True):
        network, group, contact = record.network, record.group, record.contact
        target = targets.get(network)
        if target is None:
            state = index.networks.get(network)
            planned = specs.get(network)
            if planned is None and state is None:
                return missing_network("content", contact, network)
            target = (
                state.contents if state is not None else ContentTable(),
                planned[1] if planned is not None else state.groups,  # type: ignore[union-attr]
                network.encode("utf-8", "surrogatepass"),
                contents.setdefault(network, Rows()),
            )
            targets[network] = target
        current_contents, groups, network_utf8, planned_contents = target
        if group not in groups:
            return missing_group(network, group, contact)
        stamp = record.stamp
        hlc, node = stamp
        current = current_contents.get(contact)
        if current is not None and (hlc, node) < (current[1], current[2]):
            stale += 1
            continue
        if len(value) + len(node) > MAX_RECORD_BYTES:
            return _too_big(f"the content of contact {contact!r} (with its stamp)", len(value))
        if stamp > newest:
            newest = stamp
        planned_contents.contacts.append(contact)
        planned_contents.groups.append(group)
        planned_contents.hlcs.append(hlc)
        planned_contents.nodes.append(node)
        planned_contents.values.append(value)
        planned_contents.whys.append(record.justification if whys else None)
        group_utf8 = utf8.get(group)
        if group_utf8 is None:
            group_utf8 = utf8[group] = group.encode("utf-8", "surrogatepass")
        node_utf8 = utf8.get(node)
        if node_utf8 is None:
            node_utf8 = utf8[node] = node.encode("utf-8", "surrogatepass")
        frames.append(
            content_frame(
                network_utf8,
                group_utf8,
                contact.encode("utf-8", "surrogatepass"),
                hlc,
                node_utf8,
                value,
            )
        )
        stored += 1
    for network, rows in contents.items():
        if any(rows.whys):
            framed = rows.whys_record(network)
            if framed is None:  # an id only CONTENT records can hold: keep no justifications
                rows.whys[:] = [None] * len(rows.contacts)
            else:
                frames.append(framed)
    summary = WriteSummary(
        networks=len(nb.networks),
        groups=len(nb.groups),
        wires=len(nb.wires),
        contents=stored,
        stale=stale,
    )
    return Plan(specs, contents, newest, b"".join(frames), len(frames), summary)
