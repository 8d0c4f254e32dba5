"""Core tables: networks, groups, wires and contacts (contents with stamps).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.Text(collation="C")


def _network_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["network_id"], ["bassline_networks.id"], ondelete="CASCADE", name=f"{table}_network_fkey"
    )


def upgrade() -> None:
    """Create the networks, groups, wires and contacts tables."""
    op.create_table(
        "bassline_networks",
        sa.Column("id", ID, primary_key=True),
        sa.Column("spec", pg.JSON, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "bassline_groups",
        sa.Column("network_id", ID, primary_key=True),
        sa.Column("group_id", ID, primary_key=True),
        sa.Column("body", pg.JSON, nullable=False),
        sa.Column("search", pg.JSONB, nullable=False),
        _network_fk("bassline_groups"),
    )
    op.create_table(
        "bassline_wires",
        sa.Column("network_id", ID, primary_key=True),
        sa.Column("wire_id", ID, primary_key=True),
        sa.Column("source", ID, nullable=False),
        sa.Column("target", ID, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        _network_fk("bassline_wires"),
    )
    op.create_table(
        "bassline_contacts",
        sa.Column("network_id", ID, primary_key=True),
        sa.Column("contact_id", ID, primary_key=True),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("content", pg.JSON, nullable=False),
        sa.Column("stamp_hlc", sa.BigInteger, nullable=False),
        sa.Column("stamp_node", pg.BYTEA, nullable=False),
        _network_fk("bassline_contacts"),
    )


def downgrade() -> None:
    """Drop the core tables."""
    for table in ("bassline_contacts", "bassline_wires", "bassline_groups", "bassline_networks"):
        op.drop_table(table)
