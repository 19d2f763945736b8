"""Recurring periods, watched coverage and dated resolutions, on real databases and a real
daemon polling a loopback feed with a simulated clock."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from tests.support.alerting import Clock
from tests.support.paths import SMALL_TRACKER
from tests.support.rss import item, rss
from tests.support.stored import watched
from watch.cli import app
from watch.config import Config, load_config
from watch.daemon import Daemon
from watch.errors import InvalidConfigFile
from watch.queries import history, indicator_status
from watch.review import record_outcome
from watch.scoring.render import render
from watch.scoring.scorecard import build_scorecard
from watch.states import load_facts, periods, resolve_period

CYCLES = """
tracker: {{id: cycles, title: Cycles}}
defaults: {{repeat: true, coverage: 0.9, interval: 1h}}
readings:
  - {{id: keen, title: Keen, author: A, source: a.txt, published: {published}, summary: s}}
  - {{id: wary, title: Wary, author: B, source: b.txt, published: {published}, summary: s}}
indicators:
  - id: launch
    title: A launch
    description: d
    kind: event
    window_days: {days}
    corroboration: 1
    forecasts:
      keen: {{p: 0.8, why: expects it}}
      wary: {{p: 0.3, why: doubts it}}
    match: [{{name: launch, any: [launch]}}]
{extra}"""


def cycles(tmp_path: Path, *, published: str, days: int, extra: str = "") -> Config:
    path = tmp_path / "cycles.yaml"
    path.write_text(CYCLES.format(published=published, days=days, extra=extra))
    return load_config(path)


def test_periods_follow_one_another_from_publication(tmp_path):
    config = cycles(tmp_path, published="2019-01-01", days=10)
    launch = config.indicator("launch")
    found = periods(config, launch, "keen", datetime(2019, 1, 25, tzinfo=UTC))
    assert [(p.index, p.start.date(), p.end.date()) for p in found] == [
        (0, date(2019, 1, 1), date(2019, 1, 11)),
        (1, date(2019, 1, 11), date(2019, 1, 21)),
        (2, date(2019, 1, 21), date(2019, 1, 31)),
    ]
    once = config.model_copy(
        update={"defaults": config.defaults.model_copy(update={"repeat": False})}
    )
    assert len(periods(once, launch, "keen", datetime(2019, 6, 1, tzinfo=UTC))) == 1


# ---------------------------------------------------------------- a daemon over a real feed


def test_daemon_silence_resolves_only_watched_periods(tmp_path, engine, feed_server):
    """Period 0 polled all day: silence says no. Period 1 feed down half the day: unobserved.
    A dated yes inside period 2 (and outside period 1) decides period 2 only."""
    feed_server.route("/wire.xml", rss(item("Weather in Pyongyang", guid="w1")))
    config = cycles(
        tmp_path,
        published="2019-03-10",
        days=1,
        extra=f"feeds:\n  - {{name: Wire, url: {feed_server.url('/wire.xml')}}}\n",
    )
    launch = config.indicator("launch")
    clock = Clock(datetime(2019, 3, 10, 0, 0, tzinfo=UTC))
    daemon = Daemon(engine, config, [], clock=clock)
    try:
        for _ in range(24):  # 2019-03-10, polled every hour, nothing matching
            daemon.run_once()
            clock.advance(hours=1)
        daemon.run_once()  # 03-11 00:00: period 0 has closed
        for _ in range(12):  # 03-11: healthy until noon ...
            clock.advance(hours=1)
            daemon.run_once()
        feed_server.route("/wire.xml", "down", status=500)
        for _ in range(12):  # ... then down for the rest of the day
            clock.advance(hours=1)
            daemon.run_once()
        feed_server.route("/wire.xml", rss(item("Weather in Pyongyang", guid="w1")))
        clock.advance(hours=12)
        daemon.run_once()  # 03-12 12:00, the feed answers again
        now = clock()
        with Session(engine) as session:
            record_outcome(
                session,
                config,
                "launch",
                True,
                on=date(2019, 3, 12),
                source="https://example.org/launch",
                note="a launch on the 12th",
                now=now,
            )
            session.commit()
        clock.advance(days=1)
        daemon.run_once()  # 03-13 12:00: period 2 has closed too
        with Session(engine) as session:
            facts = load_facts(session, config)
            found = [
                resolve_period(session, config, launch, period, clock(), facts)
                for period in periods(config, launch, "keen", clock())
            ]
    finally:
        daemon.close()
    zero, one, two, three = found
    assert (zero.status, zero.cause, zero.outcome) == ("no", "window", False)
    assert zero.coverage == 1.0
    assert (one.status, one.outcome, one.cause) == ("unobserved", None, None)
    assert 0.4 < one.coverage < 0.9  # noon to midnight unwatched (three hours vouched back)
    assert (two.status, two.cause, two.outcome) == ("yes", "manual", True)
    assert two.resolved_at == datetime(2019, 3, 12, tzinfo=UTC)
    assert two.source == "https://example.org/launch"
    assert three.status == "pending"


# ---------------------------------------------------------------- scoring over periods


def test_scores_over_periods_checked_by_hand(tmp_path, engine):
    # Period 0 (01-01..01-11) yes on 01-05 by the record; period 1 (01-11..01-21) no by the
    # record; period 2 (01-21..01-31) half watched: unobserved; period 3 still open.
    record = """record:
  - {indicator: launch, on: 2019-01-05, outcome: yes, source: "https://example.org/a",
     note: it launched}
  - {indicator: launch, from: 2019-01-11, to: 2019-01-20, outcome: no,
     source: "https://example.org/b", note: nothing launched}
