"""Database fixtures: every test that takes `engine` runs on SQLite and on PostgreSQL.

PostgreSQL comes from WATCH_TEST_POSTGRES_URL, which `scripts/with-postgres` sets after
starting a throw-away server on loopback. Without it the PostgreSQL half is skipped, except
under CI, where a missing server is an error rather than a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from watch.db import make_engine, upgrade

POSTGRES_URL = os.environ.get("WATCH_TEST_POSTGRES_URL")


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of each kind (no schema yet)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'watch.db'}"
        return
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL half: WATCH_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL: run the suite through scripts/with-postgres")
    _reset_postgres(POSTGRES_URL)
    yield POSTGRES_URL


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a migrated, empty database (SQLite file in tmp_path, or PostgreSQL)."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()
