"""coverage and dated resolutions: watchedspan; resolution.period, span_from, span_to, source

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import watch.schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watchedspan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("start", watch.schema.UTCDateTime(), nullable=False),
        sa.Column("end", watch.schema.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_watchedspan_origin", "watchedspan", ["origin"])
    op.create_index("ix_watchedspan_end", "watchedspan", ["end"])
    with op.batch_alter_table("resolution") as batch:
        batch.add_column(sa.Column("period", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("span_from", watch.schema.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("span_to", watch.schema.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))
        batch.drop_constraint("uq_resolution_window", type_="unique")
        batch.create_unique_constraint(
            "uq_resolution_window", ["indicator_id", "reading_id", "cause", "period"]
        )


def downgrade() -> None:
    with op.batch_alter_table("resolution") as batch:
        batch.drop_constraint("uq_resolution_window", type_="unique")
        batch.create_unique_constraint(
            "uq_resolution_window", ["indicator_id", "reading_id", "cause"]
        )
        batch.drop_column("source")
        batch.drop_column("span_to")
        batch.drop_column("span_from")
        batch.drop_column("period")
    op.drop_index("ix_watchedspan_end", table_name="watchedspan")
    op.drop_index("ix_watchedspan_origin", table_name="watchedspan")
    op.drop_table("watchedspan")
