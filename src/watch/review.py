"""Analyst review: resolve or reopen an indicator by hand, reject evidence, read the history;
and `close_windows`, which announces each reading's window that closed quiet (the daemon and
the backtest call it as their clock passes the windows).

Every function takes the session and `now`, changes the stored rows, and returns the
`StateChange` rows it wrote; the caller commits. Nothing is deleted: a rejected piece of
evidence is flagged, a reopened resolution is kept with its reopening time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from watch.clock import iso_z
from watch.config import Config
from watch.errors import NotResolvedByHand, UnknownEvidence
from watch.schema import (
    Cause,
    Entry,
    Evidence,
    IndicatorState,
    Resolution,
    State,
    StateChange,
)
from watch.states import (
    ensure_states,
    manual_resolutions,
    resolve_reading,
    update_states,
    window_bounds,
)


def _yes_no(outcome: bool) -> str:
    return "yes" if outcome else "no"


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
        session, row, State.RESOLVED, f"resolved {_yes_no(outcome)} by hand: {note}", now
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


def reopen(
    session: Session, config: Config, indicator_id: str, now: datetime, note: str | None = None
) -> list[StateChange]:
    """Undo the manual resolution: the state is recomputed from the evidence again."""
    config.indicator(indicator_id)
    standing = manual_resolutions(session, [indicator_id]).get(indicator_id)
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
        session, row, State.REOPENED, f"{why} (was resolved {_yes_no(standing.outcome)})", now
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
    """Announce, once each, every reading's window that has closed without a yes inside it.

    Writes a "resolved" history row (cause "window") and a window Resolution per quiet close.
    An indicator resolved by hand is skipped (its outcome is the analyst's); if it is reopened
    later, its closed windows are announced then. Safe to run from several daemons at once:
    the unique window row makes a second announcement roll back.
    """
    announced = set(
        session.exec(
            select(Resolution.indicator_id, Resolution.reading_id).where(
                Resolution.cause == Cause.WINDOW
            )
        ).all()
    )
    closed = [
        (indicator, reading.id, closes)
        for indicator in config.indicators
        for reading in config.readings
        if (indicator.id, reading.id) not in announced
        and now >= (closes := window_bounds(config, indicator, reading.id)[1])
    ]
    if not closed:
        return []
    manual = manual_resolutions(session)
    states = ensure_states(session, config, now)
    changes: list[StateChange] = []
    for indicator, reading_id, closes in closed:
        if indicator.id in manual:
            continue
        outcome = resolve_reading(session, config, indicator, reading_id, now, manual=manual)
        if outcome.cause != Cause.WINDOW:
            continue
        change = StateChange(
            indicator_id=indicator.id,
            old_state=states[indicator.id].state,
            new_state=State.RESOLVED,
            at=now,
            cause=Cause.WINDOW,
            note=(
                f"resolved no for {reading_id}: its window closed on {closes.date()} "
                f"without {config.corroboration(indicator)} source(s) inside it"
            ),
        )
        try:
            with session.begin_nested():
                session.add(change)
                session.flush()
                session.add(
                    Resolution(
                        indicator_id=indicator.id,
                        reading_id=reading_id,
                        outcome=False,
                        cause=Cause.WINDOW,
                        resolved_at=closes,
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


@dataclass
class HistoryRow:
    at: datetime
    old_state: str | None
    new_state: str
    cause: str
    note: str | None
    evidence_id: int | None
    evidence_title: str | None
    evidence_source: str | None
    evidence_link: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": iso_z(self.at),
            "from": self.old_state,
            "to": self.new_state,
            "cause": self.cause,
            "note": self.note,
            "evidence": None
            if self.evidence_id is None
            else {
                "id": self.evidence_id,
                "title": self.evidence_title,
                "source": self.evidence_source,
                "link": self.evidence_link,
            },
        }


_CHANGE_FIELDS = {"at", "old_state", "new_state", "cause", "note", "evidence_id"}


def history(session: Session, config: Config, indicator_id: str) -> list[HistoryRow]:
    """Every change of the indicator's state, oldest first, with the evidence behind it."""
    config.indicator(indicator_id)
    rows = session.exec(
        select(StateChange, Evidence, Entry)
        .join(Evidence, col(Evidence.id) == StateChange.evidence_id, isouter=True)
        .join(Entry, col(Entry.id) == Evidence.entry_id, isouter=True)
        .where(StateChange.indicator_id == indicator_id)
        .order_by(col(StateChange.at), col(StateChange.id))
    ).all()
    return [
        HistoryRow(
            **change.model_dump(include=_CHANGE_FIELDS),
            evidence_title=entry.title if entry else None,
            evidence_source=evidence.source if evidence else None,
            evidence_link=entry.link if entry else None,
        )
        for change, evidence, entry in rows
    ]
