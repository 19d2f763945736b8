"""Reading the database without SQLAlchemy: plain SQL over the DB-API driver.

Read commands that people run many times (`watch status`) open the database with `open_reader`
so they do not pay for importing SQLAlchemy and SQLModel (about half a second). SQLite is opened
read-only; PostgreSQL through psycopg. SQL is written with `?` placeholders; times go in and
come out as aware UTC. A `Session` can be wrapped too (`as_reader`), so the same query code
serves the library's callers that hold one.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeAlias
from urllib.parse import unquote, urlsplit

from watch.clock import aware
from watch.errors import DatabaseUnavailable, SchemaNotCurrent

# The newest migration; tests check it against alembic's own view of the head.
SCHEMA_HEAD = "0006"


Rows: TypeAlias = Generator[tuple[Any, ...], None, None]


class Reader(Protocol):
    """Runs a read-only query; `?` placeholders; times in and out as aware UTC datetimes."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def time(self, value: Any) -> datetime | None: ...

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Rows: ...


class DriverReader:
    """A DB-API connection (sqlite3 or psycopg) behind the Reader protocol."""

    def __init__(self, connection: Any, backend: str) -> None:
        self.connection = connection
        self.backend = backend

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(_placeholders(sql, self.backend), [self._param(p) for p in params])
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def time(self, value: Any) -> datetime | None:
        return aware(value)

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Rows as the driver steps to them: a reader that stops early reads no further."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(_placeholders(sql, self.backend), [self._param(p) for p in params])
            yield from cursor
        finally:
            cursor.close()

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """The few plain-SQL writes (on a session's connection, in its transaction)."""
        cursor = self.connection.cursor()
        try:
            cursor.executemany(
                _placeholders(sql, self.backend), [[self._param(p) for p in row] for row in rows]
            )
        finally:
            cursor.close()

    def _param(self, value: Any) -> Any:
        if isinstance(value, datetime):
            # SQLAlchemy stores SQLite times as text, and compares them as text
            if self.backend == "sqlite":
                return sqlite_time(value)
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DriverReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class SessionReader(DriverReader):
    """A SQLAlchemy Session's connection behind the Reader protocol (its transaction kept)."""

    def __init__(self, session: Any) -> None:
        session.flush()  # what the session holds unsaved is part of what it reads
        connection = session.connection()
        super().__init__(connection.connection.driver_connection, connection.dialect.name)


def as_reader(db: Any) -> Reader:
    """`db` itself if it reads rows already, else the Session it is, wrapped."""
    return db if hasattr(db, "rows") else SessionReader(db)


def open_reader(url: str) -> DriverReader:
    """A read-only connection on `url` whose schema is current; DatabaseError otherwise."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise DatabaseUnavailable(f"not a database URL: {exc}") from None
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        reader = _sqlite(url, parts.path)
    elif scheme in ("postgresql", "postgres"):
        reader = _postgres(url)
    else:
        raise DatabaseUnavailable(
            f"{_shown(url)}: unsupported database {scheme!r} "
            "(watch works with sqlite:/// and postgresql://)"
        )
    try:
        version = reader.rows("SELECT version_num FROM alembic_version")
    except Exception:  # no table: a database watch never migrated
        version = []
    found = ",".join(row[0] for row in version) or None
    if found != SCHEMA_HEAD:
        reader.close()
        raise SchemaNotCurrent.for_read(_shown(url), found, SCHEMA_HEAD)
    return reader


def _sqlite(url: str, path_part: str) -> DriverReader:
    import sqlite3

    path = Path(unquote(path_part[1:] if path_part.startswith("/") else path_part))
    if not path.is_file():
        raise SchemaNotCurrent.missing(url)
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(f"{url}: {exc}") from None
    return DriverReader(connection, "sqlite")


def _postgres(url: str) -> DriverReader:
    try:
        import psycopg
    except ImportError as exc:
        raise DatabaseUnavailable(f"{_shown(url)}: driver not installed ({exc})") from None
    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        connection = psycopg.connect(conninfo)
        connection.read_only = True  # every transaction it opens is READ ONLY
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise DatabaseUnavailable(f"{_shown(url)}: connection failed: {reason}") from None
    return DriverReader(connection, "postgresql")


def _placeholders(sql: str, backend: str) -> str:
    return sql.replace("?", "%s") if backend == "postgresql" else sql


def sqlite_time(value: datetime | None) -> str | None:
    """A time as SQLAlchemy stores it on SQLite: naive UTC text with microseconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; pass aware UTC times")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # without the "+00:00" (no replace())


def _shown(url: str) -> str:
    """`url` with its password hidden."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def marks(values: Sequence[Any]) -> str:
    """`?, ?, ?` for an IN list of `values`."""
    return ", ".join("?" for _ in values)
