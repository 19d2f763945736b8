"""Scoring figures against values worked out by hand in each test."""

import math
from datetime import UTC, date, datetime

import pytest

from watch.scoring.maths import (
    Outcome,
    calibration,
    discrimination,
    score,
    verdict,
    weekly_series,
)

A, B, C = "orchard-2018", "bosack-2019", "third-view"


def outcome(indicator: str, yes: bool, day: str = "2019-03-05", **p: float) -> Outcome:
    """An outcome resolved at noon UTC on `day`; forecasts as a=, b=, c= keyword arguments."""
    ids = {"a": A, "b": B, "c": C}
    resolved_at = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)
    return Outcome(indicator, yes, resolved_at, {ids[k]: v for k, v in p.items()})


# i1 resolved yes (A said 0.35, B said 0.8); i2 resolved no (A 0.2, B 0.85).
TWO = [outcome("i1", True, a=0.35, b=0.8), outcome("i2", False, a=0.2, b=0.85)]


def test_brier_log_score_and_counts_for_two_readings() -> None:
    scores = score(TWO, [A, B]).scores
    a, b = scores[A], scores[B]
    assert a.n == b.n == 2
    assert a.brier == pytest.approx(((0.35 - 1) ** 2 + (0.2 - 0) ** 2) / 2)  # 0.23125
    assert b.brier == pytest.approx(((0.8 - 1) ** 2 + (0.85 - 0) ** 2) / 2)  # 0.38125
    assert a.log_score == pytest.approx((math.log(0.35) + math.log(1 - 0.2)) / 2)
    assert b.log_score == pytest.approx((math.log(0.8) + math.log(1 - 0.85)) / 2)
    # A: 0.35 < 0.5 on a yes (inconsistent), 0.2 < 0.5 on a no (consistent); B the other way round.
    assert (a.consistent, a.inconsistent) == (1, 1)
    assert (b.consistent, b.inconsistent) == (1, 1)
    assert a.likelihood_log10 == pytest.approx(math.log10(0.35 * 0.8))  # log10 0.28
    assert b.likelihood_log10 == pytest.approx(math.log10(0.8 * 0.15))  # log10 0.12
    assert not a.log_score_clamped and not b.log_score_clamped


def test_bayes_factor_posterior_and_leader_for_two_readings() -> None:
    comparison = score(TWO, [A, B])
    assert 10 ** comparison.log10_bayes_factor(A, B) == pytest.approx(0.28 / 0.12)  # 2.33
    assert comparison.log10_bayes_factor(B, A) == pytest.approx(
        -comparison.log10_bayes_factor(A, B)
    )
    assert comparison.posterior[A] == pytest.approx(0.28 / (0.28 + 0.12))  # 0.7
    assert comparison.posterior[B] == pytest.approx(0.12 / (0.28 + 0.12))  # 0.3
    assert comparison.leader == A
    # Per-indicator terms of log10 BF(A, B): i2 favours A, i1 favours B; they sum to the total.
    assert comparison.contributions(A, B) == [
        ("i2", pytest.approx(math.log10(0.8 / 0.15))),
        ("i1", pytest.approx(math.log10(0.35 / 0.8))),
    ]


def test_verdict_names_leader_runner_up_factor_posterior_and_top_indicator() -> None:
    text = verdict(score(TWO, [A, B]))
    assert text == (
        "orchard-2018 leads bosack-2019 by a Bayes factor of 2.3 "
        "(posterior 70% from even odds) over 2 resolved indicators, mostly on i2."
    )


