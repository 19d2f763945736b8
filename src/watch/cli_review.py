"""Commands of analyst review and scoring: resolve, reject, reopen, history, scorecard, backtest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watch.cli import ConfigOption, JsonOption, app, emit_json, fail, load, now, open_engine, table

if TYPE_CHECKING:
    from sqlmodel import Session

    from watch.config import Config

NoteOption = Annotated[str, typer.Option("--note", "-m", help="Why (kept in the history).")]


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: not a date (YYYY-MM-DD): {value!r}") from None


def _changes(changes: list) -> list[dict[str, str | None]]:
    return [
        {"indicator": c.indicator_id, "from": c.old_state, "to": c.new_state, "cause": c.cause}
        for c in changes
    ]


def _print_changes(changes: list, nothing: str) -> None:
    if not changes:
        typer.echo(nothing)
    for c in changes:
        typer.echo(f"{c.indicator_id}: {c.old_state} -> {c.new_state} ({c.cause}) {c.note or ''}")


def _review(
    config_path: Path | None,
    action: Callable[[Session, Config], list[Any]],
    as_json: bool,
    *,
    nothing: str,
) -> None:
    """Run one analyst action in a transaction and show the state changes it made."""
    from watch.db import session_scope
    from watch.errors import WatchError

    config = load(config_path)
    try:
        with session_scope(open_engine(config)) as session:
            changes = action(session, config)
    except WatchError as error:  # unknown id, nothing resolved by hand, ...
        raise fail(str(error)) from None
    if as_json:
        emit_json(_changes(changes))
    else:
        _print_changes(changes, nothing)


@app.command()
def resolve(
    indicator_id: Annotated[str, typer.Argument(help="The indicator to resolve.")],
    outcome: Annotated[
        bool,
        typer.Option("--yes/--no", help="It happened (event) / broke (condition), or not."),
    ],
    note: NoteOption,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an indicator by hand for every reading; wins over the evidence until reopened."""
    from watch.review import resolve as run_resolve

    _review(
        config_path,
        lambda session, config: [run_resolve(session, config, indicator_id, outcome, note, now())],
        as_json,
        nothing="",
    )


@app.command()
def reopen(
    indicator_id: Annotated[str, typer.Argument(help="The indicator resolved by hand.")],
    note: Annotated[str | None, typer.Option("--note", "-m", help="Why.")] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Undo a resolution by hand: the state follows the evidence again."""
    from watch.review import reopen as run_reopen

    _review(
        config_path,
        lambda session, config: run_reopen(session, config, indicator_id, now(), note),
        as_json,
        nothing="",
    )


@app.command()
def reject(
    evidence_id: Annotated[int, typer.Argument(help="Evidence id (see `watch evidence`).")],
    note: NoteOption,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a piece of evidence as a false positive; its indicator is recomputed."""
    from watch.review import reject as run_reject

    _review(
        config_path,
        lambda session, config: run_reject(session, config, evidence_id, note, now()),
        as_json,
        nothing=f"evidence {evidence_id} rejected; no state changed",
    )


@app.command()
def history(
    indicator_id: Annotated[str, typer.Argument(help="The indicator.")],
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every change of an indicator's state: when, from, to, what caused it, the evidence."""
    from watch.db import session_scope
    from watch.errors import UnknownIndicator
    from watch.review import history as read_history

    config = load(config_path)
    try:
        with session_scope(open_engine(config)) as session:
            rows = read_history(session, config, indicator_id)
    except UnknownIndicator as error:
        raise fail(str(error)) from None
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    table(
        f"history of {indicator_id} (oldest first)",
        ["when", "from", "to", "cause", "note", "evidence"],
        [
            [
                row.at.strftime("%Y-%m-%d %H:%M"),
                row.old_state,
                row.new_state,
                row.cause,
                row.note,
                f"#{row.evidence_id} {row.evidence_title} ({row.evidence_source})"
                if row.evidence_id
                else "",
            ]
            for row in rows
        ],
    )


@app.command()
def scorecard(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As it stood at the end of this day.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="text, md, html or json.")] = "text",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Which reading held up: scores per reading, Bayes factor, posterior by week, verdict."""
    from watch.db import session_scope
    from watch.scorecard import FORMATS, build_scorecard, render

    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    day = _day(as_of, "--as-of")
    config = load(config_path)
    with session_scope(open_engine(config)) as session:
        card = build_scorecard(session, config, now(), as_of=day)
    text = render(card, fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}")


@app.command()
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
    from watch.backtest import run_backtest
    from watch.errors import InvalidArchive

    first, last = _day(start, "--from"), _day(end, "--to")
    if config_path is None and (archive / "indicators.yaml").is_file():
        config_path = archive / "indicators.yaml"
    config = load(config_path)
    folder = out or Path("backtest") / archive.resolve().name
    try:
        result = run_backtest(config, archive, folder, start=first, end=last)
    except InvalidArchive as error:
        raise fail(str(error)) from None
    if as_json:
        emit_json(result.as_json())
        return
    typer.echo(result.summary())
