"""Score readings against resolved indicators: pure maths, no database, no I/O.

For a reading r and n resolved indicators i, with outcome o_i (1 = resolved yes, 0 = no) and the
reading's forecast p_i = P_r(yes):

    Brier(r)         = (1/n) Σ (p_i − o_i)²                  0 is perfect; lower is better
    q_i              = min(max(p_i, ε), 1 − ε)               clamped, for the next two lines only
    log score(r)     = (1/n) Σ ln(o_i ? q_i : 1 − q_i)       natural log, ≤ 0; higher is better
    log10 L(r)       = Σ log10(o_i ? q_i : 1 − q_i)          likelihood of the outcomes under r
    consistent(r)    = #{i : (p_i ≥ 0.5) = o_i}              inconsistent = n − consistent
    log10 BF(a, b)   = log10 L(a) − log10 L(b)               BF > 1 favours a over b
    posterior(r)     = L(r) / Σ_s L(s)                       from a uniform prior (even odds)

Clamping keeps a forecast of 0 or 1 that met the other outcome finite (ln ε rather than −∞); the
indicators whose forecast was clamped are listed on the score so a report can say so. Brier and
the consistent counts use the raw p. Every outcome must carry a forecast from every reading
scored (the tracker schema guarantees it), so all readings are judged on the same indicators.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from watch.outcomes import agrees

DEFAULT_EPSILON = 0.01
DEFAULT_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Outcome:
    """One resolved indicator, as far as scoring cares."""

    indicator_id: str
    outcome: bool
    resolved_at: datetime
    forecasts: dict[str, float]  # reading id -> p(yes)


@dataclass(frozen=True)
class ReadingScore:
    reading_id: str
    n: int
    brier: float | None  # None when n == 0
    log_score: float | None  # natural log, higher is better; None when n == 0
    consistent: int
    inconsistent: int
    likelihood_log10: float  # 0.0 (L = 1) when n == 0
    clamped: tuple[str, ...]  # indicators whose p lay outside [ε, 1 − ε] and was clamped

    @property
    def log_score_clamped(self) -> bool:
        return bool(self.clamped)


@dataclass(frozen=True)
class Comparison:
    """Every reading's scores over the same resolved indicators, and how they compare."""

    scores: dict[str, ReadingScore]
    posterior: dict[str, float]
    leader: str | None  # None with no outcomes or when the top readings tie
    log10_likelihoods: dict[str, dict[str, float]]  # indicator id -> reading id -> log10 P(o|r)
    n: int
    as_of: date | None = None

    def log10_bayes_factor(self, a: str, b: str) -> float:
        """log10 of the Bayes factor of reading a over reading b (> 0 favours a)."""
        return self.scores[a].likelihood_log10 - self.scores[b].likelihood_log10

    def contributions(self, a: str, b: str) -> list[tuple[str, float]]:
        """Each indicator's term of log10 BF(a, b), largest in a's favour first."""
        terms = [
            (i, by_reading[a] - by_reading[b]) for i, by_reading in self.log10_likelihoods.items()
        ]
        return sorted(terms, key=lambda term: (-term[1], term[0]))

    def ranking(self) -> list[str]:
        """Reading ids from the most to the least likely (ties keep the given order)."""
        return sorted(self.scores, key=lambda r: -self.scores[r].likelihood_log10)


@dataclass(frozen=True)
class CalibrationBin:
    lower: float
    upper: float  # exclusive, except the last bin which includes 1.0
    count: int
    yes: int
    mean_forecast: float | None  # None for an empty bin
    observed: float | None  # yes / count; None for an empty bin


@dataclass(frozen=True)
class Discrimination:
    """Mean p on indicators that resolved yes, and on those that resolved no."""

    n_yes: int
    n_no: int
    mean_p_yes: float | None
    mean_p_no: float | None
    difference: float | None  # mean_p_yes − mean_p_no; None unless both kinds resolved


