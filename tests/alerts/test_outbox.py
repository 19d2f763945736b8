"""The outbox and the delivery stages: grouping, superseding, holds that never drop, giving
up after max age, retrying by hand, feed health and reminders. Real feeds, real receivers,
SQLite and PostgreSQL; the clock is moved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.support.alerting import (
    ICBM,
    RECIPIENTS,
    SENDER,
    SITE_WORK,
    SITE_WORK_2,
    START,
    Clock,
    GrowingFeed,
    changes_in,
    email_channel,
    make_daemon,
    slack_channel,
    tracker,
    write_tracker,
)
from watch.alerts.channels.email import EmailChannel
from watch.alerts.outbox import decide
from watch.alerts.render import message_key
from watch.alerts.stages import hold_quiet_hours
from watch.alerts.step import Step
from watch.cli import app
from watch.config import load_config
from watch.daemon import Daemon
from watch.queries import list_deliveries
from watch.schema import Alert, Delivery


def deliveries(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(Delivery, Alert).join(Alert)).all()
    return sorted((a.subject, d.channel, d.status) for d, a in rows)


def test_a_burst_waits_group_wait_and_goes_out_as_one_message(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    first, second = GrowingFeed(feed_server, "/a.xml"), GrowingFeed(feed_server, "/b.xml")
    config = tracker(tmp_path, [first, second], "  group_wait: 15m\n")
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        first.publish(SITE_WORK)
        report = daemon.run_once(flush=False)
        assert report.deliveries[0].held == "group wait 15m"
        clock.advance(minutes=11)
        second.publish(ICBM)
        daemon.run_once(flush=False)
        assert slack_receiver.delivered == []  # 12:11: the first change still waits
        clock.advance(minutes=5)
        daemon.run_once(flush=False)
    finally:
        daemon.close()
    assert [sorted(changes_in(p)) for p in slack_receiver.delivered] == [
        ["rocket-site-work quiet → signalled", "test-freeze holding → broken"]
    ]


def test_a_later_state_supersedes_the_unsent_earlier_one(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    a, b = GrowingFeed(feed_server, "/a.xml"), GrowingFeed(feed_server, "/b.xml")
    config = tracker(tmp_path, [a, b], "  group_wait: 30m\n")
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        a.publish(SITE_WORK, source="Wire A")
        daemon.run_once(flush=False)
        clock.advance(minutes=11)
        b.publish(SITE_WORK_2, source="Wire B")
        daemon.run_once(flush=False)
        clock.advance(minutes=30)
        daemon.run_once(flush=False)
    finally:
        daemon.close()
    assert [changes_in(p) for p in slack_receiver.delivered] == [
        ["rocket-site-work quiet → confirmed"]
    ]
    assert deliveries(engine) == [
        ("rocket-site-work", "slack", "sent"),
        ("rocket-site-work", "slack", "superseded"),
    ]


@pytest.mark.parametrize(
    ("quiet_hours", "local_time", "held"),
    [
        ("22:00-07:00", "23:30", True),
        ("22:00-07:00", "06:59", True),
        ("22:00-07:00", "07:00", False),
        ("22:00-07:00", "12:00", False),
        ("12:00-13:00", "12:30", True),
        ("12:00-13:00", "13:30", False),
    ],
)
def test_quiet_hours_hold_in_the_configured_time_zone(tmp_path, quiet_hours, local_time, held):
    alerts = f"  timezone: Asia/Seoul\n  channels:\n    slack: {{quiet_hours: '{quiet_hours}'}}\n"
    config = load_config(write_tracker(tmp_path, [], alerts))
    hour, minute = map(int, local_time.split(":"))
    seoul = datetime(2019, 3, 10, hour, minute, tzinfo=UTC) - timedelta(hours=9)
    step = Step(None, config, "slack", config.alerts.policy("slack"), seoul)  # type: ignore[arg-type]
    assert (hold_quiet_hours(step, ["a delivery"]) == []) is held  # type: ignore[list-item]


def test_quiet_hours_and_rate_limit_hold_then_send_everything(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()  # 12:00 UTC
    feed = GrowingFeed(feed_server)
    alerts = "  channels:\n    slack: {quiet_hours: '11:00-13:00', min_interval: 1h}\n"
    config = tracker(tmp_path, [feed], alerts)
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        feed.publish(SITE_WORK)
        report = daemon.run_once()
        assert report.deliveries[0].held == "quiet hours 11:00-13:00"
        clock.advance(minutes=61)  # 13:01: quiet hours over
        daemon.run_once()
        assert len(slack_receiver.delivered) == 1
        feed.publish(ICBM)
        clock.advance(minutes=11)
        report = daemon.run_once()
        assert report.deliveries[0].held == "rate limit: one message per 1h"
        clock.advance(minutes=50)
        daemon.run_once()
    finally:
        daemon.close()
    assert [changes_in(p) for p in slack_receiver.delivered] == [
        ["rocket-site-work quiet → signalled"],
        ["test-freeze holding → broken"],
    ]


def test_email_digest_sends_one_mail_at_digest_time_and_no_empty_digest(
    tmp_path, engine, feed_server, smtp_server
):
    clock = Clock()  # 2019-03-10 12:00 UTC
    a, b = GrowingFeed(feed_server, "/a.xml"), GrowingFeed(feed_server, "/b.xml")
    config = tracker(tmp_path, [a, b], "  channels:\n    email: {digest: ['08:00']}\n")
    daemon = make_daemon(engine, config, [email_channel(smtp_server)], clock)
    try:
        a.publish(SITE_WORK)
        daemon.run_once()
        clock.advance(hours=3)
        b.publish(ICBM)
        report = daemon.run_once()
        assert report.deliveries[0].held == "waiting for the next digest"
        assert smtp_server.received == []
        clock.now = datetime(2019, 3, 11, 8, 0, tzinfo=UTC)
        daemon.run_once()
        clock.now = datetime(2019, 3, 12, 8, 0, tzinfo=UTC)
        daemon.run_once()  # nothing new since: no mail
    finally:
        daemon.close()
    assert len(smtp_server.received) == 1
    text = smtp_server.received[0].part("text/plain")
    assert "quiet → signalled" in text and "holding → broken" in text


def test_gives_up_after_max_age_and_retry_by_hand_sends_it(
    tmp_path, engine, database_url, feed_server, slack_receiver, monkeypatch
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    path = write_tracker(
        tmp_path, [feed.url], "  max_age: 1h\n  retry_first: 10m\n", open_windows=True
    )
    config = load_config(path)
    slack_receiver.script(*[500] * 20)
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        feed.publish(SITE_WORK)
        for _ in range(8):
            daemon.run_once()
            clock.advance(minutes=11)
    finally:
        daemon.close()
    with Session(engine) as session:
        failed = list_deliveries(session, "failed")
    assert len(failed) == 1
    assert failed[0].last_error.startswith("gave up after 1h; last error: Slack webhook: 500")

    monkeypatch.setenv("WATCH_DATABASE_URL", database_url)
    runner = CliRunner()
    listed = runner.invoke(app, ["alerts", "--failed", "--json", "--config", str(path)])
    assert [row["id"] for row in json.loads(listed.output)] == [failed[0].id]
    retried = runner.invoke(app, ["alerts", "retry", str(failed[0].id), "--config", str(path)])
    assert retried.exit_code == 0, retried.output
    slack_receiver.replies.clear()
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        daemon.run_once()
    finally:
        daemon.close()
    assert [changes_in(p) for p in slack_receiver.delivered] == [
        ["rocket-site-work quiet → signalled"]
    ]
    again = runner.invoke(app, ["alerts", "retry", str(failed[0].id), "--config", str(path)])
    assert again.exit_code == 2 and "was sent" in again.output


def test_a_permanent_error_fails_at_once(tmp_path, engine, feed_server, slack_receiver):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed])
    slack_receiver.script(404)
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        feed.publish(SITE_WORK)
        report = daemon.run_once()
        clock.advance(hours=1)
        daemon.run_once()
    finally:
        daemon.close()
    assert report.failed_deliveries == 1 and len(slack_receiver.attempts) == 1
    assert deliveries(engine) == [("rocket-site-work", "slack", "failed")]


def test_alert_on_and_max_age_skip_changes_with_a_reason(tmp_path, engine, feed_server):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed])
    data = config.model_dump(exclude={"path"})
    data["indicators"][0]["alert_on"] = ["confirmed"]  # rocket-site-work: not on signalled
    config = type(config).model_validate(data)
    daemon = make_daemon(engine, config, [], clock)
    try:
        feed.publish(SITE_WORK, ICBM)
        daemon.poll(report := daemon.run_once())
    finally:
        daemon.close()
    with Session(engine) as session:
        assert decide(session, config, ["slack"], clock()) == []  # every change is decided once
        alerts = {a.subject: a.skipped for a in session.exec(select(Alert))}
    assert alerts == {
        "rocket-site-work": "alert_on excludes signalled",
        "test-freeze": "no channel configured",
    }
    assert report.queued == 0


def test_message_key_is_stable_and_per_channel():
    assert message_key("slack", [3, 1, 2]) == message_key("slack", [1, 2, 3])
    assert message_key("slack", [1, 2]) != message_key("email", [1, 2])
    assert message_key("slack", [1, 2]) != message_key("slack", [1, 2, 3])


def test_feed_health_tells_once_when_failing_and_once_on_recovery(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed.publish("Weather in Pyongyang")
    config = tracker(tmp_path, [feed], "  feed_failures: 2\n  feed_silent_after: 30d\n")
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        daemon.run_once()
        feed_server.route("/news.xml", "down", status=500)
        for _ in range(5):  # backoff stretches the waits: 10m, 20m, 40m...
            clock.advance(hours=2)
            daemon.run_once()
        feed.publish("Weather again")  # the feed answers again
        clock.advance(hours=3)
        daemon.run_once()
        clock.advance(hours=3)
        daemon.run_once()
    finally:
        daemon.close()
    titles = [p["text"].splitlines()[0] for p in slack_receiver.delivered]
    assert titles == [
        "feed Feed 0 is failing: 2 polls in a row",
        "feed Feed 0 recovered (was failing since 2019-03-10 16:00 UTC)",
    ]


def test_a_feed_silent_past_its_period_is_reported_once(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed.publish("Weather in Pyongyang")
    config = tracker(tmp_path, [feed], "  feed_silent_after: 1d\n")
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        for _ in range(6):
            daemon.run_once()
            clock.advance(hours=12)
    finally:
        daemon.close()
    assert [p["text"].splitlines()[0] for p in slack_receiver.delivered] == [
        "feed Feed 0 is silent: no new entry since 2019-03-10 12:00 UTC"
    ]


def test_reminder_goes_out_once_when_a_window_is_about_to_close(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock(datetime(2019, 1, 20, 12, 0, tzinfo=UTC))  # summit: hawk's window ends 01-31
    feed = GrowingFeed(feed_server)
    feed.publish("Weather in Pyongyang")
    config = tracker(tmp_path, [feed], "  reminder_days: 14\n", open_windows=False)
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        for _ in range(3):
            daemon.run_once()
            clock.advance(hours=6)
    finally:
        daemon.close()
    lines = [line for p in slack_receiver.delivered for line in p["text"].splitlines()[:1]]
    assert lines == ["summit: the window of hawk closes on 2019-01-31 (in 10 days)"]


def _claim_by(engine, worker_id: int) -> None:
    """Leave the pending deliveries as a daemon leaves them when killed in the middle of a send."""
    with Session(engine) as session:
        for delivery in session.exec(select(Delivery).where(Delivery.status == "pending")):
            delivery.claimed_by, delivery.claimed_at = worker_id, START
            session.add(delivery)
        session.commit()


def test_a_send_cut_off_by_a_crash_is_resent_and_flagged(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed], "  group_wait: 1h\n")
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        feed.publish(SITE_WORK)
        daemon.run_once(flush=False)  # queued, held by the group wait
        _claim_by(engine, 424242)  # a daemon that died while sending it
        report = daemon.run_once()
    finally:
        daemon.close()
    assert report.deliveries[0].resumed == 1 and len(slack_receiver.delivered) == 1
    with Session(engine) as session:
        delivery = session.exec(select(Delivery)).one()
    assert (delivery.status, delivery.interrupted, delivery.claimed_by) == ("sent", 1, None)
    assert "may arrive twice" in (delivery.note or "")


@pytest.mark.parametrize("then", ["retry", "second crash before its attempt"])
def test_a_cut_off_message_stays_that_message_until_it_is_sent(
    tmp_path, engine, feed_server, slack_receiver, then
):
    """The sink may hold the cut-off message: it must get it again as it was (same key, same
    change), not have a later change of the same indicator stand in for it. The rule held
    for one cycle only: a retry or a second crash made the cut-off delivery look new, and the
    later change replaced it with text stored before that (so "quiet → signalled" was lost)."""
    clock = Clock()
    a, b = GrowingFeed(feed_server, "/a.xml"), GrowingFeed(feed_server, "/b.xml")
    config = tracker(tmp_path, [a, b], "  retry_first: 1m\n  retry_max: 1m\n")
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        a.publish(SITE_WORK, source="Wire A")
        slack_receiver.script(500)
        daemon.run_once()  # tried once, to be retried
        if then == "retry":
            _claim_by(engine, 424242)  # the retry's attempt is cut off by a crash
            b.publish(SITE_WORK_2, source="Wire B")  # a later change: signalled → confirmed
            clock.advance(minutes=11)
            slack_receiver.script(500)
            daemon.run_once()  # the resend fails; the newer message waits behind it
        else:
            with Session(engine) as session:  # as a daemon leaves it that took over the cut-off
                delivery = session.exec(select(Delivery)).one()  # send, composed its resend
                delivery.interrupted = 1  # and died before the attempt
                delivery.claimed_by, delivery.claimed_at = 434343, None
                session.add(delivery)
                session.commit()
            b.publish(SITE_WORK_2, source="Wire B")
        clock.advance(minutes=11)
        daemon.run_once()
    finally:
        daemon.close()
    first = slack_receiver.attempts[0]
    assert [changes_in(p) for p in slack_receiver.delivered] == [
        ["rocket-site-work quiet → signalled"],
        ["rocket-site-work signalled → confirmed"],
    ]
    assert slack_receiver.delivered[0] == first  # the very message first tried
    with Session(engine) as session:
        rows = session.exec(select(Delivery).order_by(Delivery.id)).all()
    assert [(d.status, d.interrupted) for d in rows] == [("sent", 1), ("sent", 0)]
    assert rows[0].message_key == message_key("slack", [rows[0].alert_id])


def test_deliveries_a_live_daemon_is_sending_are_left_to_it(
    tmp_path, engine, feed_server, slack_receiver
):
    if engine.dialect.name != "postgresql":
        pytest.skip("one daemon per SQLite database: every claim found there is stale")
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed], "  group_wait: 1h\n")
    other = Daemon(engine, config, [])
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        other.acquire()
        feed.publish(SITE_WORK)
        daemon.run_once(flush=False)
        _claim_by(engine, other.worker.id)
        daemon.run_once()
        assert slack_receiver.delivered == []  # the other daemon is alive: its send stands
        other.close()  # ...until it dies
        daemon.run_once()
    finally:
        other.close()
        daemon.close()
    assert len(slack_receiver.delivered) == 1


def test_a_split_batch_keeps_the_rate_limit_one_message_per_interval(
    tmp_path, engine, feed_server, smtp_server
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed], "  channels:\n    email: {min_interval: 1h}\n")
    one_change_a_mail = EmailChannel(smtp_server.url(), SENDER, RECIPIENTS, max_changes=1)
    daemon = make_daemon(engine, config, [one_change_a_mail], clock)
    try:
        feed.publish(SITE_WORK, ICBM)
        daemon.run_once()
        assert len(smtp_server.received) == 1
        clock.advance(minutes=30)
        report = daemon.run_once()
        assert report.deliveries[0].held == "rate limit: one message per 1h"
        clock.advance(minutes=31)
        daemon.run_once()
    finally:
        daemon.close()
    subjects = [m.message["Subject"] for m in smtp_server.received]
    assert subjects == ["[watch] test-freeze → broken", "[watch] rocket-site-work → signalled"]
    assert deliveries(engine) == [
        ("rocket-site-work", "email", "sent"),
        ("test-freeze", "email", "sent"),
    ]


def test_a_claim_whose_attempt_never_began_is_taken_back_without_a_warning(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed], "  group_wait: 1h\n")
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    try:
        feed.publish(SITE_WORK)
        daemon.run_once(flush=False)
        with Session(engine) as session:  # composed by a daemon that died before sending
            for delivery in session.exec(select(Delivery)):
                delivery.claimed_by, delivery.message_key = 424242, "watch-composed"
                session.add(delivery)
            session.commit()
        report = daemon.run_once()
    finally:
        daemon.close()
    assert report.deliveries[0].resumed == 0 and len(slack_receiver.delivered) == 1
    with Session(engine) as session:
        delivery = session.exec(select(Delivery)).one()
    assert (delivery.status, delivery.interrupted, delivery.attempts) == ("sent", 0, 1)
    assert delivery.note is None
