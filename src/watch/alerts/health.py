"""Feed health: tell people when a feed starts failing or goes silent, and when it recovers.

A feed is `failing` after `alerts.feed_failures` failed polls in a row, `silent` when it has
brought no new entry for `alerts.feed_silent_after`, and `ok` otherwise. People are told once
when a feed turns failing or silent and once more when it comes back (`FeedWatch` keeps
what they were last told). Notices are queued through `watch.alerts.outbox.enqueue`, so
they share the delivery chain with the state changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from watch.alerts.outbox import enqueue
from watch.clock import minute
from watch.config import Config
from watch.locks import Job, one_at_a_time
from watch.schema import Alert, AlertKind, Feed, FeedHealth, FeedWatch


def feed_status(feed: Feed, config: Config, watched_since: datetime, now: datetime) -> FeedHealth:
    """ok | failing | silent, for a feed that has been polled."""
    alerts = config.alerts
    if feed.consecutive_failures >= alerts.feed_failures:
        return FeedHealth.FAILING
    if alerts.feed_silent_after is not None:
        last_news = feed.last_new_entry_at or watched_since
        if now - last_news >= alerts.feed_silent_after:
            return FeedHealth.SILENT
    return FeedHealth.OK


def check_feeds(
    session: Session, config: Config, channels: Sequence[str], now: datetime
) -> list[Alert]:
    """Queue a notice for every configured feed whose health changed since the last check."""
    one_at_a_time(session, Job.HEALTH)
    urls = [f.url for f in config.feeds]
    feeds = session.exec(select(Feed).where(col(Feed.url).in_(urls))).all()
    watches = {w.feed_id: w for w in session.exec(select(FeedWatch))}
    names = {f.url: f.name for f in config.feeds}
    queued = []
    for feed in feeds:
        if feed.last_polled_at is None or feed.id is None:
            continue
        watch = watches.get(feed.id)
        if watch is None:
            watch = FeedWatch(feed_id=feed.id, status=FeedHealth.OK, since=now)
            session.add(watch)
        status = feed_status(feed, config, watch.since, now)
        if status == watch.status:
            continue
        was, since = watch.status, watch.since
        watch.status, watch.since = status, now
        session.add(watch)
        title, lines = _feed_notice(feed, names.get(feed.url, feed.name), status, was, since)
        alert = enqueue(
            session,
            key=f"feed:{feed.id}:{status}:{now.isoformat()}",
            kind=AlertKind.FEED_HEALTH,
            subject=feed.url,
            title=title,
            lines=lines,
            channels=channels,
            now=now,
        )
        if alert:
            queued.append(alert)
    session.flush()
    return queued


def _feed_notice(
    feed: Feed, name: str, status: str, was: str, since: datetime
) -> tuple[str, list[str]]:
    lines = [f"url: {feed.url}"]
    if status == FeedHealth.FAILING:
        title = f"feed {name} is failing: {feed.consecutive_failures} polls in a row"
        lines.append(f"last error: {feed.last_error or 'unknown'}")
    elif status == FeedHealth.SILENT:
        last = feed.last_new_entry_at
        title = (
            f"feed {name} is silent: no new entry since {_minute(last) if last else 'it started'}"
        )
    else:
        title = f"feed {name} recovered (was {was} since {_minute(since)})"
    if feed.http_status:
        lines.append(f"last HTTP status: {feed.http_status}")
    if feed.next_poll_at:
        lines.append(f"next poll: {_minute(feed.next_poll_at)}")
    return title, lines


def _minute(moment: datetime) -> str:
    return minute(moment, zone=" UTC")
