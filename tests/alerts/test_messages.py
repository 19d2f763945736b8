"""Messages: a backlog is split into as many messages as each channel's limits need, every
change shown in full in exactly one delivered message, and which message carried which
change is stored; the most serious change leads a batch. Real SMTP (aiosmtpd), the local
Slack receiver, real feeds over loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from tests.support.alerting import (
    ICBM,
    SENDER,
    SITE_WORK,
    Clock,
    GrowingFeed,
    email_channel,
    make_daemon,
    slack_channel,
    tracker,
    write_tracker,
)
from tests.support.rss import item, rss
from watch.alerts.channels import Change, Message
from watch.alerts.channels.email import message_id
from watch.alerts.channels.message import changes_subject
from watch.config import load_config
from watch.locks import worker_is_alive
from watch.queries import list_deliveries
from watch.schema import Alert, Delivery, OutgoingMessage, StateChange

BACKLOG = 200


def backlog_tracker(folder, feed_url: str) -> str:
    """A tracker with BACKLOG event indicators, each matched by a code word of its own."""
    indicators = "".join(
        f"""
  - id: topic-{n:03d}
    title: Topic {n:03d}
    description: Reports on code{n:03d}.
    kind: event
    forecasts:
      hawk: {{p: 0.7, why: test}}
      dove: {{p: 0.3, why: test}}
    match:
      - name: code
        any: [code{n:03d}]
"""
        for n in range(BACKLOG)
    )
    text = f"""
tracker: {{id: backlog, title: Backlog test}}
defaults: {{corroboration: 2, interval: 10m, window_days: 36500}}
readings:
  - {{id: hawk, title: H, author: A, source: h.txt, published: 2019-01-01, summary: s}}
  - {{id: dove, title: D, author: B, source: d.txt, published: 2019-02-01, summary: s}}
indicators:{indicators}
feeds:
  - name: Wire
    url: {feed_url}
alerts:
  recipients: [analyst@example.org, desk@example.org]
  retry_first: 1m
  retry_max: 5m
  feed_silent_after: null
  reminder_days: 0
