from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlmodel import Session, select

from watch.db import upgrade
from watch.schema import Feed


def test_migrations_create_every_table(engine):
    tables = set(inspect(engine).get_table_names())
    assert {"feed", "story", "entry", "evidence", "indicatorstate", "statechange"} <= tables


def test_upgrade_twice_is_harmless(engine):
    upgrade(engine)
    assert "feed" in inspect(engine).get_table_names()


def test_times_round_trip_as_aware_utc(engine):
    polled = datetime(2019, 3, 27, 12, 30, tzinfo=UTC)
    with Session(engine) as session:
        session.add(Feed(url="http://127.0.0.1/feed", name="f", last_polled_at=polled))
        session.commit()
    with Session(engine) as session:
        feed = session.exec(select(Feed)).one()
    assert feed.last_polled_at == polled
    assert feed.last_polled_at.tzinfo is not None


def test_schema_head_constant_is_alembics_head(engine):
    from alembic.script import ScriptDirectory

    from watch.db import SCHEMA_HEAD, _alembic_config, schema_is_current

    assert ScriptDirectory.from_config(_alembic_config(engine)).get_current_head() == SCHEMA_HEAD
    assert schema_is_current(engine)


def test_open_database_creates_the_schema_on_a_new_database(database_url):
    from watch.db import open_database, schema_is_current

    engine = open_database(database_url)
    assert schema_is_current(engine)
    assert "entry" in inspect(engine).get_table_names()
    engine.dispose()
