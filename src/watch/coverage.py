"""Watched coverage: the stretches of time watch actually watched, and how much of a period
they cover.

Silence is evidence only for time that was watched. A live poll that succeeds (new entries
or a 304) covers the time since the same feed's previous successful poll, but never more
than `GAP_INTERVALS` of its interval back: after a long outage, the outage stays unwatched.
A backtest covers each day its archive has an entry on, and the days between two entries
that lie at most `ARCHIVE_GAP` apart, so a sparse archive covers little.

Spans are stored per origin (a feed URL, or an archive file) and merged when they touch,
so a daemon polling every few minutes for a year keeps one row per feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: read commands merge spans without SQLAlchemy
    from sqlmodel import Session

GAP_INTERVALS = 3  # a successful poll vouches for at most this many intervals before it
ARCHIVE_GAP = timedelta(days=3)  # entries this close cover the days between them

Span = tuple[datetime, datetime]


def record_watched(session: Session, origin: str, start: datetime, end: datetime) -> None:
    """Store [start, end) as watched by `origin`, extending its latest span when they touch."""
    from sqlmodel import col, select

    from watch.schema import WatchedSpan

    if end <= start:
        return
    latest = session.exec(
        select(WatchedSpan)
        .where(WatchedSpan.origin == origin)
        .order_by(col(WatchedSpan.end).desc())
        .limit(1)
    ).first()
    if latest is not None and latest.start <= start <= latest.end:
        latest.end = max(latest.end, end)
        session.add(latest)
    else:
        session.add(WatchedSpan(origin=origin, start=start, end=end))
    session.flush()


def record_poll(session: Session, origin: str, now: datetime, interval: timedelta) -> None:
    """A successful poll at `now`: watched since the previous success, within a few intervals."""
    from sqlmodel import col, select

    from watch.schema import WatchedSpan

    last = session.exec(
        select(WatchedSpan.end)
        .where(WatchedSpan.origin == origin)
        .order_by(col(WatchedSpan.end).desc())
        .limit(1)
    ).first()
    since = now - interval
    if last is not None:
        since = max(min(last, now), now - GAP_INTERVALS * interval)
    record_watched(session, origin, since, now)


def archive_spans(published: Iterable[datetime]) -> list[Span]:
    """What an archive's entry times cover: each entry's day, and short gaps between them."""
    days = sorted({p.replace(hour=0, minute=0, second=0, microsecond=0) for p in published})
    spans: list[Span] = []
    for day in days:
        if spans and day - spans[-1][1] <= ARCHIVE_GAP:
            spans[-1] = (spans[-1][0], day + timedelta(days=1))
        else:
            spans.append((day, day + timedelta(days=1)))
    return spans


def watched_spans(session: Session) -> list[Span]:
    """Every stored span of every origin, merged into disjoint spans in time order."""
    from sqlmodel import select

    from watch.schema import WatchedSpan

    rows = session.exec(select(WatchedSpan.start, WatchedSpan.end)).all()
    return merge([(start, end) for start, end in rows])


def merge(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def covered(spans: Sequence[Span], start: datetime, end: datetime) -> float:
    """The share of [start, end) that the disjoint `spans` cover, in [0, 1]."""
    length = (end - start).total_seconds()
    if length <= 0:
        return 0.0
    seen = sum(
        max(0.0, (min(e, end) - max(s, start)).total_seconds())
        for s, e in spans
        if s < end and e > start
    )
    return min(1.0, seen / length)
