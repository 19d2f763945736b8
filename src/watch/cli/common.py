"""What every command shares: options, loading the tracker, opening the database, failing
with an exit code, printing tables and JSON.

Heavy modules (SQLAlchemy, feedparser, httpx) are imported inside the functions that need
them, so `watch --help` stays fast. Exit codes: 0 success; 1 the work ran but something in it
failed (a feed, a delivery); 2 bad usage or a bad configuration file.
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
    from sqlalchemy.engine import Engine

    from watch.config import Config

__all__ = [
    "ConfigOption",
    "JsonOption",
    "emit_json",
    "fail",
    "load",
    "now",
    "open_engine",
    "parse_day",
    "table",
    "when",
]

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
    from sqlalchemy.exc import SQLAlchemyError

    from watch.db import open_database

    url = config.database_url()
    try:
        return open_database(url)
    except SQLAlchemyError as error:
        from sqlalchemy.engine import make_url

        shown = make_url(url).render_as_string(hide_password=True)
        message = f"cannot open the database {shown}: {type(error).__name__}: {error}"
        raise fail(message, 1) from None


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console

    from watch.tables import text_table

    Console(soft_wrap=False).print(text_table(title, columns, rows))


def when(value: datetime | None) -> str:
    return minute(value)


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None
