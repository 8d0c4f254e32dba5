"""The change feed: a commit-ordered change sequence per network, stamped on content rows.

Every transaction that writes contents of a network takes the next value of
``bassline_change_seq`` while holding that network's row in ``bassline_feed`` locked
(until it commits), and stamps it on every content row it writes (``change_seq``). So
change sequence order is commit order within a network, and a reader reading
``change_seq > cursor`` never skips a lower sequence that commits later
(``docs/decisions.md``, D40). ``bassline_members`` lists the processes watching a
network: a row per listening session, alive while that session is.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.Text(collation="C")


def upgrade() -> None:
    """Create the feed table and sequence; add and index ``change_seq`` on contents."""
    op.execute(sa.schema.CreateSequence(sa.Sequence("bassline_change_seq")))
    op.create_table(
        "bassline_feed",
        sa.Column("network_id", ID, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["bassline_networks.id"],
            ondelete="CASCADE",
            name="bassline_feed_network_fkey",
        ),
    )
    op.add_column(
        "bassline_contacts",
        sa.Column("change_seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index(
        "bassline_contacts_change_seq", "bassline_contacts", ["network_id", "change_seq"]
    )
    op.create_table(
        "bassline_members",
        sa.Column("network_id", ID, primary_key=True),
        sa.Column("backend_pid", sa.Integer, primary_key=True),
        sa.Column("backend_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("member", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop the feed."""
    op.drop_table("bassline_members")
    op.drop_index("bassline_contacts_change_seq", table_name="bassline_contacts")
    op.drop_column("bassline_contacts", "change_seq")
    op.drop_table("bassline_feed")
    op.execute(sa.schema.DropSequence(sa.Sequence("bassline_change_seq")))
