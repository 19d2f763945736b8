"""The dashboard under test: a real poll of local feeds into SQLite or PostgreSQL, the daemon's
alerts to a Slack stand-in that refuses them (so the outbox has a failed delivery), and
`watch serve`'s server on a loopback port in a thread, asked with a real HTTP client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from tests.support.alerting import (
    ICBM,
    SITE_WORK,
    SITE_WORK_2,
    Clock,
    GrowingFeed,
    make_daemon,
    slack_channel,
    tracker,
)
from watch.config import Config, load_config
from watch.queries import list_evidence
from watch.web.app import create_app
from watch.web.server import WebServer

TOKEN = "desk-token-for-tests"
# A headline that would run script if it reached the page unescaped (it matches the ICBM rule).
HOSTILE = f'<script>window.pwned = 1</script> {ICBM} <img src=x onerror="window.pwned = 2">'
PUBLISHED = datetime(2019, 3, 5, 8, 0, tzinfo=UTC)


@dataclass
class Desk:
    """A served dashboard over a polled database, and a client for it."""

    server: WebServer
    engine: Engine
    config: Config
    clock: Clock
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def evidence_id(self, title: str) -> int:
        from watch.db import session_scope

        with session_scope(self.engine) as session:
            rows = list_evidence(session, None, limit=None, include_rejected=True)
        return next(row.id for row in rows if row.title == title)

    def snapshot(self) -> dict[str, list[Any]]:
        """Every row of every table: equal before and after means nothing was written."""
        with self.engine.connect() as connection:
            return {
                table.name: [tuple(row) for row in connection.execute(select(table))]
                for table in SQLModel.metadata.sorted_tables
            }


def polled_desk(tmp_path: Path, engine: Engine, feed_server: Any, slack_receiver: Any) -> tuple:
    wire = GrowingFeed(feed_server, "/wire.xml")
    wire.publish(SITE_WORK, HOSTILE, published=PUBLISHED)
    other = GrowingFeed(feed_server, "/other.xml")
    other.publish(SITE_WORK_2, published=PUBLISHED, source="other")
    config = tracker(tmp_path, [wire, other])
    clock = Clock()
    slack_receiver.script(404)  # a permanent failure: the delivery is given up with its reason
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        report = daemon.run_once()
    finally:
        daemon.close()
    assert report.polled == 2 and report.failed_feeds == 0 and report.failed_deliveries >= 1
    return config, clock


@pytest.fixture
def serve(tmp_path: Path, engine: Engine, feed_server: Any, slack_receiver: Any) -> Iterator[Any]:
    """`serve(token=TOKEN)` starts the dashboard over the polled database and returns a Desk."""
    config, clock = polled_desk(tmp_path, engine, feed_server, slack_receiver)
    started: list[tuple[WebServer, httpx.Client]] = []

    def start(token: str | None = TOKEN, tracker_file: Path | None = None) -> Desk:
        """The dashboard with this token, over the polled tracker or another tracker file."""
        shown = load_config(tracker_file) if tracker_file else config
        server = WebServer(create_app(shown, engine, clock, token), "127.0.0.1", 0)
        server.start()
        client = httpx.Client(base_url=server.url, timeout=30)
        started.append((server, client))
        return Desk(server, engine, shown, clock, client)

    yield start
    for server, client in started:
        client.close()
        server.stop()


@pytest.fixture
def desk(serve: Any) -> Desk:
    return serve()
