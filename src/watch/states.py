"""Indicator states, derived from the evidence, and the history of their changes.

An event goes quiet → signalled (evidence from one source) → confirmed (evidence from at least
`corroboration` distinct sources); a condition goes holding → signalled → broken the same way.
A source is a story's first source (see watch.feeds.dedupe); rejected or retracted evidence does
not count.
The state is always recomputed from the stored evidence, never nudged, so a rejection or a
rematch can move it back as well as forward; every change writes a `StateChange` row.

Per reading, an indicator's outcome is judged period by period inside that reading's window
(from its publication date; a reading that repeats is judged again every window length):
yes once the evidence published inside the period reaches the corroboration threshold
(resolved at the publication time of the evidence that got it there), or on the day of a
dated "yes" (the tracker's `record:` or `watch resolve --on`); no once the period has closed
without that, but only if it was watched (watch.coverage) or vouched for by a dated "no" for
at least `coverage` of its length; else it is *unobserved*, and no score counts it.
An undated resolution by hand (watch.review) wins inside the period it was made in, and
holds the indicator's state at "resolved" until it is reopened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from watch.config import Config
from watch.outcomes import (
    DatedFact,
    Facts,
    Period,
    ReadingResolution,
    StandingResolution,
    agrees,
    current_period,
    derive_state,
    load_facts,
    periods,
    reading_outcome,
    resolve_period,
    resolve_reading,
    window_bounds,
)
from watch.reader import SessionReader, marks
from watch.schema import (
    LADDERS,
    Cause,
    IndicatorState,
    Resolution,
    State,
    StateChange,
)


@dataclass(frozen=True)
class EvidenceTally:
    count: int = 0
    sources: int = 0
    last_published: datetime | None = None


def tally_evidence(session: Session, indicator_ids: Iterable[str]) -> dict[str, EvidenceTally]:
    """Count, distinct sources and newest time of the non-rejected evidence, per indicator."""
    ids = list(indicator_ids)
    tallies = {ind: EvidenceTally() for ind in ids}
    if not ids:
        return tallies
    reader = SessionReader(session)
    rows = reader.rows(
        "SELECT indicator_id, COUNT(*), COUNT(DISTINCT source), MAX(published_at) "
        f"FROM evidence WHERE indicator_id IN ({marks(ids)}) AND rejected = ? AND retracted = ? "
        "GROUP BY indicator_id",
        [*ids, False, False],
    )
    for indicator_id, count, sources, last in rows:
        tallies[indicator_id] = EvidenceTally(count, sources, reader.time(last))
    return tallies


def ensure_states(
    session: Session,
    config: Config,
    now: datetime,
    only: Iterable[str] | None = None,
    *,
    store: bool = True,
) -> dict[str, IndicatorState]:
    """The state row of every configured indicator (or of `only`), created where missing.

    Readers pass store=False: a missing row is then its kind's first state, not saved.
    """
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
            if store:
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
    tallies = tally_evidence(session, wanted)
    if _counts_only(session, config, wanted, tallies):
        return []
    rows = ensure_states(session, config, now, only=wanted)
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


def _counts_only(
    session: Session, config: Config, wanted: list[str], tallies: dict[str, EvidenceTally]
) -> bool:
    """When no state moves (most polls), refresh the stored counts in plain SQL instead of
    loading and flushing ORM rows; False (nothing written) when a state would move, a row is
    missing or an analyst's resolution stands: update_states' full path decides then."""
    reader = SessionReader(session)
    stored = dict(
        reader.rows(
            "SELECT indicator_id, state FROM indicatorstate "
            f"WHERE indicator_id IN ({marks(wanted)})",
            wanted,
        )
    )
    by_hand = reader.rows(
        "SELECT 1 FROM resolution WHERE cause = ? AND reopened_at IS NULL "
        f"AND indicator_id IN ({marks(wanted)})",
        [Cause.MANUAL.value, *wanted],
    )
    if len(stored) < len(wanted) or by_hand:
        return False
    for indicator_id in wanted:
        indicator = config.indicator(indicator_id)
        derived = derive_state(
            indicator.kind, tallies[indicator_id].sources, config.corroboration(indicator)
        )
        if derived != stored[indicator_id]:
            return False
    reader.write_many(
        "UPDATE indicatorstate SET evidence_count = ?, sources = ?, last_evidence_at = ? "
        "WHERE indicator_id = ?",
        [[tallies[i].count, tallies[i].sources, tallies[i].last_published, i] for i in wanted],
    )
    for indicator_id in wanted:  # rows this session already holds must not go stale
        held = session.identity_map.get(session.identity_key(IndicatorState, indicator_id))
        if held is not None:
            session.expire(held, ["evidence_count", "sources", "last_evidence_at"])
    return True


def manual_resolutions(
    session: Session, indicator_ids: Iterable[str] | None = None
) -> dict[str, Resolution]:
    """The standing (not reopened) undated resolution by hand of each indicator that has one."""
    query = select(Resolution).where(
        Resolution.cause == Cause.MANUAL,
        col(Resolution.reopened_at).is_(None),
        col(Resolution.span_from).is_(None),
    )
    if indicator_ids is not None:
        query = query.where(col(Resolution.indicator_id).in_(list(indicator_ids)))
    return {row.indicator_id: row for row in session.exec(query.order_by(col(Resolution.id)))}


__all__ = [
    "DatedFact",
    "EvidenceTally",
    "Facts",
    "Period",
    "ReadingResolution",
    "StandingResolution",
    "agrees",
    "current_period",
    "derive_state",
    "ensure_states",
    "load_facts",
    "manual_resolutions",
    "periods",
    "reading_outcome",
    "resolve_period",
    "resolve_reading",
    "tally_evidence",
    "update_states",
    "window_bounds",
]