scorecard: {{schedule: null}}
"""
    path = folder / "tracker.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def headline(n: int) -> str:
    return f"Field report {n:03d} on code{n:03d} activity"


def test_a_backlog_behind_an_outage_arrives_whole_one_message_per_change(
    tmp_path, engine, feed_server, smtp_server, slack_receiver
):
    clock = Clock()
    feed_server.route("/wire.xml", rss(*[item(headline(n), guid=f"g{n}") for n in range(BACKLOG)]))
    config = load_config(backlog_tracker(tmp_path, feed_server.url("/wire.xml")))
    smtp_server.data_reply = "451 4.3.0 try again later"  # the outage
    slack_receiver.script(*[500] * 3)
    channels = [email_channel(smtp_server), slack_channel(slack_receiver, clock)]
    daemon = make_daemon(engine, config, channels, clock)
    try:
        for _ in range(3):
            daemon.run_once()
            clock.advance(minutes=6)
        assert smtp_server.received == [] and slack_receiver.delivered == []
        smtp_server.data_reply = None  # the server is back
        for _ in range(4):
            daemon.run_once()
            clock.advance(minutes=6)
    finally:
        daemon.close()

    topics = {f"topic-{n:03d}": headline(n) for n in range(BACKLOG)}
    mails = {m.message["Message-ID"]: m.part("text/plain") for m in smtp_server.received}
    assert len(mails) == len(smtp_server.received)  # no mail twice
    seen: Counter[str] = Counter()
    for body in mails.values():
        shown = re.findall(r"\((topic-\d+)\)\n", body)
        assert 0 < len(shown) <= 25
        assert "more changes" not in body and "more pieces" not in body
        for topic in shown:
            assert topics[topic] in body  # with its evidence, in the same mail
        seen.update(shown)
    assert seen == Counter(list(topics))  # every change exactly once

    assert slack_receiver.rejected == []
    seen = Counter()
    for payload in slack_receiver.delivered:
        dumped = json.dumps(payload, ensure_ascii=False)
        shown = re.findall(r"\(`(topic-\d+)`\)", dumped)
        assert 0 < len(shown) <= 10 and " more " not in dumped
        for topic in shown:
            assert topics[topic] in dumped
            assert topic in payload["text"]  # the notification names it too
        seen.update(shown)
    assert seen == Counter(list(topics))

    print(
        f"\nbacklog of {BACKLOG} changes: {len(mails)} mails, "
        f"{len(slack_receiver.delivered)} Slack messages"
    )
    with Session(engine) as session:
        rows = session.exec(
            select(Delivery, StateChange)
            .join(Alert, Alert.id == Delivery.alert_id)
            .join(StateChange, StateChange.id == Alert.state_change_id)
        )
        carried = [(d, c.indicator_id) for d, c in rows]
        stored = {m.key: m for m in session.exec(select(OutgoingMessage))}
    assert len(carried) == 2 * BACKLOG
    for delivery, topic in carried:
        assert delivery.status == "sent"
        message = Message.from_json(stored[delivery.message_key].content)
        assert topic in [c.indicator_id for c in message.changes]
        if delivery.channel == "email":  # the stored key is the mail that carried it
            assert f"({topic})\n" in mails[message_id(delivery.message_key, SENDER)]


def change(indicator: str, new_state: str, old_state: str | None = None) -> Change:
    return Change(indicator, indicator, old_state, new_state, {}, {})


@pytest.mark.parametrize(
    ("changes", "subject"),
    [
        (
            [change("missile-test", "signalled"), change("test-freeze", "broken")],
            "test-freeze → broken (+1 more)",
        ),
        (
            [change("site-work", "signalled"), change("summit", "confirmed")],
            "summit → confirmed (+1 more)",
        ),
        (
            [change("summit", "resolved"), change("talks", "reopened"), change("a", "signalled")],
            "talks → reopened (+2 more)",
        ),
        ([change("a", "signalled"), change("b", "resolved")], "a → signalled (+1 more)"),
        ([change("a", "quiet", "signalled"), change("b", "resolved")], "b → resolved (+1 more)"),
        ([change("a", "confirmed"), change("b", "broken")], "a → confirmed (+1 more)"),
    ],
)
def test_the_subject_names_the_most_serious_change(changes, subject):
    assert changes_subject(changes) == subject
    message = Message.for_changes("k", changes)
    assert message.subject == subject
    assert f"{message.changes[0].indicator_id} → {message.changes[0].new_state}" in subject


def test_a_batch_leads_with_the_broken_condition_on_every_channel(
    tmp_path, engine, feed_server, smtp_server, slack_receiver
):
    clock = Clock()
    feed = GrowingFeed(feed_server)
    config = tracker(tmp_path, [feed])
    channels = [email_channel(smtp_server), slack_channel(slack_receiver, clock)]
    daemon = make_daemon(engine, config, channels, clock)
    try:
        feed.publish(ICBM, SITE_WORK)  # signalled and broken, in one batch, signalled first
        daemon.run_once()
    finally:
        daemon.close()
    [mail] = smtp_server.received
    assert mail.message["Subject"] == "[watch] test-freeze → broken (+1 more)"
    body = mail.part("text/plain")
    assert body.index("(test-freeze)") < body.index("(rocket-site-work)")
    [payload] = slack_receiver.delivered
    assert payload["blocks"][0]["text"]["text"] == "test-freeze → broken (+1 more)"


WATCH = str(Path(sys.executable).parent / "watch")


def wait_until_dead(engine) -> None:
    """Wait (a minute at most) until PostgreSQL has noticed that the killed daemon is gone:
    its server process drops the daemon's lock only once it reads the closed connection,
    and a claim whose daemon still holds its lock is left to that daemon."""
    with Session(engine) as session:
        claimers = {d.claimed_by for d in session.exec(select(Delivery)) if d.claimed_by}
    deadline = time.monotonic() + 60
    while any(worker_is_alive(engine, w) for w in claimers) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_send_cut_off_by_a_crash_goes_out_again_unchanged_and_alone(
    tmp_path, database_url, engine, feed_server, smtp_server
):
    feed = GrowingFeed(feed_server)
    path = write_tracker(tmp_path, [feed.url], open_windows=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WATCH_")},
        "WATCH_DATABASE_URL": database_url,
        "WATCH_SMTP_URL": smtp_server.url(),
        "WATCH_MAIL_FROM": SENDER,
    }
    feed.publish(SITE_WORK)
    smtp_server.reply_delay = 60  # the mail arrives; the reply never reaches watch
    run = subprocess.Popen(
        [WATCH, "run", "--once", "--config", str(path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not smtp_server.received and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        run.send_signal(signal.SIGKILL)  # the crash: after the sink had it, before the record
        run.wait(30)
    assert len(smtp_server.received) == 1
    smtp_server.reply_delay = 0
    if engine.dialect.name == "postgresql":
        wait_until_dead(engine)

    with engine.begin() as connection:
        connection.execute(text("UPDATE feed SET next_poll_at = NULL"))
    feed.publish(ICBM)  # a newer alert: it must not join the re-send
    clock = Clock(datetime.now(UTC))
    daemon = make_daemon(engine, load_config(path), [email_channel(smtp_server)], clock)
    try:
        report = daemon.run_once()
    finally:
        daemon.close()

    first, again, newer = smtp_server.received
    for header in ("Message-ID", "Subject"):
        assert again.message[header] == first.message[header]
    for part in ("text/plain", "text/html"):
        assert again.part(part) == first.part(part)
    assert "(rocket-site-work)" in again.part("text/plain")
    assert "(test-freeze)" not in again.part("text/plain")
    assert "(test-freeze)" in newer.part("text/plain")
    assert "(rocket-site-work)" not in newer.part("text/plain")
    assert newer.message["Message-ID"] != first.message["Message-ID"]
    assert report.deliveries[0].resumed == 1
    with Session(engine) as session:
        shown = {d.title.split(":")[0]: d for d in list_deliveries(session)}
    resent = shown["rocket-site-work"]
    assert (resent.status, resent.attempts) == ("sent", 2)  # the cut-off try counts
    assert "may arrive twice" in (resent.note or "")
    assert message_id(resent.message_key or "", SENDER) == first.message["Message-ID"]
    assert (shown["test-freeze"].status, shown["test-freeze"].attempts) == ("sent", 1)


def test_a_stored_message_reads_back_equal():
    from watch.alerts.channels import EvidenceLine

    line = EvidenceLine("Headline & <more>", "Wire", datetime(2019, 3, 7, 14, 5, tzinfo=UTC), None)
    first = Message.for_changes(
        "watch-1",
        [
            Change(
                "a", "A", "quiet", "confirmed", {"hawk": 0.7}, {"hawk": True}, (line,), "evidence"
            )
        ],
        tally={"hawk": 0.6},
        url="https://desk.example.org",
    )
    notice = Message(key="watch-2", subject="s", kind=first.kind, lines=("one", "two"))
    for message in (first, notice):
        assert Message.from_json(message.as_json()) == message
