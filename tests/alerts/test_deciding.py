"""Deciding is single-flight and idempotent: the daemon's poll, deliver and windows threads
all call `decide` at once, and every state change still gets exactly one alert and one
delivery per channel, with no error, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

from sqlmodel import Session, select

from tests.support.alerting import START, write_tracker
from watch.alerts.outbox import decide
from watch.config import load_config
from watch.db import session_scope
from watch.schema import Alert, Delivery, StateChange

THREADS = 6
ROUNDS = 3


def add_changes(engine, count: int) -> None:
    with Session(engine) as session:
        for _ in range(count):
            session.add(
                StateChange(
                    indicator_id="rocket-site-work",
                    old_state="quiet",
                    new_state="signalled",
                    at=START,
                    cause="evidence",
                )
            )
        session.commit()


def test_threads_deciding_at_once_queue_each_change_once(tmp_path, engine):
    config = load_config(write_tracker(tmp_path, []))
    channels = ["email", "slack"]
    errors: list[BaseException] = []
    queued: Counter[int] = Counter()

    def decide_once(barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            with session_scope(engine) as session:
                for alert in decide(session, config, channels, START):
                    queued[alert.state_change_id or 0] += 1
        except BaseException as error:  # the test reports every failure
            errors.append(error)

    for _ in range(ROUNDS):
        add_changes(engine, 20)
        barrier = threading.Barrier(THREADS)
        threads = [threading.Thread(target=decide_once, args=(barrier,)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    with Session(engine) as session:
        change_ids = sorted(c.id for c in session.exec(select(StateChange)))
        alerts = session.exec(select(Alert)).all()
        deliveries = session.exec(select(Delivery)).all()
    assert len(change_ids) == 20 * ROUNDS
    assert sorted(a.state_change_id for a in alerts) == change_ids
    assert sorted(queued) == change_ids and set(queued.values()) == {1}
    assert Counter(d.channel for d in deliveries) == {
        "email": len(change_ids),
        "slack": len(change_ids),
    }
