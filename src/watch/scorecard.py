"""The scorecard: which reading held up, built from the database with watch.scoring.

For each indicator and reading, the outcome is judged inside that reading's own window
(watch.states.resolve_reading): by hand, else yes at the publication time of the evidence that
reached corroboration, else no when the window closed. Because the readings were published at
different dates their windows differ, so one indicator can resolve yes for one reading and no
for another ("split"). We handle that in two ways, both on the same maths:

- **Each reading's own scores** (Brier, log score, consistent / inconsistent, calibration,
  discrimination) cover every indicator resolved in that reading's windows, each judged on
  its own outcome. The `n` can differ between readings.
- **The comparison** (Bayes factor, posterior from even odds, verdict, weekly series) needs the
  readings judged on a common set, or the reading with more resolved indicators would be
  penalised for having been tested more. It covers the indicators resolved for every reading,
  from the time the last of them resolved; each reading's likelihood is taken on its own
  window's outcome, so a split indicator counts as each reading's claim about its own window
  (those indicators are flagged). When no indicator is split this is exactly
  `scoring.score(outcomes, readings)`.

Rendering (text, Markdown, HTML, JSON) reads only the `Scorecard` dataclass. The HTML page is
self-contained: inline CSS and an inline SVG chart, every piece of feed text escaped by jinja2.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from watch.config import STATES, Config
from watch.models import Entry, Evidence, StateChange
from watch.scoring import (
    CalibrationBin,
    Comparison,
    Discrimination,
    Outcome,
    ReadingScore,
    calibration,
    discrimination,
    score,
    verdict,
    weekly_series,
)
from watch.states import (
    ReadingResolution,
    ensure_states,
    manual_resolutions,
    resolve_reading,
    window_bounds,
)

FORMATS = ("text", "md", "html", "json")


@dataclass
class Cell:
    """One reading's forecast on one indicator and how its window has resolved."""

    p: float
    outcome: bool | None
    resolved_at: datetime | None
    cause: str | None  # evidence | window | manual

    @property
    def agrees(self) -> bool | None:
        return None if self.outcome is None else (self.p >= 0.5) == self.outcome


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

    @property
    def pending(self) -> bool:
        return any(cell.outcome is None for cell in self.cells.values())

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
    times = [c.resolved_at for c in row.cells.values() if c.resolved_at is not None]
    return max(times).date() if len(times) == len(row.cells) else None


