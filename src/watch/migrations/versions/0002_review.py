"""review: the resolution table (manual resolutions, closed windows)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import watch.schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resolution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("reading_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.Column("outcome", sa.Boolean(), nullable=False),
        sa.Column("cause", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("resolved_at", watch.schema.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", watch.schema.UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state_change_id", sa.Integer(), nullable=True),
        sa.Column("reopened_at", watch.schema.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["state_change_id"], ["statechange.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("indicator_id", "reading_id", "cause", name="uq_resolution_window"),
    )
    with op.batch_alter_table("resolution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resolution_indicator_id"), ["indicator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("resolution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolution_indicator_id"))
    op.drop_table("resolution")
