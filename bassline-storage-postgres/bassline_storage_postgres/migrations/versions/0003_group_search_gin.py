"""A GIN index (jsonb_path_ops) on the group search documents, serving ``query_groups``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index the group search documents for JSONB containment."""
    op.create_index(
        "bassline_groups_search_gin",
        "bassline_groups",
        ["search"],
        postgresql_using="gin",
        postgresql_ops={"search": "jsonb_path_ops"},
    )


def downgrade() -> None:
    """Drop the group search index."""
    op.drop_index("bassline_groups_search_gin", table_name="bassline_groups")
