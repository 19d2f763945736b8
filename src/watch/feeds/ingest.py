"""Ingest: one feed's parsed entries through dedupe → match → record, in the caller's
transaction. Live polling (watch.feeds.refresh) and the backtest replay call it, so an entry
is judged the same way whether it arrived today or from an archive; rematch re-reads stored
entries through the same `match_entry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from watch.config import Config
from watch.feeds.dedupe import dedupe
from watch.feeds.match import Match, Matcher, entry_text
from watch.feeds.parse import ParsedEntry
from watch.feeds.record import Recorded, record
from watch.schema import Feed


def match_entry(matcher: Matcher, title: str | None, summary: str | None) -> list[Match]:
    """What the rules find in an entry's title and summary."""
    return matcher.match(entry_text(title, summary))


def ingest(
    session: Session,
    config: Config,
    feed: Feed,
    entries: Sequence[ParsedEntry],
    matcher: Matcher,
    now: datetime,
) -> Recorded:
    """Store the entries `feed` has not given before, their evidence and the state changes."""
    fresh = dedupe(session, feed, entries, now)
    matches = [match_entry(matcher, new.row.title, new.row.summary) for new in fresh]
    recorded = record(session, config, fresh, matches, now)
    if recorded.entries:
        feed.last_new_entry_at = now
        feed.entry_count += recorded.entries
    session.add(feed)
    return recorded