@pytest.mark.parametrize(
    ("p", "yes", "expected_ln"),
    [
        (1.0, False, math.log(0.01)),  # certain yes, went no: ln ε, not -inf
        (0.0, True, math.log(0.01)),  # certain no, went yes
        (1.0, True, math.log(0.99)),  # certain and right still clamps to 1 − ε
        (0.995, False, math.log(0.01)),  # inside ε of the edge clamps too
    ],
)
def test_extreme_forecast_log_score_is_finite_and_flagged(
    p: float, yes: bool, expected_ln: float
) -> None:
    (s,) = score([outcome("kim-putin-summit", yes, a=p)], [A]).scores.values()
    assert s.log_score == pytest.approx(expected_ln)
    assert s.likelihood_log10 == pytest.approx(expected_ln / math.log(10))
    assert s.log_score is not None and math.isfinite(s.log_score)
    assert s.log_score_clamped and s.clamped == ("kim-putin-summit",)
    assert s.brier == pytest.approx((p - yes) ** 2)  # Brier uses the raw p


def test_clamping_uses_the_given_epsilon_and_lists_only_clamped_indicators() -> None:
    outcomes = [outcome("i1", False, a=1.0), outcome("i2", True, a=0.5)]
    (s,) = score(outcomes, [A], epsilon=0.1).scores.values()
    assert s.log_score == pytest.approx((math.log(0.1) + math.log(0.5)) / 2)
    assert s.clamped == ("i1",)


def test_certain_wrong_reading_loses_but_posterior_stays_finite() -> None:
    outcomes = [outcome("i1", False, a=1.0, b=0.5)]
    comparison = score(outcomes, [A, B])
    assert comparison.posterior[A] == pytest.approx(0.01 / (0.01 + 0.5))
    assert comparison.leader == B


@pytest.mark.parametrize(
    ("p", "yes", "consistent"),
    [(0.5, True, 1), (0.5, False, 0), (0.49, False, 1), (0.49, True, 0), (0.0, False, 1)],
)
def test_consistent_means_p_at_least_half_on_yes(p: float, yes: bool, consistent: int) -> None:
    (s,) = score([outcome("i1", yes, a=p)], [A]).scores.values()
    assert (s.consistent, s.inconsistent) == (consistent, 1 - consistent)


def test_tied_readings_have_no_leader_and_even_posterior() -> None:
    # L(A) = 0.3 · 0.7 = L(B) = 0.7 · 0.3
    outcomes = [outcome("i1", True, a=0.3, b=0.7), outcome("i2", True, a=0.7, b=0.3)]
    comparison = score(outcomes, [A, B])
    assert comparison.leader is None
    assert comparison.posterior == {A: pytest.approx(0.5), B: pytest.approx(0.5)}
    assert comparison.log10_bayes_factor(A, B) == pytest.approx(0.0)
    assert verdict(comparison) == (
        "No reading leads: orchard-2018 and bosack-2019 are level (Bayes factor 1) "
        "over 2 resolved indicators."
    )


def test_three_readings() -> None:
    # yes: A 0.8, B 0.5, C 0.2; no: A 0.4, B 0.5, C 0.1.
    # L(A) = 0.8 · 0.6 = 0.48, L(B) = 0.5 · 0.5 = 0.25, L(C) = 0.2 · 0.9 = 0.18; sum 0.91.
    outcomes = [
        outcome("went-yes", True, a=0.8, b=0.5, c=0.2),
        outcome("went-no", False, a=0.4, b=0.5, c=0.1),
    ]
    comparison = score(outcomes, [A, B, C])
    assert comparison.posterior == {
        A: pytest.approx(0.48 / 0.91),
        B: pytest.approx(0.25 / 0.91),
        C: pytest.approx(0.18 / 0.91),
    }
    assert comparison.ranking() == [A, B, C]
    assert comparison.leader == A
    assert 10 ** comparison.log10_bayes_factor(A, C) == pytest.approx(0.48 / 0.18)
    assert 10 ** comparison.log10_bayes_factor(B, C) == pytest.approx(0.25 / 0.18)
    assert comparison.scores[C].brier == pytest.approx(((0.2 - 1) ** 2 + 0.1**2) / 2)
    # A over B: went-yes gives log10(0.8/0.5), went-no log10(0.6/0.5); both in A's favour.
    assert verdict(comparison) == (
        "orchard-2018 leads bosack-2019 by a Bayes factor of 1.9 "  # 0.48 / 0.25 = 1.92
        "(posterior 53% from even odds) over 2 resolved indicators, "  # 0.48 / 0.91 = 0.527
        "mostly on went-yes and went-no."
    )


