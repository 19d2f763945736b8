"""alerts: the outbox (alert, delivery) and what feed-health last said (feedwatch)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import watch.schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedwatch",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("since", watch.schema.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feed.id"],
        ),
        sa.PrimaryKeyConstraint("feed_id"),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("state_change_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("skipped", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", watch.schema.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["state_change_id"],
            ["statechange.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("state_change_id"),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queued_at", watch.schema.UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", watch.schema.UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", watch.schema.UTCDateTime(), nullable=True),
        sa.Column("sent_at", watch.schema.UTCDateTime(), nullable=True),
        sa.Column("message_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("since_state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("claimed_at", watch.schema.UTCDateTime(), nullable=True),
        sa.Column("interrupted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "channel", name="uq_delivery_alert_channel"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index("ix_delivery_channel_status", ["channel", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_channel_status")
        batch_op.drop_index(batch_op.f("ix_delivery_alert_id"))

    op.drop_table("delivery")
    op.drop_table("alert")
    op.drop_table("feedwatch")
