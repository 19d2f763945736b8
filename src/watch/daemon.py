"""The daemon: APScheduler jobs that poll, close windows, check feeds, remind and deliver.

    poll       every `tick`: the feeds that are due (each feed's next poll is set by
               watch.feeds.schedule from its interval, failures and Retry-After); then `decide`
               and the feed-health check, so alerts are queued as soon as states move
    deliver    every `deliver_tick`: decide, then the delivery chain (watch.alerts.delivery)
    windows    every `slow_tick`: close the windows that ended (watch.review.close_windows)
               and queue the reminders of windows about to close
    scorecard  on `scorecard.schedule` (cron, in alerts.timezone): queue the scorecard

`Daemon.run_once()` runs each job once, in that order, and returns; `start()` / `stop()`
run them on the scheduler's threads; `run()` blocks until SIGTERM or SIGINT, lets the
running jobs finish (every job writes in transactions, so a second signal that exits at
once loses nothing) and closes the channels. Time comes from the `clock` given, so tests
move it instead of sleeping.

One daemon per SQLite database: a lock file beside it (`<db>-daemon.lock`, released by the
OS when the process dies) makes a second one refuse to start. On PostgreSQL several may run:
each feed is polled under an advisory lock, deliveries are claimed with SKIP LOCKED, and the
jobs that queue alerts take a transaction-level advisory lock.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
from sqlalchemy import Connection, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from watch.alerts.channels import Channel
from watch.alerts.delivery import ChannelReport, Worker, deliver
from watch.alerts.health import check_feeds
from watch.alerts.outbox import decide, enqueue
from watch.alerts.reminders import remind_windows
from watch.clock import Clock, utc_now
from watch.config import Config
from watch.db import session_scope
from watch.feeds.refresh import poll, sync_feeds
from watch.locks import (
    Job,
    claim_feeds,
    hold_worker_lock,
    one_at_a_time,
    release_worker_lock,
    take_sqlite_lock,
    worker_is_alive,
)
from watch.review import close_windows
from watch.schema import AlertKind, Feed
from watch.scoring.render import render, save_report
from watch.scoring.scorecard import Scorecard, build_scorecard, current_tally

log = logging.getLogger("watch.daemon")


@dataclass
class CycleReport:
    """What one run of every job did (for `watch run --once` and tests)."""

    polled: int = 0
    failed_feeds: int = 0
    new_entries: int = 0
    changes: int = 0
    queued: int = 0
    deliveries: list[ChannelReport] = field(default_factory=list)

    @property
    def failed_deliveries(self) -> int:
        return sum(r.failed for r in self.deliveries)


class Daemon:
    """Polls, decides, delivers; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        channels: Sequence[Channel],
        *,
        client: httpx.Client | None = None,
        clock: Clock = utc_now,
        tick: timedelta = timedelta(seconds=15),
        deliver_tick: timedelta = timedelta(seconds=5),
        slow_tick: timedelta = timedelta(minutes=10),
        concurrency: int = 8,
        heartbeat: Path | None = None,
    ) -> None:
        self.engine = engine
        self.heartbeat = heartbeat
        self.config = config
        self.channels = list(channels)
        self.clock = clock
        self.tick, self.deliver_tick, self.slow_tick = tick, deliver_tick, slow_tick
        self.concurrency = concurrency
        self._client = client
        self._owns_client = client is None
        self._scheduler: Any = None
        self._lock_file: IO[str] | None = None
        self._stopping = threading.Event()
        self._postgres = engine.dialect.name == "postgresql"
        self._alive_connection: Connection | None = None
        self._busy: set[str] = set()  # jobs still running when their next tick came
        self.worker = Worker(alive=self._is_alive if self._postgres else None)

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]

    # ------------------------------------------------------------ life cycle

    def acquire(self) -> None:
        """SQLite: take the one-daemon lock (raise if held). PostgreSQL: hold an advisory
        lock on this daemon's id for its life, which tells the others it is alive."""
        if self._postgres:
            if self._alive_connection is None:
                self._alive_connection = hold_worker_lock(self.engine, self.worker.id)
            return
        if self._lock_file is None:
            self._lock_file = take_sqlite_lock(self.engine)

    def release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._alive_connection is not None:
            release_worker_lock(self._alive_connection, self.worker.id)
            self._alive_connection = None

    def _is_alive(self, worker_id: int) -> bool:
        return worker_is_alive(self.engine, worker_id)

    def close(self) -> None:
        """Release the lock, the HTTP client and the channels."""
        self.release()
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None
        for channel in self.channels:
            closer = getattr(channel, "close", None)
            if closer:
                closer()

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            from watch.feeds.fetch import make_client

            self._client = make_client()
        return self._client

    def run_once(self, *, flush: bool = True) -> CycleReport:
        """Every job once, in order; `flush` sends without waiting for a burst to end."""
        self.acquire()
        report = CycleReport()
        self.close_windows(report)
        self.poll(report)
        self.check_health(report)
        self.remind(report)
        self.deliver(report, flush=flush)
        return report

    def start(self) -> None:
        """Start the scheduler's jobs in background threads (each job runs one at a time)."""
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        self.acquire()
        scheduler = BackgroundScheduler(timezone=UTC)
        quiet_skipped_ticks(logging.getLogger("apscheduler.scheduler"))
        scheduler.add_listener(
            self._on_job_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )
        first = datetime.now(UTC)

        def add(job: Callable[[], object], trigger: Any, name: str) -> None:
            scheduler.add_job(
                self._guarded(job, name),
                trigger,
                id=name,
                name=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=first if not isinstance(trigger, CronTrigger) else None,
            )

        add(self._poll_job, IntervalTrigger(seconds=self.tick.total_seconds()), "poll")
        add(
            self._deliver_job, IntervalTrigger(seconds=self.deliver_tick.total_seconds()), "deliver"
        )
        add(self._windows_job, IntervalTrigger(seconds=self.slow_tick.total_seconds()), "windows")
        schedule = self.config.scorecard.schedule
        if schedule:
            trigger = CronTrigger.from_crontab(schedule, timezone=self.config.alerts.timezone)
            add(self.queue_scorecard, trigger, "scorecard")
        scheduler.start()
        self._scheduler = scheduler
        log.info(
            "daemon started channels=%s feeds=%d database=%s",
            ",".join(self.channel_names) or "none",
            len(self.config.feeds),
            self.engine.url.render_as_string(hide_password=True),
        )

    def stop(self, wait: bool = True) -> None:
        """Stop the jobs (waiting for running ones when `wait`), then release everything."""
        self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
        self.close()
        log.info("daemon stopped")

    def run(self) -> None:
        """Start, block until SIGTERM/SIGINT, stop cleanly; a second signal exits at once."""
        signals = 0

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            nonlocal signals
            signals += 1
            if signals > 1:
                log.warning("second signal: exiting now (every job writes in transactions)")
                os._exit(130)
            log.info(
                "signal=%s stopping after the running jobs finish", signal.Signals(signum).name
            )
            self._stopping.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not self._stopping.wait(1.0):
                pass
        finally:
            self.stop(wait=True)
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_job_event(self, event: Any) -> None:
        """One line when a job is still running at its next tick (APScheduler would warn on
        every tick); it runs again at the first tick after it ends."""
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES

        if event.code != EVENT_JOB_MAX_INSTANCES:
            self._busy.discard(event.job_id)
        elif event.job_id not in self._busy:
            self._busy.add(event.job_id)
            log.info(
                "job=%s result=busy reason='still running: ticks skipped until done'", event.job_id
            )

    def _guarded(self, job: Callable[[], object], name: str) -> Callable[[], None]:
        def run() -> None:
            if self._stopping.is_set():
                return
            try:
                job()
            except Exception:  # a job's bug is logged; the next run tries again
                log.exception("job=%s result=error", name)

        return run

    def _poll_job(self) -> None:
        report = CycleReport()
        self.poll(report)
        self.check_health(report)

    def _deliver_job(self) -> None:
        self.deliver(CycleReport())
        if self.heartbeat is not None:  # what a container healthcheck looks at
            self.heartbeat.touch()

    def _windows_job(self) -> None:
        report = CycleReport()
        self.close_windows(report)
        self.remind(report)

    # ------------------------------------------------------------ the jobs

    def poll(self, report: CycleReport) -> None:
        """Poll the due feeds (on PostgreSQL only those no other daemon is polling)."""
        for attempt in range(2):
            try:
                with session_scope(self.engine) as session:
                    sync_feeds(session, self.config)
                break
            except IntegrityError:  # another daemon created the same feed row first
                if attempt:
                    raise
        with self._feed_claims() as urls:
            if urls is not None and not urls:
                return
            summary = poll(
                self.engine,
                self.config,
                self.client,
                self.clock,
                urls=urls or (),
                due_only=True,
                concurrency=self.concurrency,
            )
        report.polled += len(summary.feeds)
        report.failed_feeds += summary.count("failed")
        report.new_entries += summary.new_entries
        report.changes += len(summary.changes)
        self.decide(report)

    def decide(self, report: CycleReport) -> None:
        with session_scope(self.engine) as session:
            alerts = decide(session, self.config, self.channel_names, self.clock())
        report.queued += sum(1 for a in alerts if not a.skipped)

    def check_health(self, report: CycleReport) -> None:
        with session_scope(self.engine) as session:
            report.queued += len(
                check_feeds(session, self.config, self.channel_names, self.clock())
            )

    def close_windows(self, report: CycleReport) -> None:
        """Record the windows that closed (watch.review.close_windows), then queue alerts."""
        with session_scope(self.engine) as session:
            report.changes += len(close_windows(session, self.config, self.clock()))
        self.decide(report)

    def remind(self, report: CycleReport) -> None:
        with session_scope(self.engine) as session:
            queued = remind_windows(session, self.config, self.channel_names, self.clock())
            report.queued += len(queued)

    def queue_scorecard(self) -> None:
        """Queue this period's scorecard (once per day, however many daemons run), rendered
        now as the page it is sent as; save it under `scorecard.reports` when set."""
        now = self.clock()
        with session_scope(self.engine) as session:
            one_at_a_time(session, Job.SCORECARD)
            card = build_scorecard(session, self.config, now)
            queued = enqueue(
                session,
                key=f"scorecard:{now.date().isoformat()}",
                kind=AlertKind.SCORECARD,
                subject=self.config.tracker.id,
                title=f"scorecard {self.config.tracker.title}: {card.verdict}",
                lines=_scorecard_lines(card),
                channels=self.channel_names,
                now=now,
                html=render(card, "html"),
            )
        folder = self.config.reports_folder()
        if queued is not None and folder is not None:
            path = save_report(card, folder)
            log.info("scorecard=%s saved=%s", card.as_of.isoformat(), path)

    def deliver(self, report: CycleReport, *, flush: bool = False) -> None:
        self.decide(report)
        self.acquire()
        results = deliver(
            self.engine,
            self.config,
            self.channels,
            self.clock(),
            flush=flush,
            worker=self.worker,
            tally=current_tally,
        )
        report.deliveries.extend(results)

    # ------------------------------------------------------------ PostgreSQL feed claims

    @contextmanager
    def _feed_claims(self) -> Iterator[list[str] | None]:
        """The URLs this daemon may poll now: None (every due feed) on SQLite; on PostgreSQL
        the due ones no other daemon is polling, locked until the poll ends."""
        if not self._postgres:
            yield None
            return
        urls = {f.url for f in self.config.feeds}
        with self.engine.connect() as connection:
            due = connection.execute(
                select(col(Feed.id), col(Feed.url)).where(
                    or_(col(Feed.next_poll_at).is_(None), col(Feed.next_poll_at) <= self.clock())
                )
            ).all()
        wanted = [(feed_id or 0, url) for feed_id, url in due if url in urls]
        with claim_feeds(self.engine, wanted) as mine:
            yield mine


class _SkippedTickFilter(logging.Filter):
    """Drops APScheduler's per-tick "maximum number of running instances" warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


_SKIPPED_TICKS = _SkippedTickFilter()


def quiet_skipped_ticks(logger: logging.Logger) -> None:
    """Silence the scheduler's warning for a job still running; the daemon says it once."""
    if _SKIPPED_TICKS not in logger.filters:
        logger.addFilter(_SKIPPED_TICKS)


def _scorecard_lines(card: Scorecard) -> list[str]:
    lines = [card.verdict]
    for reading_id, p in sorted(card.comparison.posterior.items(), key=lambda kv: -kv[1]):
        lines.append(f"{reading_id}: posterior {p:.2f}")
    lines.append(f"{len(card.resolved)} resolved, {len(card.pending)} pending indicator(s)")
    return lines
