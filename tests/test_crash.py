"""Crash safety: `watch run` as a subprocess, killed with SIGKILL at random points of polling
and delivery, restarted, again and again; then nothing stored may be missing and no alert may
reach a receiver twice unless the daemon flagged that very delivery as cut off mid-send (the
documented at-least-once window). On PostgreSQL two daemons run at once.

Each round publishes new entries (an ETag change each time, so a lost entry would stay lost
behind a 304), clears the feeds' next poll time while no daemon runs, starts the daemon(s),
waits for a start and then for a log line chosen at random (polled, queued, recorded as sent;
or a random time), plus a random delay, and kills. A last round runs to completion and stops
on SIGTERM, which must exit 0. Run with `-s` to see the counts.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from tests.support.rss import item, rss
from watch.db import make_engine, upgrade
from watch.schema import Alert, Delivery, Entry, Evidence, IndicatorState, StateChange

pytestmark = pytest.mark.slow

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
    "kilo",
    "lima",
]
# Each round brings one indicator one step up. SQLite: 24 rounds, one daemon, 24 kills;
# PostgreSQL: 14 rounds, two daemons, 28 kills.
ROUNDS = {"sqlite": 24, "postgresql": 14}
WATCH = str(Path(sys.executable).parent / "watch")
# Where to kill: after this log line, plus a random delay in this range (seconds).
TARGETS: dict[str, tuple[str | None, tuple[float, float]]] = {
    "started": (r"daemon started", (0.0, 0.02)),
    "polled": (r"feed=\S+ result=", (0.0, 0.02)),
    "queued": (r"alert=change:\d+ kind=change", (0.0, 0.02)),
    "delivering": (r"alert=change:\d+ kind=change", (0.2, 1.0)),  # group wait, then sends
    "recorded": (r"channel=\S+ status=sent", (0.0, 0.02)),
    "any time": (None, (0.0, 1.5)),
}
LADDER = ["quiet", "signalled", "confirmed"]


def tracker_yaml(feed_url: str) -> str:
    indicators = "".join(
        f"""
  - id: topic-{word}
    title: Topic {word}
    description: Reports on {word}.
    kind: event
    forecasts:
      hawk: {{p: 0.7, why: test}}
      dove: {{p: 0.3, why: test}}
    match:
      - name: {word}
        any: [{word}]
"""
        for word in WORDS
    )
    return f"""
tracker: {{id: crash, title: Crash test}}
defaults: {{corroboration: 2, interval: 10m, window_days: 36500}}
readings:
  - {{id: hawk, title: H, author: A, source: h.txt, published: 2019-01-01, summary: s}}
  - {{id: dove, title: D, author: B, source: d.txt, published: 2019-02-01, summary: s}}
indicators:{indicators}
feeds:
  - name: Wire
    url: {feed_url}
alerts:
  recipients: [desk@example.org]
  group_wait: 0.3s
  feed_silent_after: null
  reminder_days: 0
