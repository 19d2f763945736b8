"""Alembic environment: the engine comes from watch.db (config.attributes["engine"])."""

from alembic import context
from sqlmodel import SQLModel

from watch import schema  # noqa: F401  (registers every table)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
