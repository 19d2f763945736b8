"""The daemon end to end: real feeds on loopback, real SMTP (aiosmtpd), a Slack stand-in,
SQLite and PostgreSQL; the clock is moved, never slept on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from ruamel.yaml import YAML
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.support.alerting import (
    ICBM,
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
from tests.support.paths import ROOT
from tests.support.rss import item, rss
from watch.cli import app
from watch.config import load_config
from watch.daemon import CycleReport, Daemon
from watch.errors import DaemonAlreadyRunning
from watch.schema import Delivery


def test_run_once_sends_one_grouped_alert_per_channel(
    tmp_path: Path, database_url, feed_server, smtp_server, slack_receiver, monkeypatch
):
    feed = GrowingFeed(feed_server)
    feed.publish("Weather in Pyongyang", SITE_WORK, ICBM)
    path = write_tracker(tmp_path, [feed.url], "  group_wait: 5m\n", open_windows=True)
    monkeypatch.setenv("WATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("WATCH_SMTP_URL", smtp_server.url())
    monkeypatch.setenv("WATCH_MAIL_FROM", SENDER)
    monkeypatch.setenv("WATCH_SLACK_WEBHOOK_URL", slack_receiver.webhook_url)
    runner = CliRunner()

    first = runner.invoke(app, ["run", "--once", "--config", str(path)])
    assert first.exit_code == 0, first.output
    assert "2 state changes" in first.output and "4 delivered" in first.output

    assert len(smtp_server.received) == 1 and len(slack_receiver.delivered) == 1
    mail = smtp_server.received[0]
    assert sorted(mail.rcpt_tos) == ["analyst@example.org", "desk@example.org"]
    assert mail.message["Subject"] == "[watch] test-freeze → broken (+1 more)"
    text = mail.part("text/plain")
    assert "quiet → signalled" in text and "holding → broken" in text
    assert SITE_WORK in text and "hawk forecast 0.80" in text
    assert "<strong>" in mail.part("text/html")
    assert sorted(changes_in(slack_receiver.delivered[0])) == [
        "rocket-site-work quiet → signalled",
        "test-freeze holding → broken",
    ]

    again = runner.invoke(app, ["run", "--once", "--config", str(path)])
    assert again.exit_code == 0, again.output
    assert len(smtp_server.received) == 1 and len(slack_receiver.delivered) == 1

    listed = runner.invoke(app, ["alerts", "--sent", "--json", "--config", str(path)])
    rows = json.loads(listed.output)
    assert sorted((r["channel"], r["subject"]) for r in rows) == [
        ("email", "rocket-site-work"),
        ("email", "test-freeze"),
        ("slack", "rocket-site-work"),
        ("slack", "test-freeze"),
    ]
    assert "xoxsecret" not in listed.output


def test_feed_gaining_a_matching_entry_alerts_once_per_channel(
    tmp_path, engine, feed_server, smtp_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed.publish("Weather in Pyongyang")
    config = tracker(tmp_path, [feed])
    daemon = make_daemon(
        engine, config, [email_channel(smtp_server), slack_channel(slack_receiver, clock)], clock
    )
    try:
        quiet = daemon.run_once()
        assert quiet.new_entries == 1 and quiet.queued == 0
        feed.publish(SITE_WORK)
        clock.advance(minutes=11)
        report = daemon.run_once()
        assert (report.new_entries, report.changes, report.queued) == (1, 1, 1)
        for _ in range(3):
            clock.advance(minutes=11)
            daemon.run_once()
    finally:
        daemon.close()
    assert len(smtp_server.received) == 1
    assert [changes_in(p) for p in slack_receiver.delivered] == [
        ["rocket-site-work quiet → signalled"]
    ]


def test_slack_errors_then_recovery_deliver_every_alert_exactly_once(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed], "  retry_first: 1m\n  retry_max: 10m\n")
    slack_receiver.script(500, (429, 120), "hang", 503)
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    published = [SITE_WORK, ICBM, SITE_WORK_2]
    try:
        for title in published:  # a new change each cycle while Slack misbehaves
            feed.publish(title, source=f"src{len(feed.items)}")
            daemon.run_once()
            clock.advance(minutes=11)
        for _ in range(8):  # Slack is back: the clock passes every backoff and Retry-After
            daemon.run_once()
            clock.advance(minutes=11)
    finally:
        daemon.close()
    assert len(slack_receiver.attempts) >= 5  # the four failures were really tried
    delivered = sorted(c for p in slack_receiver.delivered for c in changes_in(p))
    assert delivered == [
        "rocket-site-work quiet → confirmed",  # signalled was superseded while Slack was down
        "test-freeze holding → broken",
    ]
    with Session(engine) as session:
        rows = session.exec(select(Delivery)).all()
    assert {r.status for r in rows} <= {"sent", "superseded"}
    assert sum(r.status == "sent" for r in rows) == len(delivered)


def test_second_daemon_on_one_sqlite_database_refuses_to_start(tmp_path, feed_server):
    from watch.db import open_database

    feed = GrowingFeed(feed_server)
    feed.publish("Weather in Pyongyang")
    config = tracker(tmp_path, [feed])
    engine = open_database(f"sqlite:///{tmp_path / 'watch.db'}")
    first, second = Daemon(engine, config, []), Daemon(engine, config, [])
    try:
        first.acquire()
        with pytest.raises(DaemonAlreadyRunning, match="one daemon per SQLite database"):
            second.acquire()
        first.release()
        second.acquire()  # the lock is free again once the first lets go
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_run_logs_one_line_per_poll_and_per_alert_without_secrets(
    tmp_path, engine, feed_server, slack_receiver, caplog
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed.publish(SITE_WORK)
    config = tracker(tmp_path, [feed])
    slack_receiver.script(500)
    daemon = make_daemon(engine, config, [slack_channel(slack_receiver, clock)], clock)
    with caplog.at_level(logging.INFO, logger="watch"):
        try:
            daemon.run_once()
            clock.advance(minutes=5)
            daemon.run_once()
        finally:
            daemon.close()
    lines = [r.getMessage() for r in caplog.records]
    assert any(f"feed={feed.url} result=ok" in line for line in lines)
    assert any(
        "indicator=rocket-site-work state=signalled channel=slack status=retry" in line
        for line in lines
    )
    assert any("channel=slack status=sent" in line for line in lines)
    assert not any("xoxsecret" in line for line in lines)


def test_started_daemon_polls_delivers_beats_and_stops_cleanly(
    tmp_path, engine, feed_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed.publish(SITE_WORK)
    config = tracker(tmp_path, [feed], "  group_wait: 1s\n")
    heartbeat = tmp_path / "heartbeat"
    daemon = Daemon(
        engine,
        config,
        [slack_channel(slack_receiver, clock)],
        clock=clock,
        tick=timedelta(seconds=0.1),
        deliver_tick=timedelta(seconds=0.1),
        heartbeat=heartbeat,
    )
    daemon.start()
    try:
        # waits for the jobs' threads (up to a minute of real time on a slow machine);
        # asserts nothing about time
        deadline = time.monotonic() + 60
        while not slack_receiver.delivered and time.monotonic() < deadline:
            if clock.now < START + timedelta(seconds=5):  # well past group_wait (1s)
                clock.advance(seconds=0.2)
            time.sleep(0.05)
    finally:
        daemon.stop()
    assert [changes_in(p) for p in slack_receiver.delivered] == [
        ["rocket-site-work quiet → signalled"]
    ]
    assert heartbeat.exists()


def test_deploy_files_restart_run_unprivileged_and_check_health():
    deploy = ROOT / "deploy"
    unit = (deploy / "watch.service").read_text()
    assert "Restart=on-failure" in unit and "EnvironmentFile=/etc/watch/watch.env" in unit
    assert "ExecStart=" in unit and "watch run" in unit and "User=watch" in unit
    docker = (deploy / "Dockerfile").read_text()
    assert "FROM python:3.12-slim" in docker and "USER watch" in docker
    assert "HEALTHCHECK" in docker and "WATCH_HEARTBEAT" in docker
    compose = YAML(typ="safe").load((deploy / "compose.yaml").read_text())
    assert set(compose["services"]) == {"db", "watch", "web"}
    assert compose["services"]["watch"]["depends_on"]["db"]["condition"] == "service_healthy"
    web = compose["services"]["web"]
    assert web["command"][0] == "serve" and web["ports"] == ["127.0.0.1:8080:8080"]
    assert web["depends_on"]["db"]["condition"] == "service_healthy"
    web_unit = (deploy / "watch-web.service").read_text()
    assert "watch serve" in web_unit and "--host 127.0.0.1" in web_unit
    assert "User=watch" in web_unit and "EnvironmentFile=/etc/watch/watch.env" in web_unit
    example = (deploy / "watch.env.example").read_text()
    for name in ("WATCH_DATABASE_URL", "WATCH_SMTP_URL", "WATCH_SLACK_WEBHOOK_URL"):
        assert f"{name}=" in example
    assert "WATCH_WEB_TOKEN=" in example


def test_alerts_test_reports_each_channel_and_never_prints_a_secret(
    tmp_path, make_smtp_server, slack_receiver, monkeypatch
):
    smtp = make_smtp_server(auth=("watch", "s3cret-pass"))
    path = write_tracker(tmp_path, [])
    monkeypatch.setenv("WATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'watch.db'}")
    monkeypatch.setenv("WATCH_SMTP_URL", smtp.url(password="wrong-pass-123"))
    monkeypatch.setenv("WATCH_MAIL_FROM", SENDER)
    monkeypatch.setenv("WATCH_SLACK_WEBHOOK_URL", slack_receiver.webhook_url)
    runner = CliRunner()

    result = runner.invoke(app, ["alerts", "test", "--json", "--config", str(path)])
    assert result.exit_code == 1
    outcome = {row["channel"]: row for row in json.loads(result.stdout)}
    assert outcome["slack"] == {"channel": "slack", "ok": True, "error": None}
    assert outcome["email"]["ok"] is False and "535" in outcome["email"]["error"]
    assert "wrong-pass-123" not in result.output and "xoxsecret" not in result.output
    assert slack_receiver.delivered[0]["text"].startswith("test message")

    monkeypatch.setenv("WATCH_SMTP_URL", smtp.url())
    only_email = runner.invoke(app, ["alerts", "test", "email", "--config", str(path)])
    assert only_email.exit_code == 0 and only_email.output == "email: sent\n"
    assert len(smtp.received) == 1 and len(slack_receiver.delivered) == 1
    missing = runner.invoke(app, ["alerts", "test", "teams", "--config", str(path)])
    assert missing.exit_code == 2 and "no channel 'teams'" in missing.output


def test_feed_text_is_escaped_in_mail_html_and_in_slack(
    tmp_path, engine, feed_server, smtp_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed.publish("Sohae construction grows: cost < $5m & rising -> fast")
    config = tracker(tmp_path, [feed])
    daemon = make_daemon(
        engine, config, [email_channel(smtp_server), slack_channel(slack_receiver, clock)], clock
    )
    try:
        daemon.run_once()
    finally:
        daemon.close()
    html = smtp_server.received[0].part("text/html")
    assert "cost &lt; $5m &amp; rising -&gt; fast" in html and "< $5m" not in html
    slack = json.dumps(slack_receiver.delivered[0])
    assert "cost &lt; $5m &amp; rising -&gt; fast" in slack and "< $5m" not in slack


def test_scorecard_job_queues_one_scorecard_a_day_sent_as_its_own_mail(
    tmp_path, engine, feed_server, smtp_server
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed.publish(SITE_WORK)
    config = tracker(tmp_path, [feed])
    daemon = make_daemon(engine, config, [email_channel(smtp_server)], clock)
    try:
        daemon.poll(CycleReport())
        daemon.queue_scorecard()
        daemon.queue_scorecard()  # the same day: still one
        daemon.run_once()  # the scorecard goes alone, the change follows
        daemon.run_once()
    finally:
        daemon.close()
    subjects = [m.message["Subject"] for m in smtp_server.received]
    assert len(subjects) == 2
    assert subjects[0].startswith("[watch] scorecard Test tracker")
    assert subjects[1] == "[watch] rocket-site-work → signalled"
    mailed = smtp_server.received[0].part("text/html")
    assert "<svg" in mailed
    # the page was rendered when queued, and saved once under scorecard.reports
    saved = sorted(p.name for p in (tmp_path / "reports").iterdir())
    day = clock().date().isoformat()
    assert saved == [f"scorecard-test-tracker-{day}.{ext}" for ext in ("html", "json", "md")]
    page = (tmp_path / "reports" / f"scorecard-test-tracker-{day}.html").read_text()
    assert "<svg" in page and "Test tracker" in page


def test_scorecard_reports_null_saves_nothing(tmp_path, engine, smtp_server):
    from watch.config import ScorecardSchedule

    config = load_config(write_tracker(tmp_path, []))
    config = config.model_copy(update={"scorecard": ScorecardSchedule(reports=None)})
    daemon = make_daemon(engine, config, [email_channel(smtp_server)], Clock())
    try:
        daemon.queue_scorecard()
        daemon.run_once()
    finally:
        daemon.close()
    assert len(smtp_server.received) == 1
    assert not (tmp_path / "reports").exists()


def test_two_daemons_on_postgresql_never_poll_one_feed_at_once(tmp_path, engine, feed_server):
    if engine.dialect.name != "postgresql":
        pytest.skip("several daemons share only a PostgreSQL database")
    clock = Clock()
    feed = GrowingFeed(feed_server)
    feed_server.route("/news.xml", rss(item(SITE_WORK, guid="g1")), delay=0.5)
    config = tracker(tmp_path, [feed])
    daemons = [make_daemon(engine, config, [], clock) for _ in range(2)]
    reports = [CycleReport(), CycleReport()]
    try:
        for daemon in daemons:
            daemon.acquire()
        threads = [
            threading.Thread(target=d.poll, args=(r,))
            for d, r in zip(daemons, reports, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for daemon in daemons:
            daemon.close()
    assert len(feed_server.requests_to("/news.xml")) == 1
    assert sorted(r.polled for r in reports) == [0, 1]


def test_a_slow_poll_is_reported_once_not_on_every_tick(
    tmp_path, engine, feed_server, slack_receiver, caplog
):
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed])
    feed_server.route("/news.xml", rss(item(SITE_WORK, guid="g1")), delay=1.5)
    daemon = Daemon(engine, config, [], tick=timedelta(seconds=0.05))
    slow_poll_ended = threading.Event()
    busy: list[str] = []  # the busy lines logged while the first (slow) poll ran

    def on_poll_executed(event: JobExecutionEvent) -> None:
        # Counted when the slow poll ends, not when the daemon stops: a later, quick poll
        # that outlasts one 0.05 s tick on a loaded machine is rightly reported busy too.
        if event.job_id == "poll" and not slow_poll_ended.is_set():
            messages = [r.getMessage() for r in caplog.records]
            busy.extend(line for line in messages if "job=poll result=busy" in line)
            slow_poll_ended.set()

    with caplog.at_level(logging.INFO):
        daemon.start()
        try:
            daemon._scheduler.add_listener(on_poll_executed, EVENT_JOB_EXECUTED)
            assert slow_poll_ended.wait(60)  # the slow poll takes 1.5 s
        finally:
            daemon.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert not any("maximum number of running instances" in line for line in lines)
    assert len(busy) == len(feed_server.requests_to("/news.xml")) == 1


def test_an_apprise_failure_is_one_line_from_watch(tmp_path, feed_server):
    """`watch run` as a user runs it: Apprise's own ERROR line stays out of the log."""
    feed = GrowingFeed(feed_server)
    feed_server.route("/hook", "down", status=500)
    path = write_tracker(tmp_path, [feed.url], open_windows=True)
    feed.publish(SITE_WORK)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WATCH_")},
        "WATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'watch.db'}",
        "WATCH_APPRISE_URLS": feed_server.url("/hook").replace("http://", "json://"),
    }
    watch = str(Path(sys.executable).parent / "watch")
    run = subprocess.run(
        [watch, "run", "--once", "--config", str(path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert not any(" apprise " in line for line in lines), lines
    failures = [line for line in lines if "JSON FAILURE" in line or "Failed to send" in line]
    assert len(failures) == 1 and " watch.alerts " in failures[0], lines
    assert "status=retry" in failures[0]
