"""Indicator states, derived from the evidence, and the history of their changes.

An event goes quiet → signalled (evidence from one source) → confirmed (evidence from at least
`corroboration` distinct sources); a condition goes holding → signalled → broken the same way.
A source is a story's first source (see watch.feeds.dedupe); rejected or retracted evidence does
not count.
The state is always recomputed from the stored evidence, never nudged, so a rejection or a
rematch can move it back as well as forward; every change writes a `StateChange` row.

Per reading, an indicator's outcome is judged inside that reading's window (from its
publication date): yes once the evidence published inside the window reaches the
corroboration threshold (resolved at the publication time of the evidence that got it
there), no once the window has closed without that (resolved at the close), pending before.
A resolution by hand (watch.review) wins over both for every reading, from the time it was
made, and holds the indicator's state at "resolved" until it is reopened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from watch.clock import aware, start_of_day
from watch.config import Config, Indicator
from watch.schema import (
    LADDERS,
    Cause,
    Evidence,
    IndicatorState,
    Kind,
    Resolution,
    State,
    StateChange,
)


def derive_state(kind: Kind, sources: int, corroboration: int) -> State:
    quiet, signalled, settled = LADDERS[kind]
    if sources >= corroboration:
        return settled
    return signalled if sources else quiet


@dataclass(frozen=True)
class EvidenceTally:
    count: int = 0
    sources: int = 0
    last_published: datetime | None = None


def tally_evidence(session: Session, indicator_ids: Iterable[str]) -> dict[str, EvidenceTally]:
    """Count, distinct sources and newest time of the non-rejected evidence, per indicator."""
    ids = list(indicator_ids)
    rows = session.exec(
        select(
            Evidence.indicator_id,
            func.count(),
            func.count(func.distinct(Evidence.source)),
            func.max(Evidence.published_at),
        )
        .where(
            col(Evidence.indicator_id).in_(ids),
            col(Evidence.rejected).is_(False),
            col(Evidence.retracted).is_(False),
        )
        .group_by(Evidence.indicator_id)
    ).all()
    tallies = {ind: EvidenceTally() for ind in ids}
    for indicator_id, count, sources, last in rows:
        tallies[indicator_id] = EvidenceTally(count, sources, aware(last))
    return tallies


def ensure_states(
    session: Session, config: Config, now: datetime, only: Iterable[str] | None = None
) -> dict[str, IndicatorState]:
    """The state row of every configured indicator (or of `only`), created where missing."""
    query = select(IndicatorState)
    wanted = config.indicators
    if only is not None:
        ids = set(only)
        query = query.where(col(IndicatorState.indicator_id).in_(ids))
        wanted = [indicator for indicator in config.indicators if indicator.id in ids]
    rows = {row.indicator_id: row for row in session.exec(query)}
    for indicator in wanted:
        if indicator.id not in rows:
            row = IndicatorState(
                indicator_id=indicator.id,
                kind=indicator.kind,
                state=LADDERS[indicator.kind][0],
                changed_at=now,
            )
            session.add(row)
            rows[indicator.id] = row
    return rows


def update_states(
    session: Session,
    config: Config,
    indicator_ids: Iterable[str],
    *,
    now: datetime,
    cause: Cause,
    evidence_ids: dict[str, int] | None = None,
    note: str | None = None,
) -> list[StateChange]:
    """Recompute the named indicators from their evidence; record and return the changes."""
    configured = {indicator.id for indicator in config.indicators}
    wanted = [ind for ind in dict.fromkeys(indicator_ids) if ind in configured]
    if not wanted:
        return []
    rows = ensure_states(session, config, now, only=wanted)
    tallies = tally_evidence(session, wanted)
    manual = manual_resolutions(session, wanted)
    changes: list[StateChange] = []
    for indicator_id in wanted:
        indicator = config.indicator(indicator_id)
        row, tally = rows[indicator_id], tallies[indicator_id]
        row.evidence_count, row.sources = tally.count, tally.sources
        row.last_evidence_at = tally.last_published
        if indicator_id in manual:
            new_state = State.RESOLVED  # the analyst's call wins over the evidence
        else:
            new_state = derive_state(indicator.kind, tally.sources, config.corroboration(indicator))
        if new_state != row.state:
            change = StateChange(
                indicator_id=indicator_id,
                old_state=row.state,
                new_state=new_state,
                at=now,
                cause=cause,
                evidence_id=(evidence_ids or {}).get(indicator_id),
                note=note or f"{tally.sources} source(s), {tally.count} piece(s) of evidence",
            )
            row.state, row.changed_at = new_state, now
            session.add(change)
            changes.append(change)
        session.add(row)
    session.flush()
    return changes


def window_bounds(
    config: Config, indicator: Indicator, reading_id: str
) -> tuple[datetime, datetime]:
    reading = next(r for r in config.readings if r.id == reading_id)
    opens, closes = config.window(indicator, reading)
    return start_of_day(opens), start_of_day(closes)


def manual_resolutions(
    session: Session, indicator_ids: Iterable[str] | None = None
) -> dict[str, Resolution]:
    """The standing (not reopened) resolution by hand of each indicator that has one."""
    query = select(Resolution).where(
        Resolution.cause == Cause.MANUAL, col(Resolution.reopened_at).is_(None)
    )
    if indicator_ids is not None:
        query = query.where(col(Resolution.indicator_id).in_(list(indicator_ids)))
    return {row.indicator_id: row for row in session.exec(query.order_by(col(Resolution.id)))}


@dataclass(frozen=True)
class ReadingResolution:
    """How one reading's window has decided an indicator, when, and why."""

    outcome: bool | None  # None while pending
    resolved_at: datetime | None = None
    cause: str | None = None  # evidence | window | manual
    evidence_id: int | None = None  # the evidence that reached corroboration
    note: str | None = None  # the analyst's note on a manual resolution


