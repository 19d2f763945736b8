"""The scorecard from a real database: outcomes per reading window, figures, renderings."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session

from tests.support.paths import ROOT, SMALL_TRACKER
from tests.support.stored import add_evidence, watched
from watch.config import Config, load_config
from watch.review import reject, resolve
from watch.scoring.maths import Outcome, score, verdict
from watch.scoring.render import render, save_report
from watch.scoring.scorecard import build_scorecard

TRACKER = SMALL_TRACKER
JANUARY = datetime(2019, 1, 20, 9, 0, tzinfo=UTC)
NOW = datetime(2019, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def config() -> Config:
    return load_config(TRACKER)


def confirm_site_work_in_january(session: Session, config: Config, title: str = "Sohae") -> int:
    # Two sources on 20 January: inside hawk's window (from 2019-01-01), before dove's (02-01).
    add_evidence(session, config, "rocket-site-work", "Wire A", JANUARY, "Sohae rebuilt")
    evidence_id, _ = add_evidence(session, config, "rocket-site-work", "Wire B", JANUARY, title)
    return evidence_id


def test_each_reading_is_scored_on_its_own_windows(engine, config):
    with Session(engine) as session:
        confirm_site_work_in_january(session, config)
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), NOW)
        card = build_scorecard(session, config, NOW)

    rows = {row.id: row for row in card.indicators}
    site, summit = rows["rocket-site-work"].cells, rows["summit"].cells
    assert (site["hawk"].outcome, site["hawk"].resolved_at, site["hawk"].cause) == (
        True,
        JANUARY,
        "evidence",
    )
    assert site["dove"].outcome is None  # dove's window opened after the reports
    assert (summit["hawk"].outcome, summit["hawk"].resolved_at.date()) == (False, date(2019, 1, 31))
    assert (summit["dove"].outcome, summit["dove"].resolved_at.date()) == (False, date(2019, 3, 3))

    # hawk: site yes at p .8, summit no at p .2 -> Brier (.04 + .04) / 2, log score ln .8.
    hawk, dove = (r.score for r in card.readings)
    assert (hawk.n, hawk.consistent, hawk.inconsistent) == (2, 2, 0)
    assert hawk.brier == pytest.approx(0.04)
    assert hawk.log_score == pytest.approx(math.log(0.8))
    # dove: summit no at p .7 -> Brier .49, log score ln .3, inconsistent.
    assert (dove.n, dove.consistent, dove.inconsistent) == (1, 0, 1)
    assert dove.brier == pytest.approx(0.49)
    assert dove.log_score == pytest.approx(math.log(0.3))
    # The comparison covers only the summit (resolved for both): BF = .8 / .3.
    assert sorted(card.comparison.log10_likelihoods) == ["summit"]
    assert 10 ** card.log10_bayes_factor() == pytest.approx(0.8 / 0.3)
    assert card.comparison.posterior["hawk"] == pytest.approx(0.8 / 1.1)
    assert card.verdict == (
        "hawk leads dove by a Bayes factor of 2.7 (posterior 73% from even odds) "
        "over 1 resolved indicator, mostly on summit."
    )
    assert [row.id for row in card.pending] == ["rocket-site-work", "test-freeze"]
    # Nothing stored was published in dove's windows (from 02-01): said, not hidden.
    assert len(card.warnings) == 1 and "inside dove's windows" in card.warnings[0]
    assert rows["rocket-site-work"].latest.title == "Sohae"


def test_weekly_series_moves_when_the_last_window_resolves(engine, config):
    with Session(engine) as session:
        confirm_site_work_in_january(session, config)
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), NOW)
        card = build_scorecard(session, config, NOW)
    by_day = {point.day: point for point in card.series}
    assert card.series[0].day == date(2019, 1, 7) and card.series[-1].day == date(2019, 3, 10)
    assert by_day[date(2019, 2, 25)].n == 0
    assert by_day[date(2019, 2, 25)].posterior == {"hawk": 0.5, "dove": 0.5}
    assert by_day[date(2019, 3, 4)].n == 1  # summit joins when dove's window closes, 03-03
    assert by_day[date(2019, 3, 4)].posterior["hawk"] == pytest.approx(0.8 / 1.1)


def test_split_outcomes_count_as_each_readings_own_claim(engine, config):
    later = datetime(2020, 2, 15, tzinfo=UTC)  # every window has closed
    with Session(engine) as session:
        confirm_site_work_in_january(session, config)
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), later)
        card = build_scorecard(session, config, later)
    rows = {row.id: row for row in card.indicators}
    assert rows["rocket-site-work"].split  # yes in hawk's window, no in dove's
    assert card.comparison.n == 3
    # hawk: .8 (site yes) * .8 (summit no) * .6 (freeze held); dove: .7 * .3 * .9.
    assert 10 ** card.comparison.scores["hawk"].likelihood_log10 == pytest.approx(0.384)
    assert 10 ** card.comparison.scores["dove"].likelihood_log10 == pytest.approx(0.189)
    assert card.comparison.posterior["hawk"] == pytest.approx(0.384 / 0.573)
    assert "resolved differently across windows: rocket-site-work" in render(card, "text")


def test_without_split_outcomes_the_comparison_is_plain_scoring(engine, config):
    later = datetime(2020, 2, 15, tzinfo=UTC)
    with Session(engine) as session:
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), later)
        card = build_scorecard(session, config, later)  # nothing happened: all "no"
    plain = score(
        [
            Outcome(i.id, False, later, {r: p.p for r, p in i.forecasts.items()})
            for i in config.indicators
        ],
        ["hawk", "dove"],
    )
    assert card.comparison.posterior == pytest.approx(plain.posterior)
    assert len(card.warnings) == 2  # an empty database: every "no" came from silence
    assert "come from silence" in render(card, "html")
    assert card.verdict == verdict(plain)
    assert card.verdict.startswith("dove leads hawk by a Bayes factor of 2.0")  # .189 / .096


def test_as_of_shows_the_scorecard_as_it_stood(engine, config):
    with Session(engine) as session:
        confirm_site_work_in_january(session, config)
        resolve(session, config, "test-freeze", True, "declared over", NOW)
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), NOW)
        before = build_scorecard(session, config, NOW, as_of=date(2019, 2, 15))
        after = build_scorecard(session, config, NOW)
    assert before.as_of == date(2019, 2, 15) and before.comparison.n == 0
    then = {row.id: row.state for row in before.indicators}
    assert then == {"rocket-site-work": "confirmed", "test-freeze": "holding", "summit": "quiet"}
    assert {row.id: row.state for row in after.indicators}["test-freeze"] == "resolved"
    assert before.verdict.startswith("No indicator has resolved yet")
    freeze = {row.id: row for row in after.indicators}["test-freeze"].cells
    assert {c.cause for c in freeze.values()} == {"manual"}
    assert after.comparison.n == 2  # summit and the freeze resolved by hand


def test_rejected_evidence_leaves_the_outcome_and_the_latest_evidence(engine, config):
    with Session(engine) as session:
        second = confirm_site_work_in_january(session, config, title="the false positive")
        reject(session, config, second, "not Sohae", NOW)
        card = build_scorecard(session, config, NOW)
    site = {row.id: row for row in card.indicators}["rocket-site-work"]
    assert site.cells["hawk"].outcome is None
    assert site.latest.title == "Sohae rebuilt"


CERTAIN = """
tracker: {id: certain, title: Certain}
readings:
  - {id: sure, title: Sure, author: A, source: a.txt, published: 2019-01-01, summary: s}
  - {id: fair, title: Fair, author: B, source: b.txt, published: 2019-01-01, summary: s}
