"""Who may do what at once: PostgreSQL advisory locks and the SQLite daemon lock file.

SQLite admits one daemon per database: `take_sqlite_lock` holds `<db>-daemon.lock` (the OS
drops it when the process dies) and a second daemon refuses to start. On PostgreSQL several
daemons share the work:

- `one_at_a_time(session, Job.X)`: a transaction-level lock around the jobs that queue alerts
  (deciding, feed health, reminders, the scorecard), released at commit or rollback (on
  SQLite the database's write lock, which also keeps the daemon's own threads apart);
- `hold_worker_lock`: a session-level lock on the daemon's id for its whole life, which
  `worker_is_alive` tests to tell a live claim from one a crash cut off;
- `claim_feeds`: a lock per feed for the time it is being polled.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session

from watch.errors import DaemonAlreadyRunning


class Job(Enum):
    """Jobs that must not run in two daemons at once; the value is the advisory lock key."""

    DECIDE = 0x7761_0001
    HEALTH = 0x7761_0002
    REMINDERS = 0x7761_0003
    SCORECARD = 0x7761_0004


# Two-part keys (class, id): "this feed is being polled" and "this daemon is alive".
FEED_POLL = 0x7761_0100
WORKER_ALIVE = 0x7761_0200


def one_at_a_time(session: Session, job: Job) -> None:
    """Wait until no other transaction runs `job`, then hold it until this one ends.

    PostgreSQL: a transaction-level advisory lock on the job (other daemons, other threads).
    SQLite: the database's write lock, taken before the first read (`BEGIN IMMEDIATE`): the
    daemon's poll, deliver and windows threads all decide, and a deferred transaction would
    let two of them read the same undecided changes before either writes. Call it first in
    the transaction, before anything is read.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": job.value})
    elif dialect == "sqlite":
        driver = session.connection().connection.dbapi_connection
        if driver is not None and not driver.in_transaction:
            session.execute(text("BEGIN IMMEDIATE"))


def hold_worker_lock(engine: Engine, worker_id: int) -> Connection:
    """Lock `worker_id` on a connection of its own; closing the connection releases it."""
    connection = engine.connect()
    connection.execute(
        text("SELECT pg_advisory_lock(:k, :id)"), {"k": WORKER_ALIVE, "id": worker_id}
    )
    connection.commit()
    return connection


def release_worker_lock(connection: Connection, worker_id: int) -> None:
    """Unlock before the connection goes back to the pool: a pooled connection keeps its
    session, and with it the lock."""
    try:
        _unlock(connection, WORKER_ALIVE, worker_id)
        connection.commit()
    finally:
        connection.close()


def worker_is_alive(engine: Engine, worker_id: int) -> bool:
    """Whether the daemon `worker_id` still holds its lock (PostgreSQL)."""
    with engine.connect() as connection:
        free = _try_lock(connection, WORKER_ALIVE, worker_id)
        if free:
            _unlock(connection, WORKER_ALIVE, worker_id)
        connection.commit()
    return not free


@contextmanager
def claim_feeds(engine: Engine, feeds: Iterable[tuple[int, str]]) -> Iterator[list[str]]:
    """The URLs of `feeds` (id, url) that no other daemon is polling, locked until exit."""
    with engine.connect() as connection:
        mine = [
            (feed_id, url) for feed_id, url in feeds if _try_lock(connection, FEED_POLL, feed_id)
        ]
        connection.commit()
        try:
            yield [url for _id, url in mine]
        finally:
            for feed_id, _url in mine:
                _unlock(connection, FEED_POLL, feed_id)
            connection.commit()


def _try_lock(connection: Connection, kind: int, key: int) -> bool:
    query = text("SELECT pg_try_advisory_lock(:k, :id)")
    return bool(connection.execute(query, {"k": kind, "id": key}).scalar())


def _unlock(connection: Connection, kind: int, key: int) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:k, :id)"), {"k": kind, "id": key})


def take_sqlite_lock(engine: Engine) -> IO[str] | None:
    """Hold `<db>-daemon.lock` for the life of the process; raise if another one holds it."""
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
