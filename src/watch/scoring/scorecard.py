"""The scorecard: which reading held up, built from the database with watch.scoring.maths.

For each indicator and reading, the outcome is judged period by period inside that reading's
own window (watch.states.resolve_period): by hand or by the tracker's record, else yes at the
publication time of the evidence that reached corroboration, else no when the period closed
while watched, else *unobserved*, which no score counts. Each resolved period is one forecast.
A reading that does not repeat has one period, its window. Because the readings were published
at different dates their windows differ, so one indicator can resolve yes for one reading and
no for another ("split"). We handle that in two ways, both on the same maths:

- **Each reading's own scores** (Brier, log score, consistent / inconsistent, calibration,
  discrimination) cover every indicator resolved in that reading's windows, each judged on
  its own outcome. The `n` can differ between readings.
- **The comparison** (Bayes factor, posterior from even odds, verdict, weekly series) needs the
  readings judged on a common set, or the reading with more resolved indicators would be
  penalised for having been tested more. It covers each (indicator, period k) resolved for
  every reading, from the time the last of them resolved; each reading's likelihood is taken
  on its own period's outcome, so a split indicator counts as each reading's claim about its
  own window (those indicators are flagged). When no indicator is split this is exactly
  `scoring.score(outcomes, readings)`.

`scorecard_json` is the JSON contract; watch.scoring.render turns a `Scorecard` into text,
Markdown or HTML and reads nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from watch.clock import iso_z, last_instant_of
from watch.config import Config
from watch.outcomes import (
    ReadingResolution,
    agrees,
    load_facts,
    periods,
    resolve_period,
    window_bounds,
)
from watch.reader import Reader, as_reader
from watch.scoring.maths import (
    CalibrationBin,
    Comparison,
    Discrimination,
    Outcome,
    ReadingScore,
    calibration,
    compare,
    discrimination,
    score,
    verdict,
    weekly_comparisons,
)
from watch.terms import LADDERS, Cause, PeriodStatus

if TYPE_CHECKING:
    from sqlmodel import Session

# What decided a period, as the scorecard names it (a window close is "silence").
PERIOD_CAUSES = {Cause.WINDOW: Cause.SILENCE}
WAY_OUT = (
    "backtest an archive of that period ('watch backtest') or record its outcome "
    "('record:' in the tracker file, or 'watch resolve ID --yes --on DATE' / "
    "'--no --from DATE --to DATE')"
)


@dataclass
class Cell:
    """One reading's forecast on one indicator and how its window (first period) resolved."""

    p: float
    outcome: bool | None
    resolved_at: datetime | None
    cause: str | None  # evidence | window | manual | record
    status: str = PeriodStatus.PENDING

    @property
    def agrees(self) -> bool | None:
        return agrees(self.p, self.outcome)


@dataclass
class PeriodCell:
    """One period of one reading's window on one indicator: each resolved one is a forecast."""

    reading: str
    index: int
    start: datetime
    end: datetime
    p: float
    status: str  # yes | no | unobserved | pending
    outcome: bool | None
    cause: str | None  # evidence | record | manual | silence
    coverage: float
    resolved_at: datetime | None
    source: str | None
    note: str | None

    @classmethod
    def of(cls, p: float, resolved: ReadingResolution) -> PeriodCell:
        period = resolved.period
        assert period is not None
        cause = None if resolved.cause is None else str(resolved.cause)
        return cls(
            reading=period.reading_id,
            index=period.index,
            start=period.start,
            end=period.end,
            p=p,
            status=str(resolved.status),
            outcome=resolved.outcome,
            cause=PERIOD_CAUSES.get(cause, cause) if cause else None,  # type: ignore[call-overload]
            coverage=round(resolved.coverage, 4),
            resolved_at=resolved.resolved_at,
            source=resolved.source,
            note=resolved.note,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "reading": self.reading,
            "index": self.index,
            "start": iso_z(self.start),
            "end": iso_z(self.end),
            "status": self.status,
            "outcome": self.outcome,
            "cause": self.cause,
            "coverage": self.coverage,
            "resolved_at": iso_z(self.resolved_at),
            "source": self.source,
        }


def unit_id(indicator_id: str, index: int) -> str:
    """How a scored period is named: the indicator for the first, `id#k` for period k."""
    return indicator_id if index == 0 else f"{indicator_id}#{index}"


@dataclass
class LatestEvidence:
    id: int
    title: str
    source: str
    published: datetime
    link: str | None