indicators:
  - id: launch
    title: A launch
    description: d
    kind: event
    window_days: 10
    forecasts:
      sure: {p: 1.0, why: certain}
      fair: {p: 0.5, why: even}
    match: [{name: launch, any: [launch]}]
"""


def test_a_certain_forecast_that_failed_scores_finite_and_says_so(engine, tmp_path):
    path = tmp_path / "certain.yaml"
    path.write_text(CERTAIN)
    config = load_config(path)
    with Session(engine) as session:
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), datetime(2019, 2, 1, tzinfo=UTC))
        card = build_scorecard(session, config, datetime(2019, 2, 1, tzinfo=UTC))
    sure = card.readings[0].score
    assert sure.clamped == ("launch",) and sure.log_score == pytest.approx(math.log(0.01))
    assert sure.brier == pytest.approx(1.0)
    data = json.loads(render(card, "json"))
    assert data["readings"][0]["score"]["log_score_clamped"] is True
    assert math.isfinite(data["readings"][0]["score"]["log_score"])
    assert data["comparison"]["leader"] == "fair"
    for fmt in ("text", "md", "html"):
        assert "clamped on launch" in render(card, fmt)


HOSTILE = '<script>alert("x")</script> & <b>bold</b> | [link](javascript:alert(1))'


def test_feed_text_in_html_and_markdown_is_text_not_markup(engine, config):
    with Session(engine) as session:
        add_evidence(session, config, "test-freeze", "Wire <i>A</i>", JANUARY, HOSTILE)
        add_evidence(session, config, "rocket-site-work", "Wire A", JANUARY, HOSTILE)
        card = build_scorecard(session, config, NOW)
    html = render(card, "html")
    assert "<script>" not in html and "<b>bold</b>" not in html and "<i>A</i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<svg" in html and "<polyline" in html
    assert "http" not in html.split("<body>")[0]  # no external assets in the head
    markdown = render(card, "md")
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert "\\| \\[link\\]" in markdown
    text = render(card, "text")  # the terminal shows feed text as it is, never as rich markup
    assert "<b>bold</b>" in text and "[link]" in text


def test_save_report_writes_html_markdown_and_json(engine, config, tmp_path):
    with Session(engine) as session:
        card = build_scorecard(session, config, NOW)
    path = save_report(card, tmp_path / "reports")
    assert path.name == "scorecard-test-tracker-2019-03-10.html"
    assert sorted(p.suffix for p in path.parent.iterdir()) == [".html", ".json", ".md"]
    assert json.loads(path.with_suffix(".json").read_text())["as_of"] == "2019-03-10"


def test_unknown_format_is_refused(engine, config):
    with Session(engine) as session:
        card = build_scorecard(session, config, NOW)
    with pytest.raises(ValueError, match="unknown format"):
        render(card, "pdf")


@pytest.mark.parametrize("width", [60, 80, 120])
def test_text_fits_the_terminal_and_never_wraps_an_id(engine, width):
    """The shipped tracker's record gives 8 or 9 periods a reading: more than 80 columns hold.
    Narrower, the period table keeps the latest periods, never hiding a reading's current
    one (the readings differ in their number of periods); at 60 columns, blocks show all."""
    shipped = load_config(ROOT / "indicators.yaml")
    with Session(engine) as session:
        card = build_scorecard(session, shipped, datetime(2026, 12, 1, tzinfo=UTC))
    lines = render(card, "text", width=width).splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), "\n".join(lines)
    for name in [i.id for i in shipped.indicators] + [r.id for r in shipped.readings]:
        assert any(name in line for line in lines), (name, "\n".join(lines))
    periods = sorted({p.index for row in card.indicators for p in row.periods})
    assert len(periods) > 5
    start = next(i for i, line in enumerate(lines) if line.startswith("Periods ("))
    end = next(i for i, line in enumerate(lines) if line.startswith("Posterior by week"))
    section = "\n".join(lines[start:end])
    current = sum(p.status == "pending" for row in card.indicators for p in row.periods)
    assert current == 2 * len(card.indicators)  # every reading's current period...
    assert section.count("pending") == current + 1  # ...is shown (+1: the key says "pending")
    header = [line for line in lines[start:end] if line.startswith("┃ indicator")]
    title = (
        " ".join(line.strip() for line in lines[start : lines.index(header[0])]) if header else ""
    )
    if width == 80:
        assert f"periods {periods[0]}–" in title and "left out at this width" in title
        assert f"┃ {periods[0]} " not in header[0]
        assert header[0].rstrip("┃ ").endswith(str(periods[-1]))
    if width == 60:  # a block per row, with every period
        assert not header and "left out" not in section
        assert all(f" {k} " in section for k in periods)
    markdown = render(card, "md")
    assert all(f"| {k} " in markdown for k in periods)  # the file formats keep every period
