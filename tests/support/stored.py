"""Store evidence straight into a test database, as record() would, without feeds or rules."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from watch.config import Config
from watch.schema import Entry, Evidence, Feed, StateChange, Story
from watch.states import update_states


def add_evidence(
    session: Session,
    config: Config,
    indicator_id: str,
    source: str,
    published: datetime,
    title: str = "A report",
    *,
    now: datetime | None = None,
) -> tuple[int, list[StateChange]]:
    """One entry from `source` matching `indicator_id`; returns its evidence id and the changes."""
    feed = session.exec(select(Feed).where(Feed.url == f"https://{source}.example/feed")).first()
    if feed is None:
        feed = Feed(url=f"https://{source}.example/feed", name=source)
        session.add(feed)
        session.flush()
    story = Story(source=source, first_seen_at=published)
    session.add(story)
    session.flush()
    entry = Entry(
        feed_id=feed.id or 0,
        key=f"k{story.id}",
        story_id=story.id or 0,
        link=f"https://{source}.example/{story.id}",
        title=title,
        summary="",
        source=source,
        published_at=published,
        fetched_at=now or published,
    )
    session.add(entry)
    session.flush()
    evidence = Evidence(
        indicator_id=indicator_id,
        entry_id=entry.id or 0,
        story_id=story.id or 0,
        source=source,
        rule="test",
        matched=title,
        published_at=published,
        recorded_at=now or published,
    )
    session.add(evidence)
    session.flush()
    assert evidence.id is not None
    changes = update_states(
        session,
        config,
        [indicator_id],
        now=now or published,
        cause="evidence",
        evidence_ids={indicator_id: evidence.id},
    )
    return evidence.id, changes


def watched(session: Session, start: datetime, end: datetime, origin: str = "test") -> None:
    """Record [start, end) as watched, as successful polls would: silence there is evidence."""
    from watch.coverage import record_watched

    record_watched(session, origin, start, end)
