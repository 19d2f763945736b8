"""The scoring commands: scorecard and backtest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from watch.cli.common import (
    ConfigOption,
    JsonOption,
    emit_json,
    fail,
    load,
    now,
    open_reader,
    parse_day,
)

if TYPE_CHECKING:
    from watch.scoring.backtest import BacktestResult


def scorecard(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As it stood at the end of this day.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, md, html or json.")] = "text",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Which reading held up: scores per reading, Bayes factor, posterior by week, verdict."""
    from watch.scoring.render import FORMATS, render
    from watch.scoring.scorecard import build_scorecard

    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    day = parse_day(as_of, "--as-of")
    config = load(config_path)
    with open_reader(config) as reader:  # plain SQL: a read command starts without SQLAlchemy
        card = build_scorecard(reader, config, now(), as_of=day)
    if out is None:
        from rich.console import Console

        typer.echo(render(card, fmt, width=Console().width), nl=False)  # fitted to the terminal
        return
    text = render(card, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


def backtest(
    archive: Annotated[
        Path, typer.Argument(help="A folder of RSS/Atom files and/or *.jsonl, or one file.")
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="Replay entries published on or after this day.")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Replay up to the end of this day (default: the last entry)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: backtest/<archive name>)."),
    ] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay a dated archive through the pipeline with a simulated clock, then score it.

    Uses the tracker file of the archive folder (indicators.yaml there) if it has one, else
    --config. Writes its own SQLite database, the scorecard (md, html, json) and the weekly
    series (CSV) under --out.
    """
    from watch.collector import cycle_collector_paused

    with cycle_collector_paused():  # already for the imports and the tracker file
        result = _replay(archive, start, end, out, config_path)
    if as_json:
        emit_json(result.as_json())
        return
    typer.echo(result.summary())


def _replay(
    archive: Path, start: str | None, end: str | None, out: Path | None, config_path: Path | None
) -> BacktestResult:
    from watch.errors import InvalidArchive
    from watch.scoring.backtest import run_backtest

    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if config_path is None and (archive / "indicators.yaml").is_file():
        config_path = archive / "indicators.yaml"
    config = load(config_path)
    folder = out or Path("backtest") / archive.resolve().name
    try:
        return run_backtest(config, archive, folder, start=first, end=last)
    except InvalidArchive as error:
        raise fail(str(error)) from None
