"""Notices that are not state changes: a feed's health, and windows about to close.

A feed is `failing` after `alerts.feed_failures` failed polls in a row, `silent` when it has
brought no new entry for `alerts.feed_silent_after`, and `ok` otherwise. People are told once
when a feed turns failing or silent and once more when it comes back (`FeedWatch` keeps
what they were last told). A reminder goes out once per indicator and reading when the
reading's window closes within `alerts.reminder_days` and the outcome is still open.
Both queue alerts through `watch.outbox.enqueue`, so they share the delivery chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from watch.config import Config
from watch.models import Feed
from watch.outbox import Alert, FeedWatch, enqueue, one_at_a_time
from watch.states import resolve_reading, window_bounds


def feed_status(feed: Feed, config: Config, watched_since: datetime, now: datetime) -> str:
    """ok | failing | silent, for a feed that has been polled."""
    alerts = config.alerts
    if feed.consecutive_failures >= alerts.feed_failures:
        return "failing"
    if alerts.feed_silent_after is not None:
        last_news = feed.last_new_entry_at or watched_since
        if now - last_news >= alerts.feed_silent_after:
            return "silent"
    return "ok"


def check_feeds(
    session: Session, config: Config, channels: Sequence[str], now: datetime
) -> list[Alert]:
    """Queue a notice for every configured feed whose health changed since the last check."""
    one_at_a_time(session, "health")
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
            watch = FeedWatch(feed_id=feed.id, status="ok", since=now)
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
            kind="feed-health",
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
    if status == "failing":
        title = f"feed {name} is failing: {feed.consecutive_failures} polls in a row"
        lines.append(f"last error: {feed.last_error or 'unknown'}")
    elif status == "silent":
        last = feed.last_new_entry_at
        title = f"feed {name} is silent: no new entry since {_day(last) if last else 'it started'}"
    else:
        title = f"feed {name} recovered (was {was} since {_day(since)})"
    if feed.http_status:
        lines.append(f"last HTTP status: {feed.http_status}")
    if feed.next_poll_at:
        lines.append(f"next poll: {_day(feed.next_poll_at)}")
    return title, lines


def remind_windows(
    session: Session, config: Config, channels: Sequence[str], now: datetime
) -> list[Alert]:
    """Queue one reminder per indicator and reading whose open window closes soon."""
    days = config.alerts.reminder_days
    if not days:
        return []
    one_at_a_time(session, "reminders")
    queued = []
    for indicator in config.indicators:
        for reading in config.readings:
            _opens, closes = window_bounds(config, indicator, reading.id)
            if not now < closes <= now + timedelta(days=days):
                continue
            if resolve_reading(session, config, indicator, reading.id, now).outcome is not None:
                continue
            left = (closes - now).days
            forecast = indicator.forecasts[reading.id]
            alert = enqueue(
                session,
                key=f"reminder:{indicator.id}:{reading.id}:{closes.date().isoformat()}",
                kind="reminder",
                subject=indicator.id,
                title=(
                    f"{indicator.id}: the window of {reading.id} closes on {closes.date()} "
                    f"(in {left} day{'s' if left != 1 else ''})"
                ),
                lines=[
                    f"{indicator.title}: still open; {reading.id} forecast {forecast.p:.2f}",
                    f"if nothing is confirmed by then, it resolves no for {reading.id}",
                ],
                channels=channels,
                now=now,
            )
            if alert:
                queued.append(alert)
    return queued


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
