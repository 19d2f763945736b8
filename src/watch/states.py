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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlmodel import Session, col, select

from watch.clock import aware, start_of_day
from watch.config import Config, Indicator
from watch.coverage import Span, covered, merge, watched_spans
from watch.reader import SessionReader, marks
from watch.schema import (
    LADDERS,
    Cause,
    Evidence,
    IndicatorState,
    Kind,
    PeriodStatus,
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


def window_bounds(
    config: Config, indicator: Indicator, reading_id: str
) -> tuple[datetime, datetime]:
    """The first period of the reading's window (the whole window when it does not repeat)."""
    reading = next(r for r in config.readings if r.id == reading_id)
    opens, closes = config.window(indicator, reading)
    return start_of_day(opens), start_of_day(closes)


@dataclass(frozen=True)
class Period:
    """One stretch of a reading's window: period k runs from published + k·length."""

    reading_id: str
    index: int
    start: datetime
    end: datetime


def periods(config: Config, indicator: Indicator, reading_id: str, now: datetime) -> list[Period]:
    """The reading's periods begun by `now` (the first always), oldest first.

    A reading that does not repeat has one period: its window.
    """
    reading = next(r for r in config.readings if r.id == reading_id)
    first = Period(reading_id, 0, *window_bounds(config, indicator, reading_id))
    if not config.repeats(reading) or first.end <= first.start:
        return [first]
    found = [first]
    while found[-1].end <= now:
        opens, closes = config.period(indicator, reading, len(found))
        found.append(Period(reading_id, len(found), start_of_day(opens), start_of_day(closes)))
    return found


def current_period(config: Config, indicator: Indicator, reading_id: str, now: datetime) -> Period:
    return periods(config, indicator, reading_id, now)[-1]


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


@dataclass(frozen=True)
class DatedFact:
    """A dated outcome from the tracker's `record:` list or from `watch resolve --on/--from`:
    yes on the day at `start`, or no over [start, end)."""

    indicator_id: str
    outcome: bool
    start: datetime
    end: datetime
    cause: str  # record | manual
    source: str | None
    note: str | None
    known_at: datetime | None = None  # when it was recorded by hand (None: in the file)


@dataclass(frozen=True)
class Facts:
    """What decides periods besides the evidence, read once for many resolutions."""

    manual: dict[str, Resolution]
    dated: dict[str, list[DatedFact]]
    spans: list[Span]
    # Each indicator's standing evidence (id, source, published), read once when first needed:
    # one query per indicator instead of one per period.
    evidence: dict[str, list[tuple[int, str, datetime]]] = field(default_factory=dict)

    def evidence_of(self, session: Session, indicator_id: str) -> list[tuple[int, str, datetime]]:
        if indicator_id not in self.evidence:
            rows = session.exec(
                select(Evidence.id, Evidence.source, Evidence.published_at)
                .where(
                    Evidence.indicator_id == indicator_id,
                    col(Evidence.rejected).is_(False),
                    col(Evidence.retracted).is_(False),
                )
                .order_by(col(Evidence.published_at), col(Evidence.id))
            ).all()
            self.evidence[indicator_id] = [(i or 0, src, aware(at) or at) for i, src, at in rows]
        return self.evidence[indicator_id]


def load_facts(session: Session, config: Config) -> Facts:
    """The standing resolutions by hand, the dated facts (file and hand) and the watched spans."""
    dated: dict[str, list[DatedFact]] = {}
    for fact in config.record:
        if fact.on is not None:
            start, end = fact.on, fact.on + timedelta(days=1)
        else:
            assert fact.start is not None and fact.end is not None
            start, end = fact.start, fact.end + timedelta(days=1)
        dated.setdefault(fact.indicator, []).append(
            DatedFact(
                fact.indicator,
                fact.outcome == "yes",
                start_of_day(start),
                start_of_day(end),
                Cause.RECORD,
                fact.source,
                fact.note,
            )
        )
    rows = session.exec(
        select(Resolution)
        .where(
            Resolution.cause == Cause.MANUAL,
            col(Resolution.reopened_at).is_(None),
            col(Resolution.span_from).is_not(None),
        )
        .order_by(col(Resolution.id))
    )
    for row in rows:
        assert row.span_from is not None
        dated.setdefault(row.indicator_id, []).append(
            DatedFact(
                row.indicator_id,
                row.outcome,
                row.span_from,
                row.span_to or row.span_from + timedelta(days=1),
                Cause.MANUAL,
                row.source,
                row.note,
                row.recorded_at,
            )
        )
    return Facts(manual_resolutions(session), dated, watched_spans(session))


@dataclass(frozen=True)
class ReadingResolution:
    """How one period of a reading's window has decided an indicator, when, and why."""

    outcome: bool | None  # None while pending or when the period closed unwatched
    resolved_at: datetime | None = None
    cause: str | None = None  # evidence | window (silence) | manual | record
    evidence_id: int | None = None  # the evidence that reached corroboration
    note: str | None = None  # the analyst's or the record's note
    status: PeriodStatus = PeriodStatus.PENDING
    coverage: float = 0.0  # share of the period watched (or vouched for by a dated "no")
    period: Period | None = None
    source: str | None = None  # the URL behind a dated resolution


def resolve_period(
    session: Session,
    config: Config,
    indicator: Indicator,
    period: Period,
    now: datetime,
    facts: Facts,
) -> ReadingResolution:
    """One period's outcome as it stood at `now` (anything published or recorded later is unseen).

    In order: an undated resolution by hand made inside the period; a dated "yes" inside it;
    dated "no" spans covering `coverage` of it (once it has ended); evidence reaching
    corroboration inside it; and once it has ended, silence, but only if the period was
    watched (or vouched for) for at least `coverage` of its length; else it is unobserved.
    """
    start, end = period.start, period.end
    last = len(periods(config, indicator, period.reading_id, now)) - 1
    dated = facts.dated.get(indicator.id, [])
    known = [f for f in dated if f.known_at is None or f.known_at <= now]
    vouched = merge((f.start, f.end) for f in known if not f.outcome)
    watched = merge([*_clip(facts.spans, now), *vouched])
    seen = covered(watched, start, end)
    need = config.coverage(indicator)
    done = partial(ReadingResolution, period=period, coverage=seen)

    by_hand = facts.manual.get(indicator.id)
    if by_hand is not None and by_hand.resolved_at <= now:
        made = by_hand.resolved_at
        inside = start <= made < end or (made >= end and period.index == last == 0)
        if inside:
            return done(
                by_hand.outcome,
                by_hand.resolved_at,
                Cause.MANUAL,
                note=by_hand.note,
                status=_status(by_hand.outcome),
            )
    for fact in sorted(known, key=lambda f: f.start):
        if fact.outcome and start <= fact.start < end and fact.start <= now:
            return done(
                True,
                fact.start,
                fact.cause,
                note=fact.note,
                status=PeriodStatus.YES,
                source=fact.source,
            )
    if now >= end:
        for cause in (Cause.RECORD, Cause.MANUAL):
            spans = merge((f.start, f.end) for f in known if not f.outcome and f.cause == cause)
            if spans and covered(spans, start, end) >= need:
                fact = next(
                    f
                    for f in known
                    if not f.outcome and f.cause == cause and f.start < end and f.end > start
                )
                return done(
                    False, end, cause, note=fact.note, status=PeriodStatus.NO, source=fact.source
                )
    sources: set[str] = set()
    for evidence_id, source, published in facts.evidence_of(session, indicator.id):
        if not start <= published < end or published > now:
            continue
        sources.add(source)
        if len(sources) >= config.corroboration(indicator):
            return done(True, published, Cause.EVIDENCE, evidence_id, status=PeriodStatus.YES)
    if now < end:
        return done(None)
    if seen >= need:
        return done(False, end, Cause.WINDOW, status=PeriodStatus.NO)
    return done(None, status=PeriodStatus.UNOBSERVED)


def _status(outcome: bool) -> PeriodStatus:
    return PeriodStatus.YES if outcome else PeriodStatus.NO


def _clip(spans: list[Span], now: datetime) -> list[Span]:
    """The spans as they stood at `now` (a view of the past sees no later watching)."""
    return [(s, min(e, now)) for s, e in spans if s < now]


def resolve_reading(
    session: Session,
    config: Config,
    indicator: Indicator,
    reading_id: str,
    now: datetime,
    *,
    facts: Facts | None = None,
) -> ReadingResolution:
    """The outcome for `reading_id`'s current period (its window, unless it repeats) at `now`.

    `facts` (from `load_facts`) saves queries when resolving many.
    """
    if facts is None:
        facts = load_facts(session, config)
    period = current_period(config, indicator, reading_id, now)
    return resolve_period(session, config, indicator, period, now, facts)


def reading_outcome(
    session: Session, config: Config, indicator: Indicator, reading_id: str, now: datetime
) -> bool | None:
    """True / False once the reading's window (or the analyst) has decided, None while pending."""
    return resolve_reading(session, config, indicator, reading_id, now).outcome


def agrees(p: float, outcome: bool | None) -> bool | None:
    """Whether an outcome bears the reading out (p ≥ 0.5 means it expected yes)."""
    return None if outcome is None else (p >= 0.5) == outcome
