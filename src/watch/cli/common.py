"""What every command shares: options, loading the tracker, opening the database, failing
with an exit code, printing tables and JSON.

Heavy modules (SQLAlchemy, feedparser, httpx) are imported inside the functions that need
them, so `watch --help` stays fast. Exit codes: 0 success; 1 the work ran but something in it
failed (a feed, a delivery); 2 bad usage or a bad configuration file; 3 the database cannot be
opened or used (bad URL, missing driver or folder, refused connection, schema to migrate).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watch.clock import minute
from watch.clock import utc_now as now

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.engine import Engine

    from watch.config import Config
    from watch.reader import DriverReader
    from watch.tables import Column

__all__ = [
    "DATABASE_ERROR",
    "ConfigOption",
    "JsonOption",
    "emit_json",
    "fail",
    "load",
    "now",
    "open_engine",
    "open_reader",
    "parse_day",
    "show",
    "table",
    "when",
]

DATABASE_ERROR = 3  # exit code: the database cannot be opened or used

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Tracker file. Default: $WATCH_CONFIG, else ./indicators.yaml.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"watch: {message}", err=True)
    return typer.Exit(code)


def load(config_path: Path | None) -> Config:
    from watch.config import load_config
    from watch.errors import InvalidConfigFile

    try:
        return load_config(config_path)
    except InvalidConfigFile as error:
        raise fail(f"invalid tracker file\n{error}") from None


def open_engine(config: Config) -> Engine:
    """The tracker's database for a command that writes (migrated when due; read commands use
    `open_reader`). Exit code 3 (DATABASE_ERROR) with one line when it cannot be opened."""
    from watch.db import open_database
    from watch.errors import DatabaseError

    try:
        return open_database(config.database_url(), create_folder=config.database_is_default())
    except DatabaseError as error:
        raise fail(str(error), DATABASE_ERROR) from None


def open_reader(config: Config) -> DriverReader:
    """A plain-SQL, read-only connection (watch.reader: no SQLAlchemy import); exit 3 when it
    cannot be opened. Use it as `with open_reader(config) as reader:`."""
    from watch.errors import DatabaseError
    from watch.reader import open_reader as open_plain

    try:
        return open_plain(config.database_url())
    except DatabaseError as error:
        raise fail(str(error), DATABASE_ERROR) from None


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(title: str | None, columns: Sequence[Column | str], rows: list[list[Any]]) -> None:
    """Print rows fitted to the terminal's width (see watch.tables: ids and dates never wrap)."""
    from rich.console import Console

    from watch.tables import print_fitted

    print_fitted(Console(soft_wrap=False), title, columns, rows)


def show(
    rows: Sequence[Any],
    as_json: bool,
    title: str | None,
    columns: Sequence[Column | str],
    cells: Callable[[Any], list[Any]],
) -> None:
    """`--json`: every row's `as_json()`; else a table of `cells(row)` fitted to the terminal."""
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    table(title, columns, [cells(row) for row in rows])


def when(value: datetime | None) -> str:
    return minute(value)


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None
