"""Record: store a feed's new entries and their evidence, then move the indicator states.

Everything for one feed goes in as a few bulk INSERTs inside the caller's transaction, so a
crash leaves either the whole batch or none of it, and the feed's validators (ETag) are only
saved together with the entries they cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlmodel import Session

from watch.config import Config
from watch.feeds.dedupe import NewEntry
from watch.feeds.match import Match
from watch.schema import Cause, Entry, Evidence, StateChange, Story
from watch.states import update_states

STORY: Table = Story.__table__  # type: ignore[attr-defined]
ENTRY: Table = Entry.__table__  # type: ignore[attr-defined]
EVIDENCE: Table = Evidence.__table__  # type: ignore[attr-defined]


@dataclass
class Recorded:
    entries: int = 0
    evidence: int = 0
    changes: list[StateChange] = field(default_factory=list)


def _bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in as few statements as the driver allows; their ids in row order."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # SQLAlchemy can keep RETURNING in parameter order on SQLite only row by row. One
        # writer at a time gives a multi-row INSERT ascending rowids in VALUES order, so the
        # sorted ids are the rows' ids.
        result = connection.execute(insert(table).returning(table.c.id), rows)
        return sorted(row[0] for row in result)
    result = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return [row[0] for row in result]


def record(
    session: Session,
    config: Config,
    new_entries: Sequence[NewEntry],
    matches: Sequence[Sequence[Match]],
    now: datetime,
    cause: Cause = Cause.EVIDENCE,
) -> Recorded:
    """Store `new_entries` (with their stories) and one Evidence per match; update states."""
    new_stories = {id(item.story): item.story for item in new_entries if item.story.id is None}
    story_rows = [
        {
            "canonical_link": s.canonical_link,
            "fingerprint": s.fingerprint,
            "source": s.source,
            "first_seen_at": s.first_seen_at,
        }
        for s in new_stories.values()
    ]
    story_ids = _bulk_insert(session, STORY, story_rows)
    for story, story_id in zip(new_stories.values(), story_ids, strict=True):
        story.id = story_id

    entry_rows = []
    for item in new_entries:
        item.row.story_id = item.story.id
        entry_rows.append({k: v for k, v in vars(item.row).items() if k != "id"})
    entry_ids = _bulk_insert(session, ENTRY, entry_rows)

    evidence_rows = []
    for item, entry_id, found in zip(new_entries, entry_ids, matches, strict=True):
        item.row.id = entry_id
        for match in found:
            evidence_rows.append(
                {
                    "indicator_id": match.indicator_id,
                    "entry_id": entry_id,
                    "story_id": item.story.id,
                    "source": item.story.source,
                    "rule": match.rule,
                    "matched": match.span,
                    "published_at": item.row.published_at,
                    "recorded_at": now,
                    "rejected": False,
                    "retracted": False,
                }
            )
    evidence_ids = _bulk_insert(session, EVIDENCE, evidence_rows)
    latest: dict[str, int] = {
        str(row["indicator_id"]): eid for row, eid in zip(evidence_rows, evidence_ids, strict=True)
    }
    changes = update_states(session, config, latest, now=now, cause=cause, evidence_ids=latest)
    return Recorded(entries=len(entry_ids), evidence=len(evidence_ids), changes=changes)
