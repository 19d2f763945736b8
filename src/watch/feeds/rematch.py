"""Rematch: run the current rules over every stored entry, so rules can be tuned on history.

Evidence a rule edit no longer supports is marked `retracted` (kept, so history stays whole,
and restored if a later edit matches it again); new matches become evidence. States are then
recomputed with cause "rematch". A dry run does all of this and rolls it back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from watch.config import Config
from watch.feeds.ingest import match_entry
from watch.feeds.match import Matcher
from watch.schema import Cause, Entry, Evidence, StateChange, Story
from watch.states import update_states

BATCH = 2000


@dataclass
class EvidenceDiff:
    indicator: str
    entry_id: int
    title: str
    rule: str
    matched: str


@dataclass
class RematchReport:
    entries: int = 0
    appeared: list[EvidenceDiff] = field(default_factory=list)
    disappeared: list[EvidenceDiff] = field(default_factory=list)
    changes: list[StateChange] = field(default_factory=list)
    applied: bool = False


def rematch(
    engine: Engine,
    config: Config,
    now: datetime,
    *,
    dry_run: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> RematchReport:
    matcher = Matcher(config)
    report = RematchReport(applied=not dry_run)
    with Session(engine, expire_on_commit=False) as session:
        total = session.exec(select(func.count()).select_from(Entry)).one()
        touched: set[str] = set()
        last_id = 0
        while True:
            entries = session.exec(
                select(Entry, Story)
                .join(Story, col(Story.id) == Entry.story_id)
                .where(col(Entry.id) > last_id)
                .order_by(col(Entry.id))
                .limit(BATCH)
            ).all()
            if not entries:
                break
            last_id = entries[-1][0].id or last_id
            touched |= _rematch_batch(session, matcher, entries, now, report)
            report.entries += len(entries)
            if on_progress:
                on_progress(report.entries, total)
        report.changes = update_states(session, config, touched, now=now, cause=Cause.REMATCH)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return report


def _rematch_batch(
    session: Session,
    matcher: Matcher,
    entries: Sequence[tuple[Entry, Story]],
    now: datetime,
    report: RematchReport,
) -> set[str]:
    ids = [entry.id for entry, _ in entries]
    stored: dict[int, dict[str, Evidence]] = {}
    for ev in session.exec(select(Evidence).where(col(Evidence.entry_id).in_(ids))):
        stored.setdefault(ev.entry_id, {})[ev.indicator_id] = ev
    touched: set[str] = set()
    for entry, story in entries:
        assert entry.id is not None
        found = {m.indicator_id: m for m in match_entry(matcher, entry.title, entry.summary)}
        existing = stored.get(entry.id, {})
        for indicator_id, match in found.items():
            evidence = existing.get(indicator_id)
            if evidence is None:
                evidence = Evidence(
                    indicator_id=indicator_id,
                    entry_id=entry.id,
                    story_id=story.id or 0,
                    source=story.source,
                    rule=match.rule,
                    matched=match.span,
                    published_at=entry.published_at,
                    recorded_at=now,
                )
            elif not evidence.retracted:
                continue
            evidence.retracted = False
            session.add(evidence)
            touched.add(indicator_id)
            report.appeared.append(
                EvidenceDiff(indicator_id, entry.id, entry.title, match.rule, match.span)
            )
        for indicator_id, evidence in existing.items():
            if indicator_id not in found and not evidence.retracted:
                evidence.retracted = True
                session.add(evidence)
                touched.add(indicator_id)
                report.disappeared.append(
                    EvidenceDiff(
                        indicator_id, entry.id, entry.title, evidence.rule, evidence.matched
                    )
                )
    session.flush()
    return touched
