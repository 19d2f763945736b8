"""Analyst review: resolve or reopen an indicator by hand, reject evidence, read the history;
and `close_windows`, which announces each reading's window that closed quiet (the daemon and
the backtest call it as their clock passes the windows).

Every function takes the session and `now`, changes the stored rows, and returns the
`StateChange` rows it wrote; the caller commits. Nothing is deleted: a rejected piece of
evidence is flagged, a reopened resolution is kept with its reopening time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from watch.clock import start_of_day
from watch.config import Config
from watch.errors import BadResolution, NotResolvedByHand, UnknownEvidence
from watch.outcomes import yes_no
from watch.schema import (
    Cause,
    Evidence,
    IndicatorState,
    Resolution,
    State,
    StateChange,
)
from watch.states import (
    ensure_states,
    load_facts,
    manual_resolutions,
    periods,
    resolve_period,
    update_states,
)


def _by_hand(
    session: Session, row: IndicatorState, state: State, note: str, now: datetime
) -> StateChange:
    """Move an indicator to `state` by an analyst's hand and write the history row."""
    change = StateChange(
        indicator_id=row.indicator_id,
        old_state=row.state,
        new_state=state,
        at=now,
        cause=Cause.MANUAL,
        note=note,
    )
    row.state, row.changed_at = state, now
    session.add_all([change, row])
    session.flush()
    return change


def resolve(
    session: Session, config: Config, indicator_id: str, outcome: bool, note: str, now: datetime
) -> StateChange:
    """Resolve an indicator by hand for every reading; it wins over the evidence until reopened.

    Resolving again replaces the standing manual resolution (the old one is kept, reopened).
    """
    config.indicator(indicator_id)  # raises UnknownIndicator
    row = ensure_states(session, config, now)[indicator_id]
    standing = manual_resolutions(session, [indicator_id]).get(indicator_id)
    if standing is not None:
        standing.reopened_at = now
        session.add(standing)
    change = _by_hand(
        session, row, State.RESOLVED, f"resolved {yes_no(outcome)} by hand: {note}", now
    )
    session.add(
        Resolution(
            indicator_id=indicator_id,
            outcome=outcome,
            cause=Cause.MANUAL,
            resolved_at=now,
            recorded_at=now,
            note=note,
            state_change_id=change.id,
        )
    )
    session.flush()
    return change


def record_outcome(
    session: Session,
    config: Config,
    indicator_id: str,
    outcome: bool,
    *,
    on: date | None = None,
    span: tuple[date, date] | None = None,
    source: str | None,
    note: str,
    now: datetime,
) -> Resolution:
    """A dated resolution by hand: it happened `on` a day, or did not over `span` (inclusive).

    Each period of each reading that the dates fall in follows from it; the state is left to
    the evidence (a fact about the past does not freeze today's state). Kept apart from the
    evidence in the history, with its source.
    """
    config.indicator(indicator_id)
    if outcome and (on is None or span is not None):
        raise BadResolution("--yes with dates takes --on DATE (the day it happened)")
    if not outcome and (span is None or on is not None):
        raise BadResolution("--no with dates takes --from DATE and --to DATE")
    if span is not None and span[1] < span[0]:
        raise BadResolution(f"--to {span[1]} is before --from {span[0]}")
    first, last = (on, on) if on is not None else span  # type: ignore[misc]
    if start_of_day(first) > now:
        raise BadResolution(f"{first} is in the future; record what has been observed")
    row = Resolution(
        indicator_id=indicator_id,
        outcome=outcome,
        cause=Cause.MANUAL,
        resolved_at=start_of_day(first) if outcome else start_of_day(last + timedelta(days=1)),
        recorded_at=now,
        note=note,
        span_from=start_of_day(first),
        span_to=None if outcome else start_of_day(last + timedelta(days=1)),
        source=source,
    )
    session.add(row)
    session.flush()
    return row


