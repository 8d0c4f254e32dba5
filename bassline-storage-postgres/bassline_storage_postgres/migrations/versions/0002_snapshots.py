"""Snapshots: a header per snapshot and a copy of every content it holds.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.Text(collation="C")


def upgrade() -> None:
    """Create the snapshot tables (cascading from networks)."""
    op.create_table(
        "bassline_snapshots",
        sa.Column("network_id", ID, primary_key=True),
        sa.Column("snapshot_id", ID, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("label", pg.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spec", pg.JSON, nullable=False),
        sa.Column("contents", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["bassline_networks.id"],
            ondelete="CASCADE",
            name="bassline_snapshots_network_fkey",
        ),
    )
    op.create_table(
        "bassline_snapshot_contents",
        sa.Column("network_id", ID, primary_key=True),
        sa.Column("snapshot_id", ID, primary_key=True),
        sa.Column("contact_id", ID, primary_key=True),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("content", pg.JSON, nullable=False),
        sa.Column("stamp_hlc", sa.BigInteger, nullable=False),
        sa.Column("stamp_node", pg.BYTEA, nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id", "snapshot_id"],
            ["bassline_snapshots.network_id", "bassline_snapshots.snapshot_id"],
            ondelete="CASCADE",
            name="bassline_snapshot_contents_snapshot_fkey",
        ),
    )


def downgrade() -> None:
    """Drop the snapshot tables."""
    op.drop_table("bassline_snapshot_contents")
    op.drop_table("bassline_snapshots")
