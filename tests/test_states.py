"""Indicator states and reading outcomes, straight from watch.states on real databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from tests.support.paths import SMALL_TRACKER
from tests.support.stored import add_evidence, watched
from watch.config import Config, load_config
from watch.schema import Cause, Kind, State, StateChange
from watch.states import (
    agrees,
    derive_state,
    ensure_states,
    resolve_reading,
    tally_evidence,
    update_states,
    window_bounds,
)

T0 = datetime(2019, 3, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def config() -> Config:
    return load_config(SMALL_TRACKER)


@pytest.mark.parametrize(
    ("kind", "sources", "corroboration", "state"),
    [
        (Kind.EVENT, 0, 2, "quiet"),
        (Kind.EVENT, 1, 2, "signalled"),
        (Kind.EVENT, 2, 2, "confirmed"),
        (Kind.EVENT, 5, 2, "confirmed"),
        (Kind.CONDITION, 0, 2, "holding"),
        (Kind.CONDITION, 1, 2, "signalled"),
        (Kind.CONDITION, 1, 1, "broken"),
    ],
)
def test_derive_state_climbs_the_ladder_by_distinct_sources(kind, sources, corroboration, state):
    assert derive_state(kind, sources, corroboration) == state


@pytest.mark.parametrize(
    ("p", "outcome", "expected"),
    [
        (0.8, True, True),
        (0.8, False, False),
        (0.5, True, True),
        (0.49, True, False),
        (0.2, False, True),
        (0.9, None, None),
    ],
)
def test_agrees_means_the_forecast_leaned_the_way_it_went(p, outcome, expected):
    assert agrees(p, outcome) is expected


def test_ensure_states_creates_each_indicator_at_the_bottom_of_its_ladder(engine, config):
    with Session(engine) as session:
        rows = ensure_states(session, config, T0)
        assert {i: row.state for i, row in rows.items()} == {
            "rocket-site-work": "quiet",
            "test-freeze": "holding",
            "summit": "quiet",
        }
        only = ensure_states(session, config, T0, only=["summit"])
        assert list(only) == ["summit"] and only["summit"] is rows["summit"]


def test_update_states_records_each_change_once_and_counts_sources(engine, config):
    with Session(engine) as session:
        _first, changes = add_evidence(session, config, "rocket-site-work", "Wire A", T0)
        assert [(c.old_state, c.new_state, c.cause) for c in changes] == [
            ("quiet", "signalled", "evidence")
        ]
        # a second piece from the same source corroborates nothing
        _same, changes = add_evidence(session, config, "rocket-site-work", "Wire A", T0)
        assert changes == []
        _other, changes = add_evidence(session, config, "rocket-site-work", "Wire B", T0)
        assert [(c.old_state, c.new_state) for c in changes] == [("signalled", "confirmed")]
        tally = tally_evidence(session, ["rocket-site-work", "summit"])
        assert (tally["rocket-site-work"].count, tally["rocket-site-work"].sources) == (3, 2)
        assert tally["rocket-site-work"].last_published == T0
        assert (tally["summit"].count, tally["summit"].sources) == (0, 0)
        # recomputing without new evidence changes nothing and writes no history
        again = update_states(session, config, ["rocket-site-work"], now=T0, cause=Cause.EVIDENCE)
        assert again == []
        history = session.exec(select(StateChange.new_state).order_by(StateChange.id)).all()
        assert history == ["signalled", "confirmed"]


def test_update_states_ignores_indicators_the_tracker_no_longer_has(engine, config):
    with Session(engine) as session:
        assert update_states(session, config, ["gone"], now=T0, cause=Cause.EVIDENCE) == []


def test_a_reading_resolves_yes_when_evidence_inside_its_window_corroborates(engine, config):
    indicator = config.indicator("rocket-site-work")
    with Session(engine) as session:
        add_evidence(session, config, "rocket-site-work", "Wire A", T0)
        second, _ = add_evidence(session, config, "rocket-site-work", "Wire B", T0 + timedelta(1))
        later = T0 + timedelta(days=10)

        hawk = resolve_reading(session, config, indicator, "hawk", later)

        assert (hawk.outcome, hawk.cause, hawk.evidence_id) == (True, Cause.EVIDENCE, second)
        assert hawk.resolved_at == T0 + timedelta(days=1)
        # as it stood before the second source: still open
        assert resolve_reading(session, config, indicator, "hawk", T0).outcome is None


def test_evidence_before_a_readings_window_does_not_count_for_it(engine, config):
    indicator = config.indicator("summit")  # 30-day windows: hawk from Jan 1, dove from Feb 1
    early = datetime(2019, 1, 10, tzinfo=UTC)
    with Session(engine) as session:
        add_evidence(session, config, "summit", "Wire A", early)
        add_evidence(session, config, "summit", "Wire B", early)
        now = datetime(2019, 2, 10, tzinfo=UTC)
        assert resolve_reading(session, config, indicator, "hawk", now).outcome is True
        assert resolve_reading(session, config, indicator, "dove", now).outcome is None


def test_a_window_that_closes_quiet_resolves_no_at_its_close(engine, config):
    indicator = config.indicator("summit")
    opens, closes = window_bounds(config, indicator, "hawk")
    assert (opens, closes) == (
        datetime(2019, 1, 1, tzinfo=UTC),
        datetime(2019, 1, 31, tzinfo=UTC),
    )
    with Session(engine) as session:
        watched(session, opens, closes)  # polled the whole window and saw nothing
        before = resolve_reading(session, config, indicator, "hawk", closes - timedelta(seconds=1))
        at_close = resolve_reading(session, config, indicator, "hawk", closes)
    assert before.outcome is None
    assert (at_close.outcome, at_close.cause, at_close.resolved_at) == (
        False,
        Cause.WINDOW,
        closes,
    )


def test_a_resolution_by_hand_holds_the_state_at_resolved(engine, config):
    from watch.review import resolve

    with Session(engine) as session:
        resolve(session, config, "summit", True, "seen on television", T0)
        _id, changes = add_evidence(session, config, "summit", "Wire A", T0 + timedelta(1))
        assert changes == []  # the analyst's call wins over new evidence
        row = ensure_states(session, config, T0)["summit"]
        assert (row.state, row.evidence_count) == (State.RESOLVED, 1)
