"""Backtests: a small archive written here, replayed through the pipeline with a clock."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.support.paths import ROOT, SMALL_TRACKER
from tests.support.rss import item, rss
from watch.cli import app
from watch.config import Config, load_config
from watch.db import make_engine
from watch.errors import InvalidArchive
from watch.schema import Evidence, StateChange
from watch.scoring.backtest import load_archive, run_backtest

TRACKER = SMALL_TRACKER


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def config() -> Config:
    return load_config(TRACKER)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """hawk (from 2019-01-01) is right on the site work, dove (from 2019-02-01) on the summit."""
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "wire-a.xml").write_bytes(
        rss(
            item(
                "North Korea begins rebuilding Sohae launch site",
                guid="a1",
                published=at("2019-01-20"),
            ),
            item(
                "Leaders agree to hold a summit next month", guid="a2", published=at("2019-02-20")
            ),
            item("Too early: rebuilding at Sohae", guid="a0", published=at("2018-06-01")),
            title="Wire A",
        )
    )
    lines = [
        {
            "published": "2019-01-21T10:00:00Z",
            "title": "Satellite images show construction at Tongchang-ri",
            "source": "Wire B",
            "link": "https://b.example/1",
        },
        # Wire A's story again, syndicated: one story, so it confirms nothing.
        {
            "published": "2019-01-21T12:00:00Z",
            "title": "North Korea begins rebuilding Sohae launch site - Wire A",
            "source": "Aggregator",
            "link": "https://agg.example/9",
        },
        {
            "published": "2019-02-10T08:00:00Z",
            "title": "Sohae launch preparations continue",
            "source": "Wire C",
            "link": "https://c.example/1",
        },
        {
            "published": "2019-02-11T08:00:00Z",
            "title": "Construction at Dongchang-ri seen",
            "source": "Wire D",
            "link": "https://d.example/1",
        },
        {
            "published": "2019-02-21T08:00:00Z",
            "title": "Summit of the two leaders set",
            "source": "Wire B",
            "link": "https://b.example/2",
        },
        {"title": "An undated line is skipped", "source": "Wire B"},
        {"published": "2019-06-01", "title": "Weather report", "summary": "Rain"},
    ]
    (folder / "wires.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return folder


def silence_always_counts(config: Config) -> Config:
    """The tracker with coverage 0: a quiet period resolves "no" however thin the archive."""
    return config.model_copy(
        update={"defaults": config.defaults.model_copy(update={"coverage": 0.0})}
    )


def test_backtest_resolves_each_reading_on_its_own_dates(config, archive, tmp_path):
    out = tmp_path / "out"
    config = silence_always_counts(config)  # the replay's mechanics, apart from coverage
    result = run_backtest(config, archive, out, start=date(2019, 1, 1), end=date(2020, 2, 15))
    assert (result.files, result.entries, result.undated) == (2, 8, 1)
    card = result.scorecard
    cells = {row.id: row.cells for row in card.indicators}
    resolved = {
        (indicator, reading): (cell.outcome, cell.resolved_at.date().isoformat(), cell.cause)
        for indicator, by_reading in cells.items()
        for reading, cell in by_reading.items()
    }
    assert resolved == {
        ("rocket-site-work", "hawk"): (True, "2019-01-21", "evidence"),
        ("rocket-site-work", "dove"): (True, "2019-02-11", "evidence"),
        ("summit", "hawk"): (False, "2019-01-31", "window"),
        ("summit", "dove"): (True, "2019-02-21", "evidence"),
        ("test-freeze", "hawk"): (False, "2020-01-01", "window"),
        ("test-freeze", "dove"): (False, "2020-02-01", "window"),
    }
    # hawk: .8 * .8 * .6 = .384; dove: .3 * .7 * .9 = .189.
    assert card.comparison.posterior["hawk"] == pytest.approx(0.384 / 0.573)
    assert card.verdict == (
        "hawk leads dove by a Bayes factor of 2.0 (posterior 67% from even odds) over 3 "
        "resolved indicators, mostly on rocket-site-work and summit."
    )
    windows = [
        (c.indicator_id, c.at.date().isoformat()) for c in result.changes if c.cause == "window"
    ]
    assert windows == [
        ("summit", "2019-01-31"),
        ("test-freeze", "2020-01-01"),
        ("test-freeze", "2020-02-01"),
    ]
    # The database is the live schema, filled by the live pipeline.
    engine = make_engine(f"sqlite:///{out / 'backtest.db'}")
    with Session(engine) as session:
        evidence = session.exec(select(Evidence)).all()
        history = session.exec(
            select(StateChange).where(StateChange.indicator_id == "rocket-site-work")
        ).all()
    engine.dispose()
    assert len(evidence) == 7  # the syndicated copy is evidence, but of the same story
    assert [(h.new_state, h.at.isoformat()) for h in history] == [
        ("signalled", "2019-01-20T09:00:00+00:00"),
        ("confirmed", "2019-01-21T10:00:00+00:00"),
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "backtest.db",
        "scorecard-test-tracker-2020-02-15.html",
        "scorecard-test-tracker-2020-02-15.json",
        "scorecard-test-tracker-2020-02-15.md",
        "weekly-series.csv",
    ]
    with (out / "weekly-series.csv").open() as handle:
        series = list(csv.DictReader(handle))
    assert series[0]["week_ending"] == "2019-01-07" and series[-1]["week_ending"] == "2020-02-15"
    assert {row["week_ending"]: row["resolved"] for row in series}["2019-02-25"] == "2"


def test_a_sparse_archive_leaves_its_quiet_periods_undecided(config, archive, tmp_path):
    result = run_backtest(
        config, archive, tmp_path / "out", start=date(2019, 1, 1), end=date(2020, 2, 15)
    )
    cells = {
        (row.id, reading): cell
        for row in result.scorecard.indicators
        for reading, cell in row.cells.items()
    }
    # Evidence still decides; silence no longer does: the archive has entries on a few days
    # of January to June 2019 only, so the quiet periods were not watched.
    assert (cells["rocket-site-work", "hawk"].outcome, cells["summit", "dove"].outcome) == (
        True,
        True,
    )
    undecided = sorted((i, c.reading, c.index) for i, c in result.undecided)
    assert undecided == [
        ("summit", "hawk", 0),
        ("test-freeze", "dove", 0),
        ("test-freeze", "hawk", 0),
    ]
    assert all(cells[i, r].status == "unobserved" for i, r, _ in undecided)
    assert all(c.coverage < 0.9 for _, c in result.undecided)
    assert [c for c in result.changes if c.cause == "window"] == []
    assert "3 period(s) the archive could not decide (too sparse" in result.summary()
    data = result.as_json()
    assert {(u["indicator"], u["reading"], u["status"]) for u in data["undecided"]} == {
        ("summit", "hawk", "unobserved"),
        ("test-freeze", "dove", "unobserved"),
        ("test-freeze", "hawk", "unobserved"),
    }
    # Only what was decided is scored: site work (both) and the summit for dove.
    assert [r.score.n for r in result.scorecard.readings] == [1, 2]
    assert result.scorecard.comparison.n == 1


def test_backtest_runs_again_from_scratch(config, archive, tmp_path):
    first = run_backtest(config, archive, tmp_path / "out", end=date(2019, 3, 1))
    second = run_backtest(config, archive, tmp_path / "out", end=date(2019, 3, 1))
    assert first.start == date(2018, 6, 1)  # the first entry, without --from
    assert len(second.changes) == len(first.changes) and second.evidence == first.evidence


@pytest.mark.parametrize("collecting", [True, False])
def test_backtest_leaves_the_cycle_collector_as_it_found_it(config, archive, tmp_path, collecting):
    import gc

    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        run_backtest(config, archive, tmp_path / "out", end=date(2018, 7, 1))
        assert gc.isenabled() is collecting
        (archive / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
        with pytest.raises(InvalidArchive):
            run_backtest(config, archive, tmp_path / "out")
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", "{not json\n", "bad.jsonl:1: not JSON"),
        ("bad.jsonl", '{"published": "yesterday", "title": "x"}\n', "not ISO 8601"),
        ("bad.jsonl", '{"published": "2019-01-01"}\n', "`title` is required"),
        ("page.xml", "<html><body>not a feed</body></html>", "page.xml: not a feed"),
    ],
)
def test_unreadable_archives_are_named(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(InvalidArchive, match=message):
        load_archive(tmp_path)


def test_an_empty_folder_is_not_an_archive(tmp_path):
    with pytest.raises(InvalidArchive, match=r"no \*\.xml"):
        load_archive(tmp_path)


def test_backtest_command_writes_the_reports(archive, tmp_path):
    out = tmp_path / "cli-out"
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            str(archive),
            "--config",
            str(TRACKER),
            "--from",
            "2019-01-01",
            "--to",
            "2020-02-15",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "replayed 8 entries from 2 file(s), 2019-01-01 to 2020-02-15" in result.output
    assert "hawk leads dove" in result.output
    assert (out / "scorecard-test-tracker-2020-02-15.html").is_file()


def test_the_shipped_archive_resolves_every_indicator_offline(tmp_path):
    root = ROOT
    # The archive alone, without the tracker's record of real events (which would decide
    # the first periods before the replay does).
    # the first periods before the replay does), and with silence counted however thin the
    # archive: its 31 invented entries watch only a few days of each year.
    shipped = load_config(root / "indicators.yaml").model_copy(update={"record": []})
    config = silence_always_counts(shipped)
    honest = run_backtest(shipped, root / "archive" / "illustrative", tmp_path / "honest")
    assert {c.status for _, c in honest.undecided} == {"unobserved"} and honest.undecided
    result = run_backtest(config, root / "archive" / "illustrative", tmp_path / "out")
    card = result.scorecard
    cells = [cell for row in card.indicators for cell in row.cells.values()]
    assert all(cell.outcome is not None for cell in cells)
    assert {cell.outcome for cell in cells} == {True, False}
    putin = {row.id: row for row in card.indicators}["kim-putin-summit"].cells
    assert {c.resolved_at.date() for c in putin.values()} == {date(2019, 4, 25)}
    assert card.comparison.n == len(config.indicators)


def _replay_one_by_one(config: Config, archive_path: Path, database: Path) -> dict[str, list]:
    """The replay as it was before batching: each entry ingested alone, in its own ingest."""
    from datetime import timedelta

    from watch.clock import start_of_day
    from watch.db import open_database
    from watch.feeds.ingest import ingest
    from watch.feeds.match import Matcher
    from watch.review import close_windows
    from watch.schema import Feed
    from watch.states import window_bounds

    entries = load_archive(archive_path).entries
    closes = sorted(
        {
            window_bounds(config, indicator, reading.id)[1]
            for indicator in config.indicators
            for reading in config.readings
        }
    )
    engine = open_database(f"sqlite:///{database}")
    matcher, feeds = Matcher(config), {}
    with Session(engine, expire_on_commit=False) as session:
        day, last = entries[0].published.date(), entries[-1].published.date()
        queue = iter(entries)
        upcoming = next(queue, None)
        while day <= last:
            while upcoming is not None and upcoming.published.date() == day:
                if upcoming.feed not in feeds:
                    feeds[upcoming.feed] = Feed(
                        url=f"archive:{upcoming.feed}", name=upcoming.feed_title[:300]
                    )
                    session.add(feeds[upcoming.feed])
                    session.flush()
                feed = feeds[upcoming.feed]
                feed.last_polled_at = upcoming.published
                ingest(session, config, feed, [upcoming.entry], matcher, upcoming.published)
                upcoming = next(queue, None)
            clock = start_of_day(day + timedelta(days=1))
            if closes and closes[0] <= clock:
                close_windows(session, config, clock)
                closes = [when for when in closes if when > clock]
            session.commit()
            day += timedelta(days=1)
    engine.dispose()
    return _stored(database)


def _stored(database: Path) -> dict[str, list]:
    """Every row of the tables a replay writes, ids included, in id order."""
    import sqlite3

    connection = sqlite3.connect(database)
    tables = {
        "feed": "SELECT * FROM feed ORDER BY id",
        "story": "SELECT * FROM story ORDER BY id",
        "entry": "SELECT * FROM entry ORDER BY id",
        "evidence": "SELECT * FROM evidence ORDER BY id",
        "statechange": "SELECT * FROM statechange ORDER BY id",
        "indicatorstate": "SELECT * FROM indicatorstate ORDER BY indicator_id",
        "resolution": "SELECT * FROM resolution ORDER BY id",
    }
    stored = {name: connection.execute(sql).fetchall() for name, sql in tables.items()}
    connection.close()
    return stored


def test_batched_replay_stores_exactly_what_a_one_by_one_replay_stores(tmp_path, config):
    import random

    rng = random.Random(4)
    archive = tmp_path / "big"
    archive.mkdir()
    texts = [
        "North Korea begins rebuilding Sohae launch site",
        "Satellite images show construction at Tongchang-ri",
        "Leaders agree to hold a summit next month",
        "Markets close higher on tech shares",
        "Storm brings flooding to coastal towns",
    ]
    for wire in range(3):
        lines = [
            json.dumps(
                {
                    "published": f"2019-{rng.randint(1, 4):02d}-{rng.randint(1, 28):02d}T"
                    f"{rng.randint(0, 23):02d}:00:00Z",
                    "title": f"{rng.choice(texts)} ({rng.randint(1, 40)})",
                    "source": f"Outlet {rng.randint(1, 4)}",
                    "link": f"https://o{rng.randint(1, 3)}.example/{rng.randint(1, 300)}",
                }
            )
            for _ in range(400)
        ]
        (archive / f"wire-{wire}.jsonl").write_text("\n".join(lines) + "\n")
    batched = run_backtest(config, archive, tmp_path / "out")
    assert batched.evidence > 0 and batched.changes
    assert _stored(batched.database) == _replay_one_by_one(config, archive, tmp_path / "one.db")
