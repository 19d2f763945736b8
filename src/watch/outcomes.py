"""How periods of a reading's window are decided: the rule of watch.states, over plain SQL.

Read commands run these through a watch.reader Reader (the DB driver, no SQLAlchemy import:
`watch status` starts in a third of the time); the daemon, the scorecard and review pass their
Session, which is wrapped the same way. See watch.states for the rule in words.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from watch.clock import start_of_day
from watch.config import Config, Indicator
from watch.coverage import Span, covered, merge
from watch.reader import Reader, as_reader
from watch.terms import LADDERS, Cause, Kind, PeriodStatus, State

if TYPE_CHECKING:
    from sqlmodel import Session

Evidence = tuple[int, str, datetime]  # (id, source, published) of standing evidence


@dataclass(frozen=True)
class StandingResolution:
    """An undated resolution by hand that has not been reopened."""

    outcome: bool
    resolved_at: datetime
    note: str | None = None


def derive_state(kind: Kind, sources: int, corroboration: int) -> State:
    quiet, signalled, settled = LADDERS[kind]
    if sources >= corroboration:
        return settled
    return signalled if sources else quiet


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

    manual: dict[str, StandingResolution]
    dated: dict[str, list[DatedFact]]
    spans: list[Span]
    # Each indicator's standing evidence (id, source, published), read once when first needed:
    # one query per indicator instead of one per period.
    evidence: dict[str, list[tuple[int, str, datetime]]] = field(default_factory=dict)
    # One look at a few periods (watch status): read each period's evidence from the index,
    # only up to the corroborating row, instead of every indicator's evidence whole.
    stream: bool = False

    def evidence_in(
        self, db: Reader | Session, indicator_id: str, start: datetime, end: datetime, now: datetime
    ) -> Generator[tuple[int, str, datetime], None, None]:
        """The standing evidence published in [start, end) and by `now`, oldest first."""
        if not self.stream:
            for row in self.evidence_of(db, indicator_id):
                if start <= row[2] < end and row[2] <= now:
                    yield row
            return
        reader = as_reader(db)
        rows = reader.stream(
            "SELECT id, source, published_at FROM evidence "
            "WHERE indicator_id = ? AND rejected = ? AND retracted = ? "
            "AND published_at >= ? AND published_at < ? AND published_at <= ? "
            "ORDER BY published_at, id",
            [indicator_id, False, False, start, end, now],
        )
        with closing(rows):
            for evidence_id, source, published in rows:
                yield evidence_id or 0, source, reader.time(published) or published

    def evidence_of(
        self, db: Reader | Session, indicator_id: str
    ) -> list[tuple[int, str, datetime]]:
        if indicator_id not in self.evidence:
            reader = as_reader(db)
            rows = reader.rows(
                "SELECT id, source, published_at FROM evidence "
                "WHERE indicator_id = ? AND rejected = ? AND retracted = ? "
                "ORDER BY published_at, id",
                [indicator_id, False, False],
            )
            self.evidence[indicator_id] = [
                (i or 0, src, reader.time(at) or at) for i, src, at in rows
            ]
        return self.evidence[indicator_id]


def load_facts(db: Reader | Session, config: Config, *, stream: bool = False) -> Facts:
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
    reader = as_reader(db)
    rows = reader.rows(
        "SELECT indicator_id, outcome, span_from, span_to, source, note, recorded_at "
        "FROM resolution WHERE cause = ? AND reopened_at IS NULL AND span_from IS NOT NULL "
        "ORDER BY id",
        [Cause.MANUAL.value],
    )
    for indicator_id, outcome, span_from, span_to, source, note, recorded_at in rows:
        span_start = reader.time(span_from)
        assert span_start is not None
        dated.setdefault(indicator_id, []).append(
            DatedFact(
                indicator_id,
                bool(outcome),
                span_start,
                reader.time(span_to) or span_start + timedelta(days=1),
                Cause.MANUAL,
                source,
                note,
                reader.time(recorded_at),
            )
        )
    standing = {
        indicator_id: StandingResolution(bool(outcome), reader.time(at) or at, note)
        for indicator_id, outcome, at, note in reader.rows(
            "SELECT indicator_id, outcome, resolved_at, note FROM resolution "
            "WHERE cause = ? AND reopened_at IS NULL AND span_from IS NULL ORDER BY id",
            [Cause.MANUAL.value],
        )
    }
    spans = merge(
        (reader.time(start) or start, reader.time(end) or end)
        for start, end in reader.rows('SELECT start, "end" FROM watchedspan')
    )
    return Facts(standing, dated, spans, stream=stream)


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
    db: Reader | Session,
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
    with closing(facts.evidence_in(db, indicator.id, start, end, now)) as evidence:
        for evidence_id, source, published in evidence:
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
    db: Reader | Session,
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
        facts = load_facts(db, config)
    period = current_period(config, indicator, reading_id, now)
    return resolve_period(db, config, indicator, period, now, facts)


def reading_outcome(
    db: Reader | Session, config: Config, indicator: Indicator, reading_id: str, now: datetime
) -> bool | None:
    """True / False once the reading's window (or the analyst) has decided, None while pending."""
    return resolve_reading(db, config, indicator, reading_id, now).outcome


def agrees(p: float, outcome: bool | None) -> bool | None:
    """Whether an outcome bears the reading out (p ≥ 0.5 means it expected yes)."""
    return None if outcome is None else (p >= 0.5) == outcome


def yes_no(outcome: bool) -> str:
    return "yes" if outcome else "no"


def dated_words(outcome: bool, start: datetime, end: datetime) -> str:
    """'happened on 2019-04-25' or 'did not happen from … to …' (`end` is exclusive)."""
    if outcome:
        return f"happened on {start.date()}"
    return f"did not happen from {start.date()} to {(end - timedelta(days=1)).date()}"
