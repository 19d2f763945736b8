"""alert.html: the page a scorecard alert is sent as, rendered when it is queued

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert", sa.Column("html", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("alert", "html")