scorecard: {{schedule: null}}
"""


class DaemonProcess:
    """`watch run` in a subprocess, its log lines collected by a thread."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.seen = threading.Condition()
        self.proc = subprocess.Popen(
            [WATCH, "run", "--config", str(config), "--poll-every", "0.2s",
             "--deliver-every", "0.2s"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self.seen:
                self.lines.append(line.rstrip("\n"))
                self.seen.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> bool:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.seen:
            while not any(regex.search(line) for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.seen.wait(left)
        return True

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        self.reader.join(5)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code


def slack_steps(payloads: list[dict]) -> list[tuple[str, str, str]]:
    """Every (indicator, from, to) step of the ladder the Slack messages announced."""
    steps = []
    for payload in payloads:
        for block in payload["blocks"]:
            text_ = block.get("text", {}).get("text", "") if block["type"] == "section" else ""
            for indicator, old, new in re.findall(r"\(`(topic-\w+)`\)\n(\w+) → \*(\w+)\*", text_):
                steps += _ladder(indicator, old, new)
    return steps


def mail_steps(mails: list) -> list[tuple[str, str, str]]:
    steps = []
    for mail in mails:
        body = mail.part("text/plain")
        for indicator, old, new in re.findall(r"\((topic-\w+)\)\n  (\w+) → (\w+) \(", body):
            steps += _ladder(indicator, old, new)
    return steps


def _ladder(indicator: str, old: str, new: str) -> list[tuple[str, str, str]]:
    a, b = LADDER.index(old), LADDER.index(new)
    return [(indicator, LADDER[i], LADDER[i + 1]) for i in range(a, b)]


def test_kill_9_at_random_points_loses_nothing_and_sends_nothing_twice(
    tmp_path, database_url, feed_server, slack_receiver, smtp_server
):
    rng = random.Random(int(os.environ.get("WATCH_CRASH_SEED", "20190227")))
    postgres = database_url.startswith("postgresql")
    rounds = ROUNDS["postgresql" if postgres else "sqlite"]
    words = WORDS[: rounds // 2]
    engine = make_engine(database_url)
    upgrade(engine)  # two daemons starting at once must not race to create the schema
    config = tmp_path / "tracker.yaml"
    config.write_text(tracker_yaml(feed_server.url("/wire.xml")), encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WATCH_")},
        "WATCH_DATABASE_URL": database_url,
        "WATCH_SLACK_WEBHOOK_URL": slack_receiver.webhook_url,
        "WATCH_SMTP_URL": smtp_server.url(),
        "WATCH_MAIL_FROM": "watch@example.org",
    }
    items: list[str] = []
    published: list[str] = []
    matching: dict[str, str] = {}  # guid -> indicator

    def publish(round_: int) -> None:
        for n in range(2):
            guid = f"filler-{round_}-{n}"
            items.insert(0, item(f"Weather report {round_}.{n}", guid=guid, source="Wire A"))
            published.append(guid)
        if round_ < 2 * len(words):
            word, source = words[round_ // 2], ("Wire A", "Wire B")[round_ % 2]
            guid = f"match-{round_}"
            items.insert(0, item(f"New {word} developments", guid=guid, source=source))
            published.append(guid)
            matching[guid] = f"topic-{word}"
        feed_server.route("/wire.xml", rss(*items), etag=f'"v{round_}"')

    def make_due() -> None:
        with engine.begin() as connection:
            connection.execute(text("UPDATE feed SET next_poll_at = NULL"))

    kills: Counter[str] = Counter()
    procs: list[DaemonProcess] = []
    try:
        for round_ in range(rounds):
            publish(round_)
            make_due()
            procs = [DaemonProcess(config, env) for _ in range(2 if postgres else 1)]
            for proc in procs:
                target = rng.choice(list(TARGETS))
                pattern, (low, high) = TARGETS[target]
                proc.wait_for(r"daemon started", timeout=30)  # past imports and migrations
                if pattern is not None and not proc.wait_for(pattern, timeout=2.5):
                    target, low, high = "none of its lines in 2.5 s", 0.0, 0.0
                time.sleep(rng.uniform(low, high))
                proc.kill()
                kills[target] += 1
            procs = []

        if not postgres:  # while one daemon runs, a second refuses to start
            make_due()
            first = DaemonProcess(config, env)
            procs = [first]
            assert first.wait_for("daemon started", timeout=60)
            second = subprocess.run(
                [WATCH, "run", "--once", "--config", str(config)],
                env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert second.returncode == 1
            assert "one daemon per SQLite database" in second.stderr
            first.kill()

        make_due()
        procs = [DaemonProcess(config, env) for _ in range(2 if postgres else 1)]
        for proc in procs:  # SIGTERM is only handled once the daemon has started
            assert proc.wait_for(r"daemon started", timeout=60), proc.lines[-5:]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with Session(engine) as session:
                stored = len(session.exec(select(Entry)).all())
                undecided = session.exec(
                    select(StateChange).where(
                        StateChange.id.not_in(
                            select(Alert.state_change_id).where(  # type: ignore[union-attr]
                                Alert.state_change_id.is_not(None)  # type: ignore[union-attr]
                            )
                        )
                    )
                ).all()
                waiting = session.exec(select(Delivery).where(Delivery.status == "pending")).all()
            if stored == len(published) and not undecided and not waiting:
                break
            time.sleep(0.3)
        for proc in procs:
            proc.proc.send_signal(signal.SIGTERM)
        codes = [proc.finish() for proc in procs]
        procs = []
    finally:
        for proc in procs:
            proc.kill()

    with Session(engine) as session:
        guids = {e.guid for e in session.exec(select(Entry))}
        evidence = {(ev.indicator_id, ev.entry_id) for ev in session.exec(select(Evidence))}
        entry_ids = {e.guid: e.id for e in session.exec(select(Entry))}
        states = {s.indicator_id: s.state for s in session.exec(select(IndicatorState))}
        rows = session.exec(select(Delivery)).all()
    engine.dispose()

    lost_entries = set(published) - guids
    lost_evidence = [g for g, ind in matching.items() if (ind, entry_ids.get(g)) not in evidence]
    expected = Counter((f"topic-{w}", LADDER[i], LADDER[i + 1]) for w in words for i in range(2))
    report = {}
    for channel, steps in (
        ("slack", slack_steps(slack_receiver.delivered)),
        ("email", mail_steps(smtp_server.received)),
    ):
        seen = Counter(steps)
        report[channel] = {
            "messages": len(
                slack_receiver.delivered if channel == "slack" else smtp_server.received
            ),
            "steps": sum(seen.values()),
            "lost": sum((expected - seen).values()),
            # An alert sent again repeats each of its steps once: count it once.
            "duplicates": sum(
                max(n for (ind, *_), n in (seen - expected).items() if ind == indicator)
                for indicator in {ind for ind, *_ in seen - expected}
            ),
            "flagged": sum(r.interrupted for r in rows if r.channel == channel),
        }
    print(
        f"\ncrash test on {'PostgreSQL, two daemons' if postgres else 'SQLite'}: "
        f"{sum(kills.values())} kills {dict(kills)}; entries published {len(published)}, "
        f"lost {len(lost_entries)}; evidence lost {len(lost_evidence)}; alerts {report}"
    )
    assert codes == [0] * len(codes)  # SIGTERM: a clean stop
    assert not lost_entries and not lost_evidence
    assert {i for i, state in states.items() if state == "confirmed"} == {
        f"topic-{w}" for w in words
    }
    assert {r.status for r in rows} <= {"sent", "superseded"}
    for channel, figures in report.items():
        assert figures["lost"] == 0, channel
        # Twice only where a crash cut a send off after the sink had it, and flagged so.
        assert figures["duplicates"] <= figures["flagged"], channel