# ---------------------------------------------------------------- building


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def build_scorecard(
    session: Session, config: Config, now: datetime, as_of: date | None = None
) -> Scorecard:
    """The scorecard as it stood at the end of `as_of` (default: as it stands at `now`)."""
    at = min(now, end_of(as_of)) if as_of else now
    reading_ids = [r.id for r in config.readings]
    states = {i: row.state for i, row in ensure_states(session, config, now).items()}
    if as_of is not None:
        states = states_at(session, config, at)
    manual = manual_resolutions(session)
    rows: list[IndicatorRow] = []
    for indicator in config.indicators:
        cells = {}
        for reading_id in reading_ids:
            resolved: ReadingResolution = resolve_reading(
                session, config, indicator, reading_id, at, manual=manual
            )
            cells[reading_id] = Cell(
                p=indicator.forecasts[reading_id].p,
                outcome=resolved.outcome,
                resolved_at=resolved.resolved_at,
                cause=resolved.cause,
            )
        rows.append(
            IndicatorRow(
                id=indicator.id,
                title=indicator.title,
                kind=indicator.kind,
                state=states[indicator.id],
                cells=cells,
                latest=latest_evidence(session, indicator.id, at),
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
        verdict=verdict(comparison),
        series=series,
        indicators=rows,
        warnings=coverage_warnings(session, config, at),
    )


def _own_outcomes(rows: list[IndicatorRow], reading_id: str) -> list[Outcome]:
    out = []
    for row in rows:
        cell = row.cells[reading_id]
        if cell.outcome is not None and cell.resolved_at is not None:
            out.append(Outcome(row.id, cell.outcome, cell.resolved_at, {reading_id: cell.p}))
    return out


def _common_outcomes(rows: list[IndicatorRow], reading_id: str) -> list[Outcome]:
    """This reading's outcomes on the indicators resolved for every reading, dated by the last."""
    out = []
    for row in rows:
        if row.pending:
            continue
        joined = max(c.resolved_at for c in row.cells.values() if c.resolved_at is not None)
        cell = row.cells[reading_id]
        out.append(Outcome(row.id, bool(cell.outcome), joined, {reading_id: cell.p}))
    return out


def compare(
    outcomes: dict[str, list[Outcome]], reading_ids: list[str], *, as_of: date | None = None
) -> Comparison:
    """Every reading scored on its own outcomes over a common set, merged into one comparison."""
    return _merge({r: score(outcomes[r], [r], as_of=as_of) for r in reading_ids}, as_of)


def weekly_comparisons(
    outcomes: dict[str, list[Outcome]], reading_ids: list[str], start: date, end: date
) -> list[Comparison]:
    """`compare` at the end of each week from `start` (scoring.weekly_series per reading)."""
    per_reading = {r: weekly_series(outcomes[r], [r], start, end) for r in reading_ids}
    days = [day for day, _ in per_reading[reading_ids[0]]]
    return [
        _merge({r: per_reading[r][i][1] for r in reading_ids}, day) for i, day in enumerate(days)
    ]


def _merge(parts: dict[str, Comparison], as_of: date | None) -> Comparison:
    scores = {r: part.scores[r] for r, part in parts.items()}
    terms: dict[str, dict[str, float]] = {}
    for r, part in parts.items():
        for indicator_id, by_reading in part.log10_likelihoods.items():
            terms.setdefault(indicator_id, {})[r] = by_reading[r]
    top = max(s.likelihood_log10 for s in scores.values())
    weights = {r: 10.0 ** (s.likelihood_log10 - top) for r, s in scores.items()}
    total = sum(weights.values())
    n = next(iter(parts.values())).n
    leaders = [
        r
        for r, s in scores.items()
        if math.isclose(s.likelihood_log10, top, rel_tol=1e-9, abs_tol=1e-9)
    ]
    return Comparison(
        scores=scores,
        posterior={r: w / total for r, w in weights.items()},
        leader=leaders[0] if len(leaders) == 1 and n else None,
        log10_likelihoods=terms,
        n=n,
        as_of=as_of,
    )


def coverage_warnings(session: Session, config: Config, at: datetime) -> list[str]:
    """A warning per reading whose windows hold no stored entry at all (of any feed).

    A window that closed with nothing stored inside it resolves "no" on silence: true to the
    rules, but it says nothing about the news. Said out loud, so nobody mistakes it for a test.
    """
    warnings = []
    for reading in config.readings:
        bounds = [window_bounds(config, ind, reading.id) for ind in config.indicators]
        opens = min(b[0] for b in bounds)
        closes = min(max(b[1] for b in bounds), at)
        if closes <= opens:
            continue
        stored = session.exec(
            select(func.count())
            .select_from(Entry)
            .where(Entry.published_at >= opens, Entry.published_at < closes)
        ).one()
        if not stored:
            warnings.append(
                f"No stored entry was published inside {reading.id}'s windows "
                f"({opens.date()} to {closes.date()}): its outcomes there come from silence, "
                "not from the news. Replay an archive of that period with 'watch backtest'."
            )
    return warnings


def states_at(session: Session, config: Config, at: datetime) -> dict[str, str]:
    """Each indicator's state as the history had it at `at` (quiet / holding before any)."""
    states = {indicator.id: STATES[indicator.kind][0] for indicator in config.indicators}
    rows = session.exec(
        select(StateChange.indicator_id, StateChange.new_state)
        .where(StateChange.at <= at, StateChange.cause != "window")  # windows are per reading
        .order_by(col(StateChange.at), col(StateChange.id))
    )
    for indicator_id, state in rows:
        if indicator_id in states:
            states[indicator_id] = state
    return states


def latest_evidence(session: Session, indicator_id: str, at: datetime) -> LatestEvidence | None:
    """The newest standing (not rejected, not retracted) evidence published by `at`."""
    found = session.exec(
        select(Evidence, Entry)
        .join(Entry, col(Entry.id) == Evidence.entry_id)
        .where(
            Evidence.indicator_id == indicator_id,
            col(Evidence.rejected).is_(False),
            col(Evidence.retracted).is_(False),
            Evidence.published_at <= at,
        )
        .order_by(col(Evidence.published_at).desc(), col(Evidence.id).desc())
        .limit(1)
    ).first()
    if found is None:
        return None
    evidence, entry = found
    return LatestEvidence(
        evidence.id or 0, entry.title, evidence.source, evidence.published_at, entry.link
    )


# ---------------------------------------------------------------- JSON


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


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
        "generated_at": _iso(card.generated_at),
        "as_of": _iso(card.as_of),
        "verdict": card.verdict,
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
                "published": _iso(r.published),
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
                        "resolved_at": _iso(cell.resolved_at),
                        "cause": cell.cause,
                        "agrees": cell.agrees,
                    }
                    for r, cell in row.cells.items()
                },
                "latest_evidence": None
                if row.latest is None
                else {
                    "id": row.latest.id,
                    "title": row.latest.title,
                    "source": row.latest.source,
                    "published": _iso(row.latest.published),
                    "link": row.latest.link,
                },
            }
            for row in card.indicators
        ],
        "series": [
            {
                "week_ending": _iso(point.day),
                "n": point.n,
                "posterior": point.posterior,
                "likelihood_log10": point.likelihood_log10,
                "leader": point.leader,
            }
            for point in card.series
        ],
    }


# ---------------------------------------------------------------- rendering


def render(card: Scorecard, fmt: str) -> str:
    """The scorecard as text (terminal tables), md, html (one self-contained page) or json."""
    if fmt == "json":
        return json.dumps(scorecard_json(card), indent=2, ensure_ascii=False) + "\n"
    if fmt in {"text", "md", "html"}:
        from watch import scorecard_render

        return scorecard_render.render(card, fmt)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def save_report(card: Scorecard, folder: Path) -> Path:
    """Write the scorecard as HTML, Markdown and JSON under `folder`; return the HTML path."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"scorecard-{card.tracker_id}-{card.as_of.isoformat()}"
    for fmt, suffix in (("md", ".md"), ("json", ".json"), ("html", ".html")):
        stem.with_suffix(suffix).write_text(render(card, fmt), encoding="utf-8")
    return stem.with_suffix(".html")