@dataclass
class IndicatorRow:
    id: str
    title: str
    kind: str
    state: str
    cells: dict[str, Cell]
    latest: LatestEvidence | None
    in_comparison: bool = False
    log10_terms: dict[str, float] = field(default_factory=dict)  # reading -> log10 P(o | r)
    periods: list[PeriodCell] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return any(cell.status == PeriodStatus.PENDING for cell in self.cells.values())

    @property
    def unobserved(self) -> list[PeriodCell]:
        return [p for p in self.periods if p.status == PeriodStatus.UNOBSERVED]

    @property
    def split(self) -> bool:
        outcomes = {cell.outcome for cell in self.cells.values() if cell.outcome is not None}
        return len(outcomes) > 1


@dataclass
class ReadingCard:
    id: str
    title: str
    author: str
    published: date
    score: ReadingScore  # over this reading's own resolved indicators
    calibration: list[CalibrationBin]
    discrimination: Discrimination


@dataclass
class SeriesPoint:
    day: date
    n: int
    posterior: dict[str, float]
    likelihood_log10: dict[str, float]
    leader: str | None


@dataclass
class Scorecard:
    tracker_id: str
    tracker_title: str
    generated_at: datetime
    as_of: date
    readings: list[ReadingCard]
    comparison: Comparison
    verdict: str
    series: list[SeriesPoint]
    indicators: list[IndicatorRow]
    warnings: list[str] = field(default_factory=list)
    basis: str = ""  # where the scored outcomes came from, and what stayed unobserved

    @property
    def reading_ids(self) -> list[str]:
        return [r.id for r in self.readings]

    @property
    def resolved(self) -> list[IndicatorRow]:
        return [row for row in self.indicators if not row.pending]

    @property
    def pending(self) -> list[IndicatorRow]:
        return [row for row in self.indicators if row.pending]

    def log10_bayes_factor(self) -> float | None:
        """log10 BF of the leading reading over the runner-up (None with one reading)."""
        if len(self.readings) < 2:
            return None
        first, second = self.comparison.ranking()[:2]
        return self.comparison.log10_bayes_factor(first, second)

    def movers(self, days: int = 7) -> list[IndicatorRow]:
        """Indicators that joined the comparison in the last `days` days, biggest term first."""
        since = self.as_of - timedelta(days=days)
        rows = [
            row
            for row in self.indicators
            if row.in_comparison and (joined := _joined(row)) is not None and joined > since
        ]
        ranking = self.comparison.ranking()
        if len(ranking) < 2:
            return rows
        first, second = ranking[:2]
        return sorted(rows, key=lambda r: -abs(r.log10_terms[first] - r.log10_terms[second]))

    def as_json(self) -> dict[str, Any]:
        return scorecard_json(self)


def _joined(row: IndicatorRow) -> date | None:
    """The day the indicator had resolved for every reading (None while pending)."""
    times = [c.resolved_at for c in row.cells.values() if c.outcome is not None and c.resolved_at]
    return max(times).date() if len(times) == len(row.cells) else None


# ---------------------------------------------------------------- building


def build_scorecard(
    db: Reader | Session, config: Config, now: datetime, as_of: date | None = None
) -> Scorecard:
    """The scorecard as it stood at the end of `as_of` (default: as it stands at `now`).

    `db` is a Session or a plain-SQL Reader (`watch scorecard` opens one: no SQLAlchemy)."""
    reader = as_reader(db)
    at = min(now, last_instant_of(as_of)) if as_of else now
    reading_ids = [r.id for r in config.readings]
    states = current_states(reader, config) if as_of is None else states_at(reader, config, at)
    facts = load_facts(reader, config, stream=True)
    rows: list[IndicatorRow] = []
    for indicator in config.indicators:
        cells, cells_by_period = {}, []
        for reading_id in reading_ids:
            p = indicator.forecasts[reading_id].p
            for period in periods(config, indicator, reading_id, at):
                resolved = resolve_period(reader, config, indicator, period, at, facts)
                cells_by_period.append(PeriodCell.of(p, resolved))
                if period.index == 0:
                    cells[reading_id] = Cell(
                        p=p,
                        outcome=resolved.outcome,
                        resolved_at=resolved.resolved_at,
                        cause=resolved.cause,
                        status=resolved.status,
                    )
        rows.append(
            IndicatorRow(
                id=indicator.id,
                title=indicator.title,
                kind=indicator.kind,
                state=states[indicator.id],
                cells=cells,
                latest=latest_evidence(reader, indicator.id, at),
                periods=cells_by_period,
            )
        )
    own = {r: _own_outcomes(rows, r) for r in reading_ids}
    common = {r: _common_outcomes(rows, r) for r in reading_ids}
    day = at.date()
    comparison = compare(common, reading_ids, as_of=day)
    for row in rows:
        row.in_comparison = row.id in comparison.log10_likelihoods
        row.log10_terms = comparison.log10_likelihoods.get(row.id, {})
    start = min(r.published for r in config.readings)
    series = [
        SeriesPoint(
            day=point.as_of or day,
            n=point.n,
            posterior=point.posterior,
            likelihood_log10={r: s.likelihood_log10 for r, s in point.scores.items()},
            leader=point.leader,
        )
        for point in weekly_comparisons(common, reading_ids, start, max(day, start))
    ]
    cards = [
        ReadingCard(
            id=reading.id,
            title=reading.title,
            author=reading.author,
            published=reading.published,
            score=score(own[reading.id], [reading.id]).scores[reading.id],
            calibration=calibration(own[reading.id], reading.id),
            discrimination=discrimination(own[reading.id], reading.id),
        )
        for reading in config.readings
    ]
    return Scorecard(
        tracker_id=config.tracker.id,
        tracker_title=config.tracker.title,
        generated_at=now,
        as_of=day,
        readings=cards,
        comparison=comparison,
        verdict=verdict(
            comparison,
            unit="indicator period"
            if any(config.repeats(r) for r in config.readings)
            else "indicator",
        ),
        series=series,
        indicators=rows,
        warnings=coverage_warnings(reader, config, at, rows),
        basis=basis(rows),
    )


