"""Record: store a feed's new entries and their evidence, then move the indicator states.

Everything for one feed goes in as a few bulk INSERTs inside the caller's transaction, so a
crash leaves either the whole batch or none of it, and the feed's validators (ETag) are only
saved together with the entries they cover. On SQLite the INSERTs are plain SQL through the
driver; on PostgreSQL, SQLAlchemy Core's multi-row INSERT … RETURNING.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlmodel import Session

from watch.config import Config
from watch.feeds.dedupe import NewEntry
from watch.feeds.match import Match
from watch.reader import sqlite_time
from watch.schema import Cause, Entry, Evidence, StateChange, Story, UTCDateTime
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
        return _sqlite_insert(connection, table, rows)
    result = connection.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
    )
    return [row[0] for row in result]


def _sqlite_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Plain SQL through the sqlite3 driver (SQLAlchemy's per-value processing cost more than
    the insert). The caller's transaction holds SQLite's write lock for the whole
    executemany, and ids are rowids (no AUTOINCREMENT), so the rows get consecutive ids that
    end at last_insert_rowid()."""
    names = list(rows[0])
    times = [i for i, name in enumerate(names) if isinstance(table.c[name].type, UTCDateTime)]
    values = [[row[name] for name in names] for row in rows]
    for row_values in values:
        for i in times:
            row_values[i] = sqlite_time(row_values[i])
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, values)
        last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
    finally:
        cursor.close()
    return list(range(last - len(rows) + 1, last + 1))


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
        row = vars(item.row).copy()
        del row["id"]
        entry_rows.append(row)
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
                    "recorded_at": item.row.fetched_at,  # `now` live; each entry's own in a replay
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
