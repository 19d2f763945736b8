"""Alembic environment: the engine comes from watch.db (config.attributes["engine"])."""

from alembic import context
from sqlmodel import SQLModel

import watch.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import watch.resolution  # noqa: F401

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
