"""Reads, written in SQLAlchemy Core: networks, contents and group queries.

Each function takes one open connection and issues as few statements as it can;
"network not found" is told apart from "nothing stored" in the same statement (a
``LEFT JOIN`` from ``bassline_networks``), so a read is never a check-then-act pair.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection

from bassline.clock import Stamp
from bassline.codec import decode
from bassline.errors import ContentError
from bassline.spec import Bassline, GroupSpec, WireSpec, WireType
from bassline.storage import ContentRecord, ErrorCode, GroupQuery, StorageError
from bassline_storage_postgres.documents import (
    decode_spec,
    encode_group,
    group_from_body,
    search_query,
)
from bassline_storage_postgres.schema import contacts, groups, networks, wires

__all__ = [
    "content_record",
    "corrupt",
    "delete_network",
    "group_condition",
    "list_networks",
    "load_contact",
    "load_contents",
    "load_network",
    "network_exists",
    "network_missing",
    "query_groups",
    "query_groups_statement",
]


def network_missing(network: str) -> StorageError:
    """NETWORK_NOT_FOUND for ``network``."""
    return StorageError.not_found(ErrorCode.NETWORK_NOT_FOUND, f"network {network!r}")


def corrupt(what: str, exc: Exception) -> StorageError:
    """CORRUPTION: stored data that cannot be read back."""
    return StorageError(
        ErrorCode.CORRUPTION, f"{what} cannot be decoded: {exc}", transient=False, cause=exc
    )


def _raw(column: Any) -> Any:
    """A json column as itself (not cast to text), for use inside SQL expressions."""
    return sa.type_coerce(column, pg.JSON)


def _network_statement(network: str) -> sa.Select[Any]:
    group_rows = (
        sa.select(
            sa.cast(
                sa.func.json_agg(
                    aggregate_order_by(
                        sa.func.json_build_array(groups.c.group_id, _raw(groups.c.body)),
                        groups.c.group_id,
                    )
                ),
                sa.Text,
            )
        )
        .where(groups.c.network_id == networks.c.id)
        .scalar_subquery()
    )
    wire_rows = (
        sa.select(
            sa.cast(
                sa.func.json_agg(
                    aggregate_order_by(
                        sa.func.json_build_array(
                            wires.c.wire_id, wires.c.source, wires.c.target, wires.c.type
                        ),
                        wires.c.wire_id,
                    )
                ),
                sa.Text,
            )
        )
        .where(wires.c.network_id == networks.c.id)
        .scalar_subquery()
    )
    return sa.select(networks.c.spec, group_rows, wire_rows).where(networks.c.id == network)


def _merge(saved: tuple[Any, ...], current: dict[str, Any], same: Any = None) -> tuple[Any, ...]:
    """``saved`` with items replaced or added by id from ``current``.

    The spec's own groups and wires are stored as rows too, so ``current`` holds them
    (and any record written later); saved items without a row are kept. While the rows
    are exactly the saved items (``same(item, row)``), the saved tuple comes back as it
    was, in its own order: a spec round-trips exactly even if its items were not sorted.
    Once a record has changed or added one, the merged items are sorted by id, as every
    backend merges them.
    """
    same = same or (lambda item, row: item == row)
    if len(current) == len(saved) and all(
        item.id in current and same(item, current[item.id]) for item in saved
    ):
        return saved
    merged = {item.id: item for item in saved}
    merged.update(current)
    return tuple(merged[key] for key in sorted(merged))


def _same_group(saved: GroupSpec, row: GroupSpec) -> bool:
    return encode_group(saved) == encode_group(row)


def load_network(conn: Connection, network: str) -> Bassline | StorageError:
    """The saved spec with every stored group and wire merged in (replace by id)."""
    row = conn.execute(_network_statement(network)).first()
    if row is None:
        return network_missing(network)
    raw_spec, raw_groups, raw_wires = row
    try:
        spec = decode_spec(raw_spec)
        group_rows = decode(raw_groups) if raw_groups is not None else []
        wire_rows = orjson.loads(raw_wires) if raw_wires is not None else []
        current_groups = {gid: group_from_body(gid, body) for gid, body in group_rows}
        current_wires = {
            wid: WireSpec(id=wid, source=src, target=dst, type=WireType(kind))
            for wid, src, dst, kind in wire_rows
        }
    except (ContentError, KeyError, TypeError, ValueError) as exc:
        return corrupt(f"stored spec of network {network!r}", exc)
    return Bassline(
        id=spec.id,
        version=spec.version,
        groups=_merge(spec.groups, current_groups, _same_group),
        contacts=spec.contacts,
        wires=_merge(spec.wires, current_wires),
        endpoints=spec.endpoints,
        metadata=spec.metadata,
    )


def list_networks(conn: Connection) -> list[str]:
    """Every network id, sorted (ids are ``COLLATE "C"``: code-point order)."""
    return list(conn.scalars(sa.select(networks.c.id).order_by(networks.c.id)))


def network_exists(conn: Connection, network: str) -> bool:
    """Whether ``network`` is stored."""
    return bool(conn.scalar(sa.select(sa.exists().where(networks.c.id == network))))


def delete_network(conn: Connection, network: str) -> None:
    """Delete a network; its groups, wires, contents and snapshots cascade."""
    conn.execute(sa.delete(networks).where(networks.c.id == network))


def content_record(network: str, row: Any) -> ContentRecord:
    """A ContentRecord from (contact, group, content, hlc, node, justification) as selected."""
    contact, group, content, hlc, node, justification = row
    return ContentRecord(
        network=network,
        group=group,
        contact=contact,
        value=decode(content),
        stamp=Stamp(hlc, bytes(node).decode()),
        justification=justification,
    )


def _content_columns() -> list[Any]:
    return [
        contacts.c.contact_id,
        contacts.c.group_id,
        contacts.c.content,
        contacts.c.stamp_hlc,
        contacts.c.stamp_node,
        contacts.c.justification,
    ]


def load_contact(
    conn: Connection, network: str, group: str, contact: str
) -> ContentRecord | StorageError:
    """One contact's content and stamp; NETWORK_NOT_FOUND or CONTACT_NOT_FOUND if absent."""
    joined = networks.outerjoin(
        contacts, sa.and_(contacts.c.network_id == networks.c.id, contacts.c.contact_id == contact)
    )
    row = conn.execute(
        sa.select(*_content_columns()).select_from(joined).where(networks.c.id == network)
    ).first()
    if row is None:
        return network_missing(network)
    if row[0] is None:
        return StorageError.not_found(
            ErrorCode.CONTACT_NOT_FOUND,
            f"content of contact {contact!r} (group {group!r}) in network {network!r}",
        )
    try:
        return content_record(network, row)
    except (ContentError, UnicodeDecodeError, ValueError) as exc:
        return corrupt(f"content of contact {contact!r} in network {network!r}", exc)