"""
    config = cycles(tmp_path, published="2019-01-01", days=10, extra=record)
    now = datetime(2019, 2, 5, tzinfo=UTC)
    with Session(engine) as session:
        watched(session, datetime(2019, 1, 21, tzinfo=UTC), datetime(2019, 1, 26, tzinfo=UTC))
        card = build_scorecard(session, config, now)
        status = {row.id: row for row in indicator_status(session, config, now)}
    keen, wary = (r.score for r in card.readings)
    # keen (p .8): yes then no -> Brier ((.2)² + (.8)²) / 2 = .34, log (ln .8 + ln .2) / 2
    assert keen.n == 2 and keen.brier == pytest.approx(0.34)
    assert keen.log_score == pytest.approx((math.log(0.8) + math.log(0.2)) / 2)
    assert (keen.consistent, keen.inconsistent) == (1, 1)
    # wary (p .3): Brier ((.7)² + (.3)²) / 2 = .29, log (ln .3 + ln .7) / 2
    assert wary.brier == pytest.approx(0.29)
    assert wary.log_score == pytest.approx((math.log(0.3) + math.log(0.7)) / 2)
    # Bayes factor wary over keen: (.3 · .7) / (.8 · .2) = .21 / .16
    assert card.comparison.n == 2
    assert 10 ** card.log10_bayes_factor() == pytest.approx(0.21 / 0.16)
    assert card.comparison.posterior["wary"] == pytest.approx(0.21 / 0.37)
    assert sorted(card.comparison.log10_likelihoods) == ["launch", "launch#1"]
    assert card.verdict.startswith("wary leads keen") and "2 resolved indicator periods" in (
        card.verdict
    )
    # the weekly series moves as each period resolves
    by_day = {point.day: point.n for point in card.series}
    assert (by_day[date(2019, 1, 7)], by_day[date(2019, 1, 14)]) == (1, 1)
    assert by_day[date(2019, 1, 21)] == 2 and by_day[date(2019, 2, 4)] == 2
    # the JSON contract
    data = json.loads(render(card, "json"))
    periods_json = data["indicators"][0]["periods"]
    keen_periods = [p for p in periods_json if p["reading"] == "keen"]
    assert [
        (p["index"], p["status"], p["outcome"], p["cause"], p["coverage"]) for p in keen_periods
    ] == [
        (0, "yes", True, "record", 0.0),
        (1, "no", False, "record", 1.0),
        (2, "unobserved", None, None, 0.5),
        (3, "pending", None, None, 0.0),
    ]
    assert keen_periods[0] == {
        "reading": "keen",
        "index": 0,
        "start": "2019-01-01T00:00:00Z",
        "end": "2019-01-11T00:00:00Z",
        "status": "yes",
        "outcome": True,
        "cause": "record",
        "coverage": 0.0,
        "resolved_at": "2019-01-05T00:00:00Z",
        "source": "https://example.org/a",
    }
    # two readings, two scored periods each; one unobserved period each
    assert data["basis"].startswith("Outcomes scored: 4 periods (4 from the tracker's record).")
    assert "2 closed periods went unobserved" in data["basis"]
    for fmt in ("text", "md", "html"):
        shown = render(card, fmt)
        assert "unobs." in shown and "yes R" in shown and "no R" in shown
        assert "watch backtest" in shown  # the way out is named
    # status: the current period, and a summary of the past ones
    keen_status = status["launch"].readings["keen"]
    assert keen_status["period"] == {
        "index": 3,
        "start": "2019-01-31T00:00:00Z",
        "end": "2019-02-10T00:00:00Z",
        "status": "pending",
    }
    assert keen_status["past"] == {"yes": 1, "no": 1, "unobserved": 1}
    assert status["launch"].reading_cell("keen") == (
        "0.80 pending · period 3 · past 1 yes · 1 no · 1 unobserved"
    )


def test_a_dated_no_that_covers_only_part_of_a_period_does_not_decide_it(tmp_path, engine):
    record = """record:
  - {indicator: launch, from: 2019-01-01, to: 2019-01-04, outcome: no,
     source: "https://example.org/b", note: quiet for a few days}
