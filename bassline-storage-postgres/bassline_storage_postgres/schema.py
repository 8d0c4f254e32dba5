"""The tables at the head migration, as SQLAlchemy Core metadata.

Ids are ``TEXT COLLATE "C"``: byte order is code-point order, so ``ORDER BY`` agrees
with Python's ``sorted`` and comparisons are plain ``memcmp``. Values that must come
back byte for byte (specs, group bodies, contents, labels) are ``json``, which keeps
the canonical text as written; ``jsonb`` would turn ``1e16`` into an integer and
``-0.0`` into ``0`` and rejects ``\\u0000``. The one ``jsonb`` column,
``bassline_groups.search``, is a search document ``{"network": id, "attributes": ...}``
behind a GIN index (so one index narrows by network and attributes at once); the exact
attributes live in ``body``. A stamp's node is ``bytea`` (UTF-8), which compares
bytewise (again code-point order) and can hold any string.

The migrations in :mod:`bassline_storage_postgres.migrations` build exactly this; a test
compares the two.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

__all__ = [
    "ID",
    "VERSION_TABLE",
    "CanonicalJSON",
    "change_seq",
    "contacts",
    "feed",
    "groups",
    "members",
    "metadata",
    "networks",
    "snapshot_contents",
    "snapshots",
    "wires",
]

VERSION_TABLE = "bassline_schema_version"
"""Where Alembic records the revision (not ``alembic_version``, to share a schema safely)."""

ID = sa.Text(collation="C")
"""The column type of every id."""


class CanonicalJSON(sa.types.TypeDecorator[Any]):
    """A ``json`` column that travels as canonical JSON: bytes in, text out, never parsed.

    Writers bind bytes they encoded (the engine's serializer passes bytes through);
    reads select ``column::text``, so the driver hands back the stored text untouched
    and the codec decodes it once.
    """

    impl = pg.JSON
    cache_ok = True

    def column_expression(self, colexpr: Any) -> Any:
        """Select the column as text."""
        return sa.cast(colexpr, sa.Text)


metadata = sa.MetaData()
"""Every table of the backend."""

networks = sa.Table(
    "bassline_networks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("spec", CanonicalJSON, nullable=False),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

groups = sa.Table(
    "bassline_groups",
    metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("group_id", ID, primary_key=True),
    sa.Column("body", CanonicalJSON, nullable=False),
    sa.Column("search", pg.JSONB, nullable=False),
    sa.ForeignKeyConstraint(
        ["network_id"],
        ["bassline_networks.id"],
        ondelete="CASCADE",
        name="bassline_groups_network_fkey",
    ),
    sa.Index(
        "bassline_groups_search_gin",
        "search",
        postgresql_using="gin",
        postgresql_ops={"search": "jsonb_path_ops"},
    ),
)

wires = sa.Table(
    "bassline_wires",
    metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("wire_id", ID, primary_key=True),
    sa.Column("source", ID, nullable=False),
    sa.Column("target", ID, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.ForeignKeyConstraint(
        ["network_id"],
        ["bassline_networks.id"],
        ondelete="CASCADE",
        name="bassline_wires_network_fkey",
    ),
)

contacts = sa.Table(
    "bassline_contacts",
    metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("contact_id", ID, primary_key=True),
    sa.Column("group_id", ID, nullable=False),
    sa.Column("content", CanonicalJSON, nullable=False),
    sa.Column("stamp_hlc", sa.BigInteger, nullable=False),
    sa.Column("stamp_node", pg.BYTEA, nullable=False),
    sa.Column("change_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("justification", sa.Text, nullable=True),
    sa.ForeignKeyConstraint(
        ["network_id"],
        ["bassline_networks.id"],
        ondelete="CASCADE",
        name="bassline_contacts_network_fkey",
    ),
    sa.Index("bassline_contacts_change_seq", "network_id", "change_seq"),
)

change_seq = sa.Sequence("bassline_change_seq", metadata=metadata)
"""Where every write transaction's change sequence comes from (see :data:`feed`)."""

feed = sa.Table(
    "bassline_feed",
    metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.ForeignKeyConstraint(
        ["network_id"],
        ["bassline_networks.id"],
        ondelete="CASCADE",
        name="bassline_feed_network_fkey",
    ),
)
"""A network's newest committed change sequence. A writer holds its row locked from taking
the next sequence until it commits, so sequence order is commit order per network."""

snapshots = sa.Table(
    "bassline_snapshots",
    metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("snapshot_id", ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
    sa.Column("label", CanonicalJSON, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("spec", CanonicalJSON, nullable=False),
    sa.Column("contents", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(
        ["network_id"],
        ["bassline_networks.id"],
        ondelete="CASCADE",
        name="bassline_snapshots_network_fkey",
    ),
)

snapshot_contents = sa.Table(
    "bassline_snapshot_contents",
    metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("snapshot_id", ID, primary_key=True),
    sa.Column("contact_id", ID, primary_key=True),
    sa.Column("group_id", ID, nullable=False),
    sa.Column("content", CanonicalJSON, nullable=False),
    sa.Column("stamp_hlc", sa.BigInteger, nullable=False),
    sa.Column("stamp_node", pg.BYTEA, nullable=False),
    sa.Column("justification", sa.Text, nullable=True),
    sa.ForeignKeyConstraint(
        ["network_id", "snapshot_id"],
        ["bassline_snapshots.network_id", "bassline_snapshots.snapshot_id"],
        ondelete="CASCADE",
        name="bassline_snapshot_contents_snapshot_fkey",
    ),
)

members = sa.Table(
    "bassline_members",
    metadata,
    sa.Column("network_id", ID, primary_key=True),
    sa.Column("backend_pid", sa.Integer, primary_key=True),
    sa.Column("backend_start", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("member", sa.Text, nullable=False),
)
"""Who watches a network's changes: one row per listening session (its server pid and
start time, which name it uniquely), live while that session is in ``pg_stat_activity``."""