def _own_outcomes(rows: list[IndicatorRow], reading_id: str) -> list[Outcome]:
    """Every resolved period of this reading, each one forecast."""
    out = []
    for row in rows:
        for cell in row.periods:
            if cell.reading == reading_id and cell.outcome is not None and cell.resolved_at:
                unit = unit_id(row.id, cell.index)
                out.append(Outcome(unit, cell.outcome, cell.resolved_at, {reading_id: cell.p}))
    return out


def _common_outcomes(rows: list[IndicatorRow], reading_id: str) -> list[Outcome]:
    """This reading's outcomes on each (indicator, period k) resolved for every reading, dated
    by the last of them to resolve."""
    out = []
    for row in rows:
        by_index: dict[int, dict[str, PeriodCell]] = {}
        for cell in row.periods:
            by_index.setdefault(cell.index, {})[cell.reading] = cell
        for index, cells in sorted(by_index.items()):
            if len(cells) < len(row.cells) or any(c.outcome is None for c in cells.values()):
                continue
            joined = max(c.resolved_at for c in cells.values() if c.resolved_at is not None)
            mine = cells[reading_id]
            unit = unit_id(row.id, index)
            out.append(Outcome(unit, bool(mine.outcome), joined, {reading_id: mine.p}))
    return out


def basis(rows: list[IndicatorRow]) -> str:
    """One sentence on where the scored outcomes came from and which periods stayed unseen."""
    counts: dict[str, int] = {}
    unobserved = 0
    for row in rows:
        for cell in row.periods:
            if cell.status == PeriodStatus.UNOBSERVED:
                unobserved += 1
            elif cell.cause is not None:
                counts[cell.cause] = counts.get(cell.cause, 0) + 1
    names = {
        Cause.RECORD: "from the tracker's record",
        Cause.EVIDENCE: "from evidence in the feeds",
        Cause.MANUAL: "by hand",
        Cause.SILENCE: "from silence while watched",
    }
    parts = [f"{counts[c]} {names[c]}" for c in names if counts.get(c)]
    scored = sum(counts.values())
    said = (
        f"Outcomes scored: {scored} period{'s' if scored != 1 else ''}"
        + (f" ({', '.join(parts)})" if parts else "")
        + "."
    )
    if unobserved:
        said += (
            f" {unobserved} closed period{'s' if unobserved != 1 else ''} went unobserved "
            f"(not watched, no record) and {'are' if unobserved != 1 else 'is'} not scored: "
            f"{WAY_OUT}."
        )
    return said


def coverage_warnings(
    reader: Reader, config: Config, at: datetime, rows: list[IndicatorRow]
) -> list[str]:
    """A warning per reading whose windows hold no stored entry at all (of any feed) although
    some of its periods there were decided by silence.

    Watched but empty (every poll answered, nothing new): true to the rules, but it says
    nothing about the news. Said out loud, so nobody mistakes it for a test.
    """
    warnings = []
    for reading in config.readings:
        silent = [
            cell
            for row in rows
            for cell in row.periods
            if cell.reading == reading.id and cell.cause == Cause.SILENCE
        ]
        if not silent:
            continue
        bounds = [window_bounds(config, ind, reading.id) for ind in config.indicators]
        opens = min(b[0] for b in bounds)
        closes = min(max(b[1] for b in bounds), at)
        if closes <= opens:
            continue
        [(stored,)] = reader.rows(
            "SELECT count(*) FROM entry WHERE published_at >= ? AND published_at < ?",
            [opens, closes],
        )
        if not stored:
            warnings.append(
                f"No stored entry was published inside {reading.id}'s windows "
                f"({opens.date()} to {closes.date()}): its outcomes there come from silence, "
                "not from the news. Replay an archive of that period with 'watch backtest'."
            )
    return warnings