def load_contents(conn: Connection, network: str) -> list[ContentRecord] | StorageError:
    """Every stored content of ``network`` with its stamp, sorted by contact id."""
    joined = networks.outerjoin(contacts, contacts.c.network_id == networks.c.id)
    rows = conn.execute(
        sa.select(*_content_columns())
        .select_from(joined)
        .where(networks.c.id == network)
        .order_by(contacts.c.contact_id)
    ).all()
    if not rows:
        return network_missing(network)
    if rows[0][0] is None:
        return []
    out: list[ContentRecord] = []
    for row in rows:
        try:
            out.append(content_record(network, row))
        except (ContentError, UnicodeDecodeError, ValueError) as exc:
            return corrupt(f"content of contact {row[0]!r} in network {network!r}", exc)
    return out


def group_condition(network: str, query: GroupQuery) -> Any:
    """The SQL condition every group of ``network`` matching ``query`` satisfies.

    With criteria it is one ``search @> document`` test, served by the GIN index (the
    document names the network too); without, ``network_id = ...`` (the primary key).
    Containment is weaker than equality for arrays and objects, so it may admit groups
    that do not match; :func:`query_groups` rechecks every candidate.
    """
    if not query.attributes and query.author is None and query.type is None and not query.tags:
        return groups.c.network_id == network
    document = search_query(network, query.attributes, query.author, query.type, query.tags)
    return groups.c.search.op("@>")(
        sa.bindparam("document", orjson.dumps(document), type_=groups.c.search.type)
    )


def query_groups_statement(network: str, query: GroupQuery) -> sa.Select[Any]:
    """The statement :func:`query_groups` runs (exposed for EXPLAIN).

    The candidates are a subquery that does not mention ``network_id`` when the query
    has criteria, so the planner reaches them through the GIN index; a LEFT JOIN from
    ``bassline_networks`` tells "no such network" from "no match" in the same statement.
    """
    hits = (
        sa.select(groups.c.group_id, groups.c.body)
        .where(group_condition(network, query))
        .subquery("hits")
    )
    return (
        sa.select(networks.c.id, hits.c.group_id, hits.c.body)
        .select_from(networks.outerjoin(hits, sa.true()))
        .where(networks.c.id == network)
        .order_by(hits.c.group_id)
    )


def query_groups(
    conn: Connection, network: str, query: GroupQuery
) -> list[GroupSpec] | StorageError:
    """Groups of ``network`` matching every criterion of ``query``, sorted by id."""
    try:
        statement = query_groups_statement(network, query)
    except (ContentError, TypeError, ValueError) as exc:
        return StorageError(
            ErrorCode.INVALID, f"group query {query!r} cannot be encoded: {exc}", transient=False
        )
    rows = conn.execute(statement).all()
    if not rows:
        return network_missing(network)
    found: list[GroupSpec] = []
    for _, group_id, body in rows:
        if group_id is None:
            continue
        try:
            group = group_from_body(group_id, decode(body))
        except (ContentError, KeyError, TypeError, ValueError) as exc:
            return corrupt(f"group {group_id!r} of network {network!r}", exc)
        if query.matches(group):
            found.append(group)
    return found
