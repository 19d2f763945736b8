"""message: what each delivered message said, under its key; delivery.message_key indexed

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import watch.schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", watch.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_delivery_message_key", "delivery", ["message_key"])


def downgrade() -> None:
    op.drop_index("ix_delivery_message_key", table_name="delivery")
    op.drop_table("message")
