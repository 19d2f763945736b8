"""Analyst review on real databases: reject, resolve, reopen, history, and closing windows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from tests.support.paths import SMALL_TRACKER
from tests.support.stored import add_evidence, watched
from watch.config import Config, load_config
from watch.errors import NotResolvedByHand, UnknownEvidence, UnknownIndicator
from watch.queries import history
from watch.review import close_windows, reject, reopen, resolve
from watch.schema import IndicatorState, Resolution
from watch.states import resolve_reading

TRACKER = SMALL_TRACKER
MARCH = datetime(2019, 3, 5, 8, 0, tzinfo=UTC)
LATER = datetime(2019, 3, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def config() -> Config:
    return load_config(TRACKER)


def state(session: Session, indicator_id: str) -> str:
    return session.get_one(IndicatorState, indicator_id).state


def test_rejecting_the_only_confirming_evidence_moves_the_indicator_back(engine, config):
    with Session(engine) as session:
        add_evidence(session, config, "rocket-site-work", "Wire A", MARCH, "Sohae rebuilt")
        second, _ = add_evidence(session, config, "rocket-site-work", "Wire B", MARCH, "Sohae")
        assert state(session, "rocket-site-work") == "confirmed"
        hawk = resolve_reading(session, config, config.indicator("rocket-site-work"), "hawk", LATER)
        assert (hawk.outcome, hawk.cause, hawk.evidence_id) == (True, "evidence", second)

        changes = reject(session, config, second, "a rerun of an old story", LATER)

        assert [(c.old_state, c.new_state, c.cause) for c in changes] == [
            ("confirmed", "signalled", "reject")
        ]
        assert changes[0].evidence_id == second
        assert "a rerun of an old story" in (changes[0].note or "")
        assert state(session, "rocket-site-work") == "signalled"
        indicator = config.indicator("rocket-site-work")
        assert resolve_reading(session, config, indicator, "hawk", LATER).outcome is None
        assert reject(session, config, second, "again", LATER) == []  # once is enough


def test_resolve_by_hand_wins_over_evidence_until_reopened(engine, config):
    indicator = config.indicator("rocket-site-work")
    with Session(engine) as session:
        add_evidence(session, config, "rocket-site-work", "Wire A", MARCH, "Sohae work seen")
        change = resolve(session, config, "rocket-site-work", False, "imagery shows no work", LATER)
        assert (change.old_state, change.new_state, change.cause) == (
            "signalled",
            "resolved",
            "manual",
        )
        # A second source would confirm it, but the analyst's call stands.
        add_evidence(session, config, "rocket-site-work", "Wire B", LATER, "Sohae again")
        assert state(session, "rocket-site-work") == "resolved"
        for reading in ("hawk", "dove"):
            by_hand = resolve_reading(session, config, indicator, reading, LATER)
            assert (by_hand.outcome, by_hand.resolved_at, by_hand.cause) == (
                False,
                LATER,
                "manual",
            )
        # Before the resolution was made, it did not count.
        assert resolve_reading(session, config, indicator, "hawk", MARCH).cause != "manual"

        reopened = reopen(session, config, "rocket-site-work", LATER, "second look")
        assert [(c.old_state, c.new_state, c.cause) for c in reopened] == [
            ("resolved", "reopened", "manual"),
            ("reopened", "confirmed", "manual"),
        ]
        assert state(session, "rocket-site-work") == "confirmed"
        assert resolve_reading(session, config, indicator, "hawk", LATER).cause == "evidence"

        rows = history(session, config, "rocket-site-work")
        assert [(r.old_state, r.new_state, r.cause) for r in rows] == [
            ("quiet", "signalled", "evidence"),
            ("signalled", "resolved", "manual"),
            ("resolved", "reopened", "manual"),
            ("reopened", "confirmed", "manual"),
        ]
        assert rows[0].evidence_title == "Sohae work seen"
        assert rows[0].as_json()["evidence"]["source"] == "Wire A"
        assert rows[1].note == "resolved no by hand: imagery shows no work"
        assert rows[1].as_json()["at"] == "2019-03-20T09:00:00Z"
        kept = session.exec(select(Resolution)).one()
        assert kept.reopened_at == LATER and kept.outcome is False


def test_resolving_again_replaces_the_standing_resolution(engine, config):
    indicator = config.indicator("summit")
    with Session(engine) as session:
        resolve(session, config, "summit", False, "first call", MARCH)
        resolve(session, config, "summit", True, "they met after all", LATER)
        outcome = resolve_reading(session, config, indicator, "dove", LATER)
        assert (outcome.outcome, outcome.note) == (True, "they met after all")
        reopen(session, config, "summit", LATER)
        with pytest.raises(NotResolvedByHand):
            reopen(session, config, "summit", LATER)


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda s, c: reject(s, c, 999, "no such", MARCH), UnknownEvidence),
        (lambda s, c: resolve(s, c, "no-such-indicator", True, "x", MARCH), UnknownIndicator),
        (lambda s, c: reopen(s, c, "summit", MARCH), NotResolvedByHand),
        (lambda s, c: history(s, c, "no-such-indicator"), UnknownIndicator),
    ],
)
def test_review_refuses_what_does_not_apply(engine, config, action, error):
    with Session(engine) as session, pytest.raises(error):
        action(session, config)


def test_close_windows_announces_each_quiet_close_once(engine, config):
    # summit has 30-day windows: hawk's closes 2019-01-31, dove's 2019-03-03.
    with Session(engine) as session:
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), datetime(2019, 3, 10, tzinfo=UTC))
        first = close_windows(session, config, datetime(2019, 2, 15, tzinfo=UTC))
        assert [(c.indicator_id, c.new_state, c.cause) for c in first] == [
            ("summit", "resolved", "window")
        ]
        assert "resolved no for hawk" in (first[0].note or "")
        assert close_windows(session, config, datetime(2019, 2, 16, tzinfo=UTC)) == []
        second = close_windows(session, config, datetime(2019, 3, 10, tzinfo=UTC))
        assert ["resolved no for dove" in (c.note or "") for c in second] == [True]
        rows = session.exec(select(Resolution).order_by(Resolution.id)).all()
        assert [(r.reading_id, r.outcome, r.resolved_at.date().isoformat()) for r in rows] == [
            ("hawk", False, "2019-01-31"),
            ("dove", False, "2019-03-03"),
        ]
        assert state(session, "summit") == "quiet"  # windows are per reading, the state is not


def test_close_windows_leaves_windows_that_resolved_yes_or_by_hand(engine, config):
    with Session(engine) as session:
        # test-freeze breaks on one source inside both windows (hawk's and dove's run a year).
        add_evidence(session, config, "test-freeze", "Wire A", MARCH, "ICBM launched")
        resolve(session, config, "summit", True, "met at the border", MARCH)
        watched(session, datetime(2019, 1, 1, tzinfo=UTC), datetime(2020, 6, 1, tzinfo=UTC))
        changes = close_windows(session, config, datetime(2020, 6, 1, tzinfo=UTC))
        assert [c.indicator_id for c in changes] == ["rocket-site-work", "rocket-site-work"]
        announced = session.exec(select(Resolution).where(Resolution.cause == "window")).all()
        assert sorted((r.indicator_id, r.reading_id) for r in announced) == [
            ("rocket-site-work", "dove"),
            ("rocket-site-work", "hawk"),
        ]


def test_review_commands_round_trip(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from watch.cli import app
    from watch.db import open_database

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("WATCH_DATABASE_URL", url)
    config = load_config(TRACKER)
    engine = open_database(url)
    with Session(engine) as session:
        add_evidence(session, config, "rocket-site-work", "Wire A", MARCH, "Sohae work")
        confirming, _ = add_evidence(session, config, "rocket-site-work", "Wire B", MARCH)
        session.commit()
    engine.dispose()
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--config", str(TRACKER)], catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run("reject", str(confirming), "--note", "duplicate")
    assert code == 0 and "rocket-site-work: confirmed -> signalled (reject)" in out
    code, out = run("resolve", "summit", "--yes", "--note", "met in Hanoi", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"indicator": "summit", "from": "quiet", "to": "resolved", "cause": "manual"}
    ]
    code, out = run("reopen", "summit")
    assert code == 0 and "summit: resolved -> reopened (manual)" in out
    code, out = run("history", "summit", "--json")
    assert [(row["from"], row["to"]) for row in json.loads(out)] == [
        ("quiet", "resolved"),
        ("resolved", "reopened"),
        ("reopened", "quiet"),
    ]
    code, out = run("history", "rocket-site-work")
    assert code == 0 and "history of rocket-site-work" in out
    rows = json.loads(run("history", "rocket-site-work", "--json")[1])
    assert rows[0]["evidence"]["title"] == "Sohae work"
    assert rows[-1]["note"] == f"evidence {confirming} rejected: duplicate"
    code, out = run("scorecard", "--format", "json", "--as-of", "2019-03-10")
    assert code == 0 and json.loads(out)["as_of"] == "2019-03-10"
    code, out = run("scorecard", "--format", "html", "--out", str(tmp_path / "card.html"))
    assert code == 0 and (tmp_path / "card.html").read_text().startswith("<!DOCTYPE html>")
    assert run("reopen", "summit")[0] == 2
    assert run("reject", "999", "--note", "x")[0] == 2
    assert run("scorecard", "--format", "pdf")[0] == 2
    assert run("scorecard", "--as-of", "last week")[0] == 2
