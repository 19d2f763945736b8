from datetime import UTC, datetime

from sqlalchemy import inspect
from sqlmodel import Session, select

from watch.db import upgrade
from watch.models import Feed


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