"""
    config = cycles(tmp_path, published="2019-01-01", days=10, extra=record)
    with Session(engine) as session:
        card = build_scorecard(session, config, datetime(2019, 1, 15, tzinfo=UTC))
    first = [p for p in card.indicators[0].periods if p.index == 0]
    assert {(p.status, p.coverage) for p in first} == {("unobserved", 0.4)}
    assert card.comparison.n == 0


# ---------------------------------------------------------------- the record, validated


@pytest.mark.parametrize(
    ("item_yaml", "line"),
    [
        (
            "{indicator: nope, on: 2019-01-05, outcome: yes, source: 'https://x.org', note: n}",
            "record[0].indicator: unknown indicator id 'nope'",
        ),
        (
            "{indicator: launch, on: 2018-12-05, outcome: yes, source: 'https://x.org', note: n}",
            "record[0].on: 2018-12-05 lies outside every window of launch",
        ),
        (
            "{indicator: launch, from: 2019-01-05, to: 2019-01-06, outcome: yes, "
            "source: 'https://x.org', note: n}",
            "record[0]: outcome yes takes `on: DATE`",
        ),
        (
            "{indicator: launch, on: 2019-01-05, outcome: yes, source: not-a-url, note: n}",
            "record[0].source",
        ),
    ],
)
def test_bad_record_items_are_named_with_their_line(tmp_path, item_yaml, line):
    once = CYCLES.replace("repeat: true", "repeat: false")
    path = tmp_path / "bad.yaml"
    text = once.format(published="2019-01-01", days=10, extra=f"record:\n  - {item_yaml}\n")
    path.write_text(text)
    with pytest.raises(InvalidConfigFile) as raised:
        load_config(path)
    shown = str(raised.value)
    record_line = text.splitlines().index(f"  - {item_yaml}") + 1
    assert f"bad.yaml:{record_line}: {line}" in shown
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and f"bad.yaml:{record_line}:" in result.output


def test_yaml_words_on_yes_and_no_read_as_words(tmp_path):
    record = """record:
  - indicator: launch
    on: 2019-01-05
    outcome: yes
    source: https://example.org/a
    note: it launched
