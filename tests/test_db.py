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


def test_a_scratch_sqlite_database_skips_fsync_and_has_the_same_schema(tmp_path):
    from sqlalchemy import text

    from watch.db import SCRATCH_CACHE_KIB, open_database, schema_is_current

    plain = open_database(f"sqlite:///{tmp_path / 'plain.db'}")
    scratch = open_database(f"sqlite:///{tmp_path / 'scratch.db'}", scratch=True)
    assert schema_is_current(scratch)
    shape = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
    with plain.connect() as a, scratch.connect() as b:
        assert a.execute(text(shape)).all() == b.execute(text(shape)).all()
        assert b.execute(text("PRAGMA synchronous")).scalar() == 0  # OFF
        assert b.execute(text("PRAGMA cache_size")).scalar() == -SCRATCH_CACHE_KIB
        assert a.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    plain.dispose()
    scratch.dispose()
