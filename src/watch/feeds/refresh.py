"""One poll: fetch → parse → dedupe → match → record, feed by feed, top to bottom.

Feeds are fetched concurrently; each feed's result is then processed in its own transaction,
so one bad feed (or a bug tripped by one odd entry) never stops or undoes the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from watch.config import Config
from watch.config.model import feed_url
from watch.coverage import record_poll
from watch.db import session_scope
from watch.errors import FeedError, FeedHTTPError, FeedInUse, UnknownFeed
from watch.feeds.fetch import FetchRequest, FetchResult, fetch_many
from watch.feeds.ingest import ingest
from watch.feeds.match import Matcher
from watch.feeds.parse import parse_feed
from watch.feeds.schedule import next_poll
from watch.schema import Feed, FeedResult, StateChange

log = logging.getLogger("watch.poll")


@dataclass
class FeedReport:
    url: str
    name: str
    result: FeedResult
    http_status: int | None = None
    new_entries: int = 0
    new_evidence: int = 0
    error: str | None = None
    changes: list[StateChange] = field(default_factory=list)


@dataclass
class PollSummary:
    feeds: list[FeedReport] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for f in self.feeds if f.result == result)

    @property
    def new_entries(self) -> int:
        return sum(f.new_entries for f in self.feeds)

    @property
    def new_evidence(self) -> int:
        return sum(f.new_evidence for f in self.feeds)

    @property
    def changes(self) -> list[StateChange]:
        return [change for f in self.feeds for change in f.changes]


def sync_feeds(session: Session, config: Config, extra_urls: Sequence[str] = ()) -> list[Feed]:
    """The Feed rows for the configured feeds plus `extra_urls`, created where missing."""
    wanted = {f.url: f.name for f in config.feeds}
    for url in extra_urls:
        parts = urlsplit(url)
        wanted.setdefault(url, f"{parts.netloc}{parts.path}" or url)
    rows = {f.url: f for f in session.exec(select(Feed).where(col(Feed.url).in_(list(wanted))))}
    for url, name in wanted.items():
        if url not in rows:
            rows[url] = Feed(url=url, name=name)
            session.add(rows[url])
        elif rows[url].name != name and url not in extra_urls:
            rows[url].name = name
    session.flush()
    return [rows[url] for url in wanted]


def remove_feed(session: Session, config: Config, url: str) -> Feed:
    """Forget a stored feed that the tracker file does not list and that has no entries.

    A feed with entries stays: its entries are evidence history (and their stories and states
    depend on them). Raises UnknownFeed or FeedInUse.
    """
    from sqlmodel import delete

    from watch.schema import Entry, FeedWatch

    if any(feed.url == url for feed in config.feeds):
        raise FeedInUse(f"{url} is listed in {config.path}: remove it from the tracker file")
    feed = session.exec(select(Feed).where(Feed.url == url)).first()
    if feed is None:
        raise UnknownFeed(f"no stored feed {url!r} (see `watch feeds`)")
    entries = session.exec(select(Entry.id).where(Entry.feed_id == feed.id).limit(1)).first()
    if entries is not None:
        raise FeedInUse(
            f"{url} has {feed.entry_count:,} stored entries, kept as evidence history; "
            "only feeds without entries can be removed"
        )
    session.exec(delete(FeedWatch).where(col(FeedWatch.feed_id) == feed.id))  # type: ignore[call-overload]
    session.delete(feed)
    session.flush()
    return feed


def feed_interval(config: Config, url: str) -> timedelta:
    for feed in config.feeds:
        if feed.url == url:
            return config.feed_interval(feed)
    return config.defaults.interval


def refresh_feed(
    session: Session,
    config: Config,
    feed: Feed,
    fetched: FetchResult | FeedError,
    matcher: Matcher,
    now: datetime,
) -> FeedReport:
    """Parse, dedupe, match and record one fetched feed; update its polling bookkeeping."""
    report = FeedReport(url=feed.url, name=feed.name, result=FeedResult.OK)
    feed.last_polled_at = now
    interval = feed_interval(config, feed.url)
    try:
        if isinstance(fetched, FeedError):
            raise fetched
        report.http_status = feed.http_status = fetched.status
        if fetched.not_modified:
            report.result = FeedResult.NOT_MODIFIED
        else:
            parsed = parse_feed(
                fetched.body or b"", url=fetched.final_url, content_type=fetched.content_type
            )
            if parsed.title and not any(f.url == feed.url for f in config.feeds):
                feed.name = parsed.title[:300]  # an ad-hoc --feed is known by its own title
            recorded = ingest(session, config, feed, parsed.entries, matcher, now)
            report.new_entries, report.new_evidence = recorded.entries, recorded.evidence
            report.changes = recorded.changes
            report.error = parsed.problem and f"recovered from a malformed feed: {parsed.problem}"
        feed.etag, feed.last_modified = fetched.etag, fetched.last_modified
        feed.consecutive_failures = 0
        record_poll(session, feed.url, now, interval)  # silence since the last poll is evidence
        feed.next_poll_at = next_poll(now, interval)
    except FeedError as error:
        report.result, report.error = FeedResult.FAILED, str(error)
        if isinstance(error, FeedHTTPError):
            report.http_status = feed.http_status = error.status
        feed.consecutive_failures += 1
        retry_after = getattr(error, "retry_after_seconds", None)
        feed.next_poll_at = next_poll(
            now,
            interval,
            consecutive_failures=feed.consecutive_failures,
            retry_after=timedelta(seconds=retry_after) if retry_after else None,
        )
    feed.last_result, feed.last_error = report.result, report.error
    session.add(feed)
    return report


def poll(
    engine: Engine,
    config: Config,
    client: httpx.Client,
    now: Callable[[], datetime],
    *,
    urls: Sequence[str] = (),
    due_only: bool = False,
    concurrency: int = 8,
    on_feed: Callable[[FeedReport], None] | None = None,
) -> PollSummary:
    """Poll the configured feeds (or only `urls`); `due_only` skips feeds not yet due.

    Raises InvalidFeedURL, before anything is stored, for a URL that is not http(s).
    """
    urls = [feed_url(url) for url in urls]
    with session_scope(engine) as session:
        feeds = sync_feeds(session, config, urls)
        if urls:
            feeds = [f for f in feeds if f.url in set(urls)]
        if due_only:
            at = now()
            feeds = [f for f in feeds if f.next_poll_at is None or f.next_poll_at <= at]
        requests = [
            FetchRequest(url=f.url, etag=f.etag, last_modified=f.last_modified, key=f.id)
            for f in feeds
        ]
    matcher = Matcher(config)
    summary = PollSummary()
    deadline = config.defaults.fetch_timeout.total_seconds()
    fetched_all = fetch_many(client, requests, concurrency=concurrency, max_seconds=deadline)
    for request, fetched in fetched_all:
        report = _refresh_one(engine, config, cast(int, request.key), fetched, matcher, now())
        log.info(
            "feed=%s result=%s status=%s new_entries=%d new_evidence=%d changes=%d%s",
            report.url,
            report.result,
            report.http_status,
            report.new_entries,
            report.new_evidence,
            len(report.changes),
            f" error={report.error!r}" if report.error else "",
        )
        summary.feeds.append(report)
        if on_feed:
            on_feed(report)
    return summary


def _refresh_one(
    engine: Engine,
    config: Config,
    feed_id: int,
    fetched: FetchResult | FeedError,
    matcher: Matcher,
    now: datetime,
) -> FeedReport:
    try:
        with session_scope(engine) as session:
            feed = session.get_one(Feed, feed_id)
            return refresh_feed(session, config, feed, fetched, matcher, now)
    except Exception as exc:  # a bug met on one feed must not stop the others
        log.exception("feed_id=%s result=failed reason=internal-error", feed_id)
        with session_scope(engine) as session:
            feed = session.get_one(Feed, feed_id)
            feed.last_polled_at, feed.last_result = now, FeedResult.FAILED
            feed.last_error = f"internal error while processing: {type(exc).__name__}: {exc}"
            feed.consecutive_failures += 1
            session.add(feed)
            return FeedReport(
                url=feed.url, name=feed.name, result=FeedResult.FAILED, error=feed.last_error
            )