"""
    config = cycles(tmp_path, published="2019-01-01", days=10, extra=record)
    assert [(r.on, r.outcome) for r in config.record] == [(date(2019, 1, 5), "yes")]


# ---------------------------------------------------------------- by hand, from the CLI


def test_resolve_with_dates_decides_only_the_periods_they_fall_in(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("WATCH_DATABASE_URL", url)
    runner = CliRunner()
    args = ["--config", str(SMALL_TRACKER)]
    said = runner.invoke(
        app,
        [
            "resolve",
            "summit",
            "--yes",
            "--on",
            "2019-01-15",
            "--source",
            "https://example.org/summit",
            "--note",
            "the leaders met",
            *args,
        ],
    )
    assert said.exit_code == 0, said.output
    assert "recorded by hand: happened on 2019-01-15" in said.output
    card = json.loads(runner.invoke(app, ["scorecard", "--format", "json", *args]).output)
    summit = next(i for i in card["indicators"] if i["id"] == "summit")
    by_reading = {p["reading"]: p for p in summit["periods"]}
    # hawk's window (01-01..01-31) holds the day; dove's (02-01..03-03) does not, and nobody
    # watched it: unobserved, never "no".
    assert (by_reading["hawk"]["status"], by_reading["hawk"]["cause"]) == ("yes", "manual")
    assert by_reading["hawk"]["source"] == "https://example.org/summit"
    assert (by_reading["dove"]["status"], by_reading["dove"]["outcome"]) == ("unobserved", None)
    assert all(p["cause"] != "silence" for i in card["indicators"] for p in i["periods"])
    rows = json.loads(runner.invoke(app, ["history", "summit", "--json", *args]).output)
    assert [(r["cause"], r["to"], r["source"]) for r in rows] == [
        ("manual", "yes", "https://example.org/summit")
    ]
    shown = runner.invoke(app, ["history", "summit", *args], env={"COLUMNS": "250"}).output
    assert "happened on 2019-01-15: the leaders met" in shown
    no = runner.invoke(
        app,
        [
            "resolve",
            "summit",
            "--no",
            "--from",
            "2019-02-01",
            "--to",
            "2019-03-02",
            "--source",
            "https://example.org/none",
            "--note",
            "no meeting",
            "--json",
            *args,
        ],
    )
    assert no.exit_code == 0, no.output
    assert json.loads(no.output) == {
        "indicator": "summit",
        "outcome": "no",
        "on": None,
        "from": "2019-02-01",
        "to": "2019-03-02",
        "source": "https://example.org/none",
        "note": "no meeting",
    }
    card = json.loads(runner.invoke(app, ["scorecard", "--format", "json", *args]).output)
    summit = next(i for i in card["indicators"] if i["id"] == "summit")
    dove = next(p for p in summit["periods"] if p["reading"] == "dove")
    assert (dove["status"], dove["cause"], dove["coverage"]) == ("no", "manual", 1.0)
    bad = runner.invoke(
        app,
        [
            "resolve",
            "summit",
            "--yes",
            "--from",
            "2019-01-01",
            "--to",
            "2019-01-02",
            "--note",
            "n",
            *args,
        ],
    )
    assert bad.exit_code == 2 and "--yes with dates takes --on DATE" in bad.output


def test_history_keeps_the_record_apart_from_the_evidence(tmp_path, engine):
    record = """record:
  - {indicator: launch, from: 2019-01-11, to: 2019-01-20, outcome: no,
     source: "https://example.org/b", note: nothing launched}
"""
    config = cycles(tmp_path, published="2019-01-01", days=10, extra=record)
    with Session(engine) as session:
        rows = history(session, config, "launch")
    assert [(r.cause, r.new_state, r.source, r.note) for r in rows] == [
        (
            "record",
            "no",
            "https://example.org/b",
            "did not happen from 2019-01-11 to 2019-01-20: nothing launched",
        )
    ]
    assert rows[0].at == datetime(2019, 1, 11, tzinfo=UTC) and rows[0].evidence_id is None
    assert rows[0].at + timedelta(days=10) == datetime(2019, 1, 21, tzinfo=UTC)
