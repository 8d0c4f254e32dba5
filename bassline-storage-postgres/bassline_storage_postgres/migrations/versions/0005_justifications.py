"""Each content's justification (provenance), kept beside its value: a nullable text column.

Rows written before this revision have none (NULL) and are explained as restored.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``justification`` to contents and snapshot contents (no rewrite: nullable)."""
    op.add_column("bassline_contacts", sa.Column("justification", sa.Text, nullable=True))
    op.add_column("bassline_snapshot_contents", sa.Column("justification", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop the justification columns."""
    op.drop_column("bassline_snapshot_contents", "justification")
    op.drop_column("bassline_contacts", "justification")