def resolve_reading(
    session: Session,
    config: Config,
    indicator: Indicator,
    reading_id: str,
    now: datetime,
    *,
    manual: dict[str, Resolution] | None = None,
) -> ReadingResolution:
    """The outcome for `reading_id` as it stood at `now` (evidence published after is unseen).

    `manual` (from `manual_resolutions`) saves a query per call when resolving many.
    """
    if manual is None:
        manual = manual_resolutions(session, [indicator.id])
    by_hand = manual.get(indicator.id)
    if by_hand is not None and by_hand.resolved_at <= now:
        return ReadingResolution(
            by_hand.outcome, by_hand.resolved_at, Cause.MANUAL, note=by_hand.note
        )
    opens, closes = window_bounds(config, indicator, reading_id)
    rows = session.exec(
        select(Evidence.id, Evidence.source, Evidence.published_at)
        .where(
            Evidence.indicator_id == indicator.id,
            col(Evidence.rejected).is_(False),
            col(Evidence.retracted).is_(False),
            Evidence.published_at >= opens,
            Evidence.published_at < closes,
            Evidence.published_at <= now,
        )
        .order_by(col(Evidence.published_at), col(Evidence.id))
    ).all()
    sources: set[str] = set()
    for evidence_id, source, published in rows:
        sources.add(source)
        if len(sources) >= config.corroboration(indicator):
            return ReadingResolution(True, aware(published), Cause.EVIDENCE, evidence_id)
    if now >= closes:
        return ReadingResolution(False, closes, Cause.WINDOW)
    return ReadingResolution(None)


def reading_outcome(
    session: Session, config: Config, indicator: Indicator, reading_id: str, now: datetime
) -> bool | None:
    """True / False once the reading's window (or the analyst) has decided, None while pending."""
    return resolve_reading(session, config, indicator, reading_id, now).outcome


def agrees(p: float, outcome: bool | None) -> bool | None:
    """Whether an outcome bears the reading out (p ≥ 0.5 means it expected yes)."""
    return None if outcome is None else (p >= 0.5) == outcome
