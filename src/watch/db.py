"""Open the database for writing: alembic migrations run when due.

Read commands (status, evidence, feeds, history, alerts, scorecard) do not come here: they
open `watch.reader.open_reader` (plain SQL, SQLite read-only, never a migration), which says to
run `watch migrate` on a database without the current schema. Every failure to open is a
DatabaseError whose message is one line (URL with the password hidden, the driver's reason, no
traceback).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, create_engine

from watch.errors import DatabaseUnavailable
from watch.reader import SCHEMA_HEAD

MIGRATIONS = Path(__file__).parent / "migrations"
__all__ = ["SCHEMA_HEAD", "make_engine", "open_database", "session_scope"]


BACKENDS = ("sqlite", "postgresql")
SCRATCH_CACHE_KIB = 131_072  # SQLite page cache of a scratch database (a backtest's)


def parse_url(url: str) -> URL:
    """A SQLAlchemy URL; `postgres://` is read as `postgresql://` (psycopg 3); others refused."""
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUnavailable(f"not a database URL: {_reason(exc)}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in BACKENDS:
        raise DatabaseUnavailable(
            f"{shown(parsed)}: unsupported database {parsed.get_backend_name()!r} "
            "(watch works with sqlite:/// and postgresql://)"
        )
    return parsed


def shown(url: str | URL) -> str:
    """A URL fit for an error message: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: show nothing of it that could be secret
        return "the database URL"


def make_engine(
    url: str, *, create_folder: bool = False, scratch: bool = False, **kwargs: Any
) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout.

    A SQLite file's folder is made only when `create_folder` (the default db/ folder): a
    mistyped path must not quietly become a new empty database. `scratch`: a SQLite file that
    is rebuilt from nothing on every run (a backtest's), so it skips fsync and keeps a large
    page cache; what it stores is the same.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_folder(parsed, create_folder)
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if scratch:
            event.listen(engine, "connect", _scratch_pragmas)
        return engine
    return _server_engine(parsed, **kwargs)


def _server_engine(parsed: URL, **kwargs: Any) -> Engine:
    try:
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    except ImportError as exc:  # a driver that is not installed
        raise DatabaseUnavailable(f"{shown(parsed)}: driver not installed ({exc})") from None


def _sqlite_folder(parsed: URL, create: bool) -> None:
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise DatabaseUnavailable(
            f"{shown(parsed)}: folder {folder} does not exist (only the default db/ folder "
            "is created on its own)"
        )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _scratch_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")  # a crash loses a replay that is simply rerun
    cursor.execute(f"PRAGMA cache_size=-{SCRATCH_CACHE_KIB}")  # indexes stay in memory
    cursor.close()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def schema_version(engine: Engine) -> str | None:
    """The stored migration, or None on a database without a schema; unreachable: raises."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as connection:
            has_table = engine.dialect.has_table(connection, "alembic_version")
            if not has_table:
                return None
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError as exc:
        raise DatabaseUnavailable(f"{shown(engine.url)}: {_reason(exc)}") from None
    return ",".join(row[0] for row in versions) or None


def schema_is_current(engine: Engine) -> bool:
    return schema_version(engine) == SCHEMA_HEAD


def open_database(url: str, *, create_folder: bool = False, scratch: bool = False) -> Engine:
    """An engine on `url` with the schema current; alembic loads only when work is due."""
    engine = make_engine(url, create_folder=create_folder, scratch=scratch)
    if not schema_is_current(engine):
        upgrade(engine)
    return engine


def _reason(exc: BaseException) -> str:
    """The driver's own words on one line, without SQLAlchemy's "Background on this error"."""
    original = getattr(exc, "orig", None) or exc
    text = " ".join(str(original).split())
    return text.split("(Background on this error")[0].strip() or type(original).__name__


def describe(exc: BaseException, url: str | URL | None = None) -> str:
    """One line for any database failure met while a command works (exit code 3)."""
    where = f"{shown(url)}: " if url is not None else ""
    return (
        f"database error: {where}{type(getattr(exc, 'orig', None) or exc).__name__}: {_reason(exc)}"
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