def score(
    outcomes: Sequence[Outcome],
    reading_ids: Sequence[str],
    *,
    as_of: date | None = None,
    epsilon: float = DEFAULT_EPSILON,
) -> Comparison:
    """Score each reading on the outcomes (those resolved on or before `as_of`, when given)."""
    if not reading_ids or len(set(reading_ids)) != len(reading_ids):
        raise ValueError(f"need distinct reading ids, got {list(reading_ids)!r}")
    if not 0.0 < epsilon < 0.5:
        raise ValueError(f"epsilon must lie in (0, 0.5), got {epsilon}")
    scored = _checked(outcomes, reading_ids, as_of)
    per_indicator: dict[str, dict[str, float]] = {}
    scores = {}
    for reading in reading_ids:
        brier = ln_sum = log10_sum = 0.0
        consistent = 0
        clamped = []
        for o in scored:
            p = o.forecasts[reading]
            q = min(max(p, epsilon), 1.0 - epsilon)
            if q != p:
                clamped.append(o.indicator_id)
            likelihood = q if o.outcome else 1.0 - q
            brier += (p - o.outcome) ** 2
            ln_sum += math.log(likelihood)
            log10_sum += math.log10(likelihood)
            consistent += bool(agrees(p, o.outcome))
            per_indicator.setdefault(o.indicator_id, {})[reading] = math.log10(likelihood)
        n = len(scored)
        scores[reading] = ReadingScore(
            reading_id=reading,
            n=n,
            brier=brier / n if n else None,
            log_score=ln_sum / n if n else None,
            consistent=consistent,
            inconsistent=n - consistent,
            likelihood_log10=log10_sum,
            clamped=tuple(clamped),
        )
    top = max(s.likelihood_log10 for s in scores.values())
    weights = {r: 10.0 ** (s.likelihood_log10 - top) for r, s in scores.items()}
    total = sum(weights.values())
    leaders = [r for r, s in scores.items() if _level(s.likelihood_log10, top)]
    return Comparison(
        scores=scores,
        posterior={r: w / total for r, w in weights.items()},
        leader=leaders[0] if len(leaders) == 1 and scored else None,
        log10_likelihoods=per_indicator,
        n=len(scored),
        as_of=as_of,
    )


def weekly_series(
    outcomes: Sequence[Outcome],
    reading_ids: Sequence[str],
    start: date,
    end: date,
    *,
    epsilon: float = DEFAULT_EPSILON,
) -> list[tuple[date, Comparison]]:
    """The comparison as it stood at the end of each week: start+6, start+13, …, then `end`."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    days = [start + timedelta(days=d) for d in range(6, (end - start).days + 1, 7)]
    if not days or days[-1] != end:
        days.append(end)
    # Outcomes resolve on few days: a week that adds none repeats the last score, re-dated.
    resolved = sorted(o.resolved_at.date() for o in outcomes)
    series: list[tuple[date, Comparison]] = []
    scored_count, last = -1, None
    for day in days:
        count = bisect_right(resolved, day)
        if last is None or count != scored_count:
            last = score(outcomes, reading_ids, as_of=day, epsilon=epsilon)
            scored_count = count
        series.append((day, replace(last, as_of=day)))
    return series


def calibration(
    outcomes: Sequence[Outcome], reading_id: str, bins: Sequence[float] = DEFAULT_BINS
) -> list[CalibrationBin]:
    """Forecast bins against the observed frequency of yes, with counts."""
    edges = list(bins)
    if len(edges) < 2 or edges[0] != 0.0 or edges[-1] != 1.0 or edges != sorted(set(edges)):
        raise ValueError(f"bins must rise strictly from 0.0 to 1.0, got {edges!r}")
    members: list[list[Outcome]] = [[] for _ in edges[:-1]]
    for o in _checked(outcomes, [reading_id], None):
        members[min(bisect_right(edges, o.forecasts[reading_id]) - 1, len(edges) - 2)].append(o)
    table = []
    for lower, upper, group in zip(edges, edges[1:], members, strict=False):
        yes = sum(o.outcome for o in group)
        table.append(
            CalibrationBin(
                lower=lower,
                upper=upper,
                count=len(group),
                yes=yes,
                mean_forecast=_mean([o.forecasts[reading_id] for o in group]),
                observed=yes / len(group) if group else None,
            )
        )
    return table


def discrimination(outcomes: Sequence[Outcome], reading_id: str) -> Discrimination:
    """How far the reading's p separates indicators that happened from those that did not."""
    checked = _checked(outcomes, [reading_id], None)
    on_yes = [o.forecasts[reading_id] for o in checked if o.outcome]
    on_no = [o.forecasts[reading_id] for o in checked if not o.outcome]
    mean_yes, mean_no = _mean(on_yes), _mean(on_no)
    difference = None if mean_yes is None or mean_no is None else mean_yes - mean_no
    return Discrimination(len(on_yes), len(on_no), mean_yes, mean_no, difference)