def test_tie_survives_rounding_in_a_different_order_of_terms() -> None:
    # 0.1 · 0.7 · 0.3 both ways round; the log10 sums differ in the last bit.
    outcomes = [
        outcome("i1", True, a=0.1, b=0.3),
        outcome("i2", True, a=0.7, b=0.7),
        outcome("i3", True, a=0.3, b=0.1),
    ]
    assert score(outcomes, [A, B]).leader is None


def test_two_of_three_tied_at_the_top_have_no_leader() -> None:
    outcomes = [outcome("i1", True, a=0.6, b=0.6, c=0.1)]
    comparison = score(outcomes, [A, B, C])
    assert comparison.leader is None
    assert "orchard-2018 and bosack-2019 are level" in verdict(comparison)


@pytest.mark.parametrize("readings", [[A, B], [A, B, C]])
def test_no_resolved_indicators_gives_no_scores_and_even_odds(readings: list[str]) -> None:
    comparison = score([], readings)
    assert comparison.n == 0 and comparison.leader is None
    assert all(s.brier is None and s.log_score is None for s in comparison.scores.values())
    assert comparison.posterior == {r: pytest.approx(1 / len(readings)) for r in readings}
    even = f"{1 / len(readings):.0%}"
    assert verdict(comparison) == (
        f"No indicator has resolved yet: the readings stand at even odds ({even} each)."
    )


def test_verdict_writes_a_large_bayes_factor_as_a_power_of_ten() -> None:
    # Four indicators at 0.99 vs 0.01, all yes: log10 BF = 4 · log10(99) = 7.98.
    outcomes = [outcome(f"i{k}", True, a=0.01, b=0.99) for k in range(4)]
    text = verdict(score(outcomes, [A, B]))
    assert text.startswith("bosack-2019 leads orchard-2018 by a Bayes factor of 10^8.0 ")
    assert (
        "(posterior over 99% from even odds) over 4 resolved indicators, mostly on i0 and i1."
        in text
    )


def test_as_of_counts_outcomes_resolved_on_or_before_that_day() -> None:
    outcomes = [
        outcome("i1", True, "2019-03-05", a=0.35),
        outcome("i2", False, "2019-03-06", a=0.2),
    ]
    assert score(outcomes, [A], as_of=date(2019, 3, 4)).n == 0
    assert score(outcomes, [A], as_of=date(2019, 3, 5)).n == 1
    assert score(outcomes, [A], as_of=date(2019, 3, 6)).n == 2


def test_weekly_series_moves_as_outcomes_resolve() -> None:
    # Weeks from Fri 2019-03-01 end on 03-07 and 03-14; the series closes on `end`, 03-20.
    outcomes = [
        outcome("i1", True, "2019-03-05", a=0.35, b=0.8),
        outcome("i2", False, "2019-03-14", a=0.2, b=0.85),  # on the week's last day: counts
        outcome("i3", True, "2019-03-18", a=0.6, b=0.85),
        outcome("later", True, "2019-04-30", a=0.1, b=0.9),  # after `end`: never counts
    ]
    series = weekly_series(outcomes, [A, B], date(2019, 3, 1), date(2019, 3, 20))
    assert [day for day, _ in series] == [date(2019, 3, 7), date(2019, 3, 14), date(2019, 3, 20)]
    assert [c.n for _, c in series] == [1, 2, 3]
    assert [c.leader for _, c in series] == [B, A, A]
    assert [c.posterior[A] for _, c in series] == [
        pytest.approx(0.35 / (0.35 + 0.8)),  # i1 alone
        pytest.approx(0.28 / (0.28 + 0.12)),  # 0.35·0.8 vs 0.8·0.15
        pytest.approx(0.168 / (0.168 + 0.102)),  # ·0.6 vs ·0.85
    ]
    assert all(c.as_of == day for day, c in series)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2019, 3, 1), date(2019, 3, 1), [date(2019, 3, 1)]),
        (date(2019, 3, 1), date(2019, 3, 7), [date(2019, 3, 7)]),
        (date(2019, 3, 1), date(2019, 3, 8), [date(2019, 3, 7), date(2019, 3, 8)]),
    ],
)
def test_weekly_series_ends_on_the_end_date(start: date, end: date, days: list[date]) -> None:
    assert [day for day, _ in weekly_series([], [A, B], start, end)] == days


