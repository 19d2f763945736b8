"""The daemon: APScheduler jobs that poll, close windows, check feeds, remind and deliver.

    poll       every `tick`: the feeds that are due (each feed's next poll is set by
               watch.schedule from its interval, failures and Retry-After); then `decide`
               and the feed-health check, so alerts are queued as soon as states move
    deliver    every `deliver_tick`: decide, then the delivery chain (watch.deliver)
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import or_, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from watch.channels import Channel
from watch.config import Config
from watch.db import session_scope
from watch.deliver import ChannelReport, Worker, deliver
from watch.errors import DaemonAlreadyRunning
from watch.models import Feed
from watch.outbox import decide, enqueue

log = logging.getLogger("watch.daemon")

Clock = Callable[[], datetime]
_POLL_LOCK = 0x7761_0100  # advisory lock class for "this feed is being polled"
_WORKER_LOCK = 0x7761_0200  # advisory lock class for "this daemon is alive"


def utc_now() -> datetime:
    return datetime.now(UTC)


def configured_channels(config: Config, env: Mapping[str, str] | None = None) -> list[Channel]:
    """The channels the environment sets up, minus those the YAML turns off."""
    from watch.channels import channels_from_env

    found = channels_from_env(
        os.environ if env is None else env, config.alerts.recipients, config.alerts.sender
    )
    return [c for c in found if config.alerts.policy(c.name).enabled]


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
        self._lock_file: Any = None
        self._stopping = threading.Event()
        self._postgres = engine.dialect.name == "postgresql"
        self._alive_connection: Any = None
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
                connection = self.engine.connect()
                connection.execute(
                    text("SELECT pg_advisory_lock(:k, :id)"),
                    {"k": _WORKER_LOCK, "id": self.worker.id},
                )
                connection.commit()
                self._alive_connection = connection
            return
        if self._lock_file is None:
            self._lock_file = take_sqlite_lock(self.engine)

    def release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._alive_connection is not None:
            self._alive_connection.close()  # the session lock goes with the connection
            self._alive_connection = None

    def _is_alive(self, worker_id: int) -> bool:
        """Whether the daemon `worker_id` still holds its advisory lock (PostgreSQL)."""
        with self.engine.connect() as connection:
            free = connection.execute(
                text("SELECT pg_try_advisory_lock(:k, :id)"), {"k": _WORKER_LOCK, "id": worker_id}
            ).scalar()
            if free:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:k, :id)"), {"k": _WORKER_LOCK, "id": worker_id}
                )
            connection.commit()
        return not free

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
            from watch.fetch import make_client

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
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        self.acquire()
        scheduler = BackgroundScheduler(timezone=UTC)
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
        from watch.refresh import poll, sync_feeds

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
        from watch.health import check_feeds

        with session_scope(self.engine) as session:
            report.queued += len(
                check_feeds(session, self.config, self.channel_names, self.clock())
            )

    def close_windows(self, report: CycleReport) -> None:
        """Record the windows that closed (watch.review.close_windows), then queue alerts."""
        close = _hook("watch.review", "close_windows")
        if close is not None:
            with session_scope(self.engine) as session:
                report.changes += len(close(session, self.config, self.clock()))
        self.decide(report)

    def remind(self, report: CycleReport) -> None:
        from watch.health import remind_windows

        with session_scope(self.engine) as session:
            queued = remind_windows(session, self.config, self.channel_names, self.clock())
            report.queued += len(queued)

    def queue_scorecard(self) -> None:
        """Queue this period's scorecard (once per day, however many daemons run)."""
        from watch.outbox import one_at_a_time
        from watch.scorecard import build_scorecard

        now = self.clock()
        with session_scope(self.engine) as session:
            one_at_a_time(session, "scorecard")
            card = build_scorecard(session, self.config, now)
            enqueue(
                session,
                key=f"scorecard:{now.date().isoformat()}",
                kind="scorecard",
                subject=self.config.tracker.id,
                title=f"scorecard {self.config.tracker.title}: {card.verdict}",
                lines=_scorecard_lines(card),
                channels=self.channel_names,
                now=now,
            )

    def deliver(self, report: CycleReport, *, flush: bool = False) -> None:
        self.decide(report)
        self.acquire()
        results = deliver(
            self.engine, self.config, self.channels, self.clock(), flush=flush, worker=self.worker
        )
        report.deliveries.extend(results)

    # ------------------------------------------------------------ PostgreSQL feed claims

    def _feed_claims(self) -> Any:
        """A context giving the URLs this daemon may poll now: None (all due) on SQLite."""
        from contextlib import contextmanager

        @contextmanager
        def claims() -> Any:
            if not self._postgres:
                yield None
                return
            now = self.clock()
            urls = {f.url for f in self.config.feeds}
            with self.engine.connect() as connection:
                due = connection.execute(
                    select(col(Feed.id), col(Feed.url)).where(
                        or_(col(Feed.next_poll_at).is_(None), col(Feed.next_poll_at) <= now)
                    )
                ).all()
                mine = []
                for feed_id, url in due:
                    if url not in urls:
                        continue
                    got = connection.execute(
                        text("SELECT pg_try_advisory_lock(:k, :id)"),
                        {"k": _POLL_LOCK, "id": feed_id},
                    ).scalar()
                    if got:
                        mine.append((feed_id, url))
                connection.commit()
                try:
                    yield [url for _id, url in mine]
                finally:
                    for feed_id, _url in mine:
                        connection.execute(
                            text("SELECT pg_advisory_unlock(:k, :id)"),
                            {"k": _POLL_LOCK, "id": feed_id},
                        )
                    connection.commit()

        return claims()


def take_sqlite_lock(engine: Engine) -> Any:
    """Hold `<db>-daemon.lock` for the life of the process; raise if another one holds it."""
    import fcntl

    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        return None
    path = Path(database).with_name(Path(database).name + "-daemon.lock")
    handle = open(path, "a+")  # noqa: SIM115 - held open for the daemon's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise DaemonAlreadyRunning(
            f"another watch daemon (pid {holder}) is running on {database}; "
            "one daemon per SQLite database (use PostgreSQL to run several)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _hook(module: str, name: str) -> Callable[..., Any] | None:
    """`module.name` if that module defines it (coordination point with other features)."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _scorecard_lines(card: Any) -> list[str]:
    lines = [card.verdict]
    for reading_id, p in sorted(card.comparison.posterior.items(), key=lambda kv: -kv[1]):
        lines.append(f"{reading_id}: posterior {p:.2f}")
    lines.append(f"{len(card.resolved)} resolved, {len(card.pending)} pending indicator(s)")
    return lines