def current_states(reader: Reader, config: Config) -> dict[str, str]:
    """Each indicator's stored state (its kind's first state before it has a row)."""
    stored = dict(reader.rows("SELECT indicator_id, state FROM indicatorstate"))
    return {i.id: stored.get(i.id, str(LADDERS[i.kind][0])) for i in config.indicators}


def states_at(reader: Reader, config: Config, at: datetime) -> dict[str, str]:
    """Each indicator's state as the history had it at `at` (quiet / holding before any)."""
    states = {indicator.id: str(LADDERS[indicator.kind][0]) for indicator in config.indicators}
    rows = reader.rows(  # window changes are per reading, not the indicator's state
        "SELECT indicator_id, new_state FROM statechange WHERE at <= ? AND cause != ? "
        "ORDER BY at, id",
        [at, str(Cause.WINDOW)],
    )
    for indicator_id, state in rows:
        if indicator_id in states:
            states[indicator_id] = state
    return states


def latest_evidence(reader: Reader, indicator_id: str, at: datetime) -> LatestEvidence | None:
    """The newest standing (not rejected, not retracted) evidence published by `at`."""
    found = reader.rows(
        "SELECT ev.id, entry.title, ev.source, ev.published_at, entry.link FROM evidence ev "
        "JOIN entry ON entry.id = ev.entry_id WHERE ev.indicator_id = ? AND NOT ev.rejected "
        "AND NOT ev.retracted AND ev.published_at <= ? "
        "ORDER BY ev.published_at DESC, ev.id DESC LIMIT 1",
        [indicator_id, at],
    )
    if not found:
        return None
    evidence_id, title, source, published, link = found[0]
    published_at = reader.time(published)
    assert published_at is not None
    return LatestEvidence(evidence_id, title, source, published_at, link)


# ---------------------------------------------------------------- JSON


def _score_json(s: ReadingScore) -> dict[str, Any]:
    return {
        "n": s.n,
        "brier": s.brier,
        "log_score": s.log_score,
        "log_score_clamped": s.log_score_clamped,
        "clamped": list(s.clamped),
        "consistent": s.consistent,
        "inconsistent": s.inconsistent,
        "likelihood_log10": s.likelihood_log10,
    }


def scorecard_json(card: Scorecard) -> dict[str, Any]:
    """Every figure of the scorecard, as plain JSON types (the documented contract)."""
    comparison = card.comparison
    return {
        "tracker": {"id": card.tracker_id, "title": card.tracker_title},
        "generated_at": iso_z(card.generated_at),
        "as_of": iso_z(card.as_of),
        "verdict": card.verdict,
        "basis": card.basis,
        "warnings": card.warnings,
        "comparison": {
            "n": comparison.n,
            "indicators": sorted(comparison.log10_likelihoods),
            "leader": comparison.leader,
            "ranking": comparison.ranking(),
            "posterior": comparison.posterior,
            "log10_bayes_factor": card.log10_bayes_factor(),
            "scores": {r: _score_json(s) for r, s in comparison.scores.items()},
        },
        "readings": [
            {
                "id": r.id,
                "title": r.title,
                "author": r.author,
                "published": iso_z(r.published),
                "score": _score_json(r.score),
                "calibration": [vars(b) for b in r.calibration],
                "discrimination": vars(r.discrimination),
            }
            for r in card.readings
        ],
        "indicators": [
            {
                "id": row.id,
                "title": row.title,
                "kind": row.kind,
                "state": row.state,
                "pending": row.pending,
                "split": row.split,
                "in_comparison": row.in_comparison,
                "log10_likelihood": row.log10_terms,
                "readings": {
                    r: {
                        "p": cell.p,
                        "outcome": cell.outcome,
                        "resolved_at": iso_z(cell.resolved_at),
                        "cause": cell.cause,
                        "status": cell.status,
                        "agrees": cell.agrees,
                    }
                    for r, cell in row.cells.items()
                },
                "periods": [cell.as_json() for cell in row.periods],
                "latest_evidence": None
                if row.latest is None
                else {
                    "id": row.latest.id,
                    "title": row.latest.title,
                    "source": row.latest.source,
                    "published": iso_z(row.latest.published),
                    "link": row.latest.link,
                },
            }
            for row in card.indicators
        ],
        "series": [
            {
                "week_ending": iso_z(point.day),
                "n": point.n,
                "posterior": point.posterior,
                "likelihood_log10": point.likelihood_log10,
                "leader": point.leader,
            }
            for point in card.series
        ],
    }


def current_tally(db: Reader | Session, config: Config, now: datetime) -> dict[str, float] | None:
    """The posterior of each reading, as the scorecard has it; None before any outcome."""
    comparison = build_scorecard(db, config, now).comparison
    return dict(comparison.posterior) if comparison.n else None