def test_weekly_series_rejects_end_before_start() -> None:
    with pytest.raises(ValueError, match="before start"):
        weekly_series([], [A], date(2019, 3, 2), date(2019, 3, 1))


# Reading A's forecasts and outcomes for the calibration and discrimination tests.
SPREAD = [
    outcome("p10", False, a=0.1),
    outcome("p15", True, a=0.15),
    outcome("p35", False, a=0.35),
    outcome("p60", True, a=0.6),  # on an edge: goes to the bin above
    outcome("p70", False, a=0.7),
    outcome("p80", True, a=0.8),
    outcome("p100", True, a=1.0),  # the last bin includes 1.0
]


def test_calibration_bins_count_forecasts_and_observed_frequency() -> None:
    table = calibration(SPREAD, A)
    assert [(b.lower, b.upper, b.count, b.yes, b.mean_forecast, b.observed) for b in table] == [
        (0.0, 0.2, 2, 1, pytest.approx((0.1 + 0.15) / 2), 1 / 2),
        (0.2, 0.4, 1, 0, pytest.approx(0.35), 0 / 1),
        (0.4, 0.6, 0, 0, None, None),
        (0.6, 0.8, 2, 1, pytest.approx((0.6 + 0.7) / 2), 1 / 2),
        (0.8, 1.0, 2, 2, pytest.approx((0.8 + 1.0) / 2), 2 / 2),
    ]


def test_calibration_with_custom_bins() -> None:
    table = calibration(SPREAD, A, bins=(0.0, 0.5, 1.0))
    assert [(b.count, b.yes) for b in table] == [(3, 1), (4, 3)]


@pytest.mark.parametrize("bins", [(0.0,), (0.1, 1.0), (0.0, 0.9), (0.0, 0.6, 0.4, 1.0)])
def test_calibration_rejects_bins_that_do_not_cover_zero_to_one(bins: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="bins"):
        calibration(SPREAD, A, bins=bins)


def test_discrimination_reports_both_means_and_their_difference() -> None:
    d = discrimination(SPREAD, A)
    assert (d.n_yes, d.n_no) == (4, 3)
    assert d.mean_p_yes == pytest.approx((0.15 + 0.6 + 0.8 + 1.0) / 4)  # 0.6375
    assert d.mean_p_no == pytest.approx((0.1 + 0.35 + 0.7) / 3)  # 0.3833
    assert d.difference == pytest.approx(0.6375 - 1.15 / 3)


def test_discrimination_needs_both_outcomes_for_a_difference() -> None:
    d = discrimination([outcome("i1", True, a=0.7)], A)
    assert (d.mean_p_yes, d.mean_p_no, d.difference) == (pytest.approx(0.7), None, None)


@pytest.mark.parametrize(
    ("outcomes", "readings", "message"),
    [
        ([outcome("i1", True, a=0.5)], [A, B], "need p in"),  # no forecast from B
        ([outcome("i1", True, a=1.2)], [A], "need p in"),
        ([outcome("i1", True, a=0.5), outcome("i1", False, a=0.5)], [A], "appears twice"),
        ([], [], "distinct reading ids"),
        ([], [A, A], "distinct reading ids"),
    ],
)
def test_score_rejects_bad_input(
    outcomes: list[Outcome], readings: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        score(outcomes, readings)


def test_score_rejects_epsilon_outside_zero_to_half() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        score([], [A], epsilon=0.5)