def reopen(
    session: Session, config: Config, indicator_id: str, now: datetime, note: str | None = None
) -> list[StateChange]:
    """Undo the manual resolution: the state is recomputed from the evidence again.

    Dated resolutions by hand of the indicator are withdrawn too (kept, marked reopened).
    """
    config.indicator(indicator_id)
    standing = manual_resolutions(session, [indicator_id]).get(indicator_id)
    dated = session.exec(
        select(Resolution).where(
            Resolution.indicator_id == indicator_id,
            Resolution.cause == Cause.MANUAL,
            col(Resolution.reopened_at).is_(None),
            col(Resolution.span_from).is_not(None),
        )
    ).all()
    for withdrawn in dated:
        withdrawn.reopened_at = now
        session.add(withdrawn)
    if standing is None and dated:
        session.flush()
        return []
    if standing is None:
        raise NotResolvedByHand(
            f"{indicator_id} is not resolved by hand; a resolution by evidence or window follows "
            "the evidence (reject a false positive with `watch reject`) and the tracker file"
        )
    standing.reopened_at = now
    session.add(standing)
    row = ensure_states(session, config, now)[indicator_id]
    why = f"reopened by hand{': ' + note if note else ''}"
    change = _by_hand(
        session, row, State.REOPENED, f"{why} (was resolved {yes_no(standing.outcome)})", now
    )
    recomputed = update_states(
        session,
        config,
        [indicator_id],
        now=now,
        cause=Cause.MANUAL,
        note="recomputed from the evidence after reopening",
    )
    return [change, *recomputed]


def reject(
    session: Session, config: Config, evidence_id: int, note: str, now: datetime
) -> list[StateChange]:
    """Mark evidence as a false positive and recompute its indicator (it may move back)."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise UnknownEvidence(f"no evidence with id {evidence_id}")
    if evidence.rejected:
        return []
    evidence.rejected, evidence.rejected_note = True, note
    session.add(evidence)
    session.flush()
    return update_states(
        session,
        config,
        [evidence.indicator_id],
        now=now,
        cause=Cause.REJECT,
        evidence_ids={evidence.indicator_id: evidence_id},
        note=f"evidence {evidence_id} rejected: {note}",
    )


def close_windows(session: Session, config: Config, now: datetime) -> list[StateChange]:
    """Announce, once each, every period of a reading's window that closed quiet while watched.

    Writes a "resolved" history row (cause "window") and a window Resolution per quiet close.
    A period that closed unwatched is not announced: its outcome is unobserved. An indicator
    resolved by hand is skipped (its outcome is the analyst's); if it is reopened later, its
    closed periods are announced then. Safe to run from several daemons at once: the unique
    window row makes a second announcement roll back.
    """
    announced = set(
        session.exec(
            select(Resolution.indicator_id, Resolution.reading_id, Resolution.period).where(
                Resolution.cause == Cause.WINDOW
            )
        ).all()
    )
    closed = [
        (indicator, period)
        for indicator in config.indicators
        for reading in config.readings
        for period in periods(config, indicator, reading.id, now)
        if period.end <= now and (indicator.id, reading.id, period.index) not in announced
    ]
    if not closed:
        return []
    facts = load_facts(session, config)
    states = ensure_states(session, config, now)
    changes: list[StateChange] = []
    for indicator, period in closed:
        if indicator.id in facts.manual:
            continue
        outcome = resolve_period(session, config, indicator, period, now, facts)
        if outcome.cause != Cause.WINDOW:
            continue
        which = f" (period {period.index})" if period.index else ""
        change = StateChange(
            indicator_id=indicator.id,
            old_state=states[indicator.id].state,
            new_state=State.RESOLVED,
            at=now,
            cause=Cause.WINDOW,
            note=(
                f"resolved no for {period.reading_id}{which}: its window closed on "
                f"{period.end.date()} without {config.corroboration(indicator)} source(s) "
                f"inside it, watched for {outcome.coverage:.0%} of it"
            ),
        )
        try:
            with session.begin_nested():
                session.add(change)
                session.flush()
                session.add(
                    Resolution(
                        indicator_id=indicator.id,
                        reading_id=period.reading_id,
                        period=period.index,
                        outcome=False,
                        cause=Cause.WINDOW,
                        resolved_at=period.end,
                        recorded_at=now,
                        note=change.note,
                        state_change_id=change.id,
                    )
                )
                session.flush()
        except IntegrityError:  # another process announced it first
            continue
        changes.append(change)
    return changes