def verdict(comparison: Comparison, *, top: int = 2, unit: str = "indicator") -> str:
    """One sentence: who leads whom, by what Bayes factor and posterior, on which indicators
    (`unit` names what was scored: indicators, or indicator periods when readings repeat)."""
    n = comparison.n
    resolved = f"{n} resolved {unit}{'s' if n != 1 else ''}"
    if n == 0:
        even = f"{1 / len(comparison.scores):.0%}"
        return f"No indicator has resolved yet: the readings stand at even odds ({even} each)."
    if len(comparison.scores) == 1:
        return f"Only {next(iter(comparison.scores))} is scored, over {resolved}."
    first, second = comparison.ranking()[:2]
    factor = _factor(comparison.log10_bayes_factor(first, second))
    if comparison.leader is None:
        best = comparison.scores[first].likelihood_log10
        level = " and ".join(
            r for r in comparison.ranking() if _level(comparison.scores[r].likelihood_log10, best)
        )
        return f"No reading leads: {level} are level (Bayes factor 1) over {resolved}."
    drivers = [i for i, term in comparison.contributions(first, second)[:top] if term > 0]
    return (
        f"{first} leads {second} by a Bayes factor of {factor} "
        f"(posterior {_percent(comparison.posterior[first])} from even odds) over {resolved}, "
        f"mostly on {' and '.join(drivers)}."
    )


def _checked(
    outcomes: Sequence[Outcome], reading_ids: Sequence[str], as_of: date | None
) -> list[Outcome]:
    """The outcomes resolved by `as_of`, after checking ids are unique and forecasts complete."""
    seen: set[str] = set()
    for o in outcomes:
        if o.indicator_id in seen:
            raise ValueError(f"indicator {o.indicator_id!r} appears twice")
        seen.add(o.indicator_id)
        for reading in reading_ids:
            p = o.forecasts.get(reading)
            if p is None or not 0.0 <= p <= 1.0:
                raise ValueError(f"{o.indicator_id}: need p in [0, 1] for {reading!r}, got {p!r}")
    return [o for o in outcomes if as_of is None or o.resolved_at.date() <= as_of]


def _level(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _percent(p: float) -> str:
    """Rounded, but never to a certainty the maths does not have."""
    return "over 99%" if p > 0.99 else f"{p:.0%}"


def _factor(log10_factor: float) -> str:
    """A Bayes factor for people: '3.2', '48', or '10^7.3' once it runs past a thousand."""
    if log10_factor >= 3:
        return f"10^{log10_factor:.1f}"
    factor = 10.0**log10_factor
    return f"{factor:.1f}" if factor < 10 else f"{factor:.0f}"


# ---------------------------------------------------------------- comparing readings


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
    merged: list[Comparison] = []
    for i, day in enumerate(days):
        parts = {r: per_reading[r][i][1] for r in reading_ids}
        counts = [part.n for part in parts.values()]
        if merged and counts == [per_reading[r][i - 1][1].n for r in reading_ids]:
            merged.append(replace(merged[-1], as_of=day))  # nothing resolved this week
        else:
            merged.append(_merge(parts, day))
    return merged


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
