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

from sqlalchemy import insert
from sqlmodel import Session

from watch.config import Config
from watch.dedupe import NewEntry
from watch.matching import Match
from watch.models import Entry, Evidence, StateChange, Story
from watch.states import update_states


@dataclass
class Recorded:
    entries: int = 0
    evidence: int = 0
    changes: list[StateChange] = field(default_factory=list)


def _bulk_insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in one statement batch and return their ids in row order."""
    if not rows:
        return []
    result = session.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]


def record(
    session: Session,
    config: Config,
    new_entries: Sequence[NewEntry],
    matches: Sequence[Sequence[Match]],
    now: datetime,
    cause: str = "evidence",
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
    story_ids = _bulk_insert(session, Story, story_rows)
    for story, story_id in zip(new_stories.values(), story_ids, strict=True):
        story.id = story_id

    entry_rows = []
    for item in new_entries:
        item.row.story_id = item.story.id or 0
        entry_rows.append(item.row.model_dump(exclude={"id"}))
    entry_ids = _bulk_insert(session, Entry, entry_rows)

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
                }
            )
    evidence_ids = _bulk_insert(session, Evidence, evidence_rows)
    latest = {
        row["indicator_id"]: eid for row, eid in zip(evidence_rows, evidence_ids, strict=True)
    }
    changes = update_states(session, config, latest, now=now, cause=cause, evidence_ids=latest)
    return Recorded(entries=len(entry_ids), evidence=len(evidence_ids), changes=changes)
