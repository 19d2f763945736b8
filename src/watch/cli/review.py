"""Analyst review: resolve, reopen, reject, history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watch.cli.common import (
    ConfigOption,
    JsonOption,
    emit_json,
    fail,
    load,
    now,
    open_engine,
    open_reader,
    parse_day,
    show,
)
from watch.tables import Column

if TYPE_CHECKING:
    from sqlmodel import Session

    from watch.config import Config

NoteOption = Annotated[str, typer.Option("--note", "-m", help="Why (kept in the history).")]


HISTORY_COLUMNS = [
    Column("when", keep=True),
    Column("from", keep=True),
    Column("to", keep=True),
    Column("cause", keep=True),
    Column("note"),
    Column("evidence"),
]


def _changes(changes: list) -> list[dict[str, str | None]]:
    return [
        {"indicator": c.indicator_id, "from": c.old_state, "to": c.new_state, "cause": c.cause}
        for c in changes
    ]


def _print_changes(changes: list, nothing: str) -> None:
    if not changes and nothing:
        typer.echo(nothing)
    for c in changes:
        typer.echo(f"{c.indicator_id}: {c.old_state} -> {c.new_state} ({c.cause}) {c.note or ''}")


def _review(
    action: Callable[[Session, Config], list[Any]],
    config_path: Path | None,
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


def resolve(
    indicator_id: Annotated[str, typer.Argument(help="The indicator to resolve.")],
    outcome: Annotated[
        bool,
        typer.Option("--yes/--no", help="It happened (event) / broke (condition), or not."),
    ],
    note: NoteOption,
    on: Annotated[
        str | None, typer.Option("--on", help="With --yes: the day it happened (YYYY-MM-DD).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="With --no: first day it did not happen.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="With --no: last day it did not happen.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="The public report behind it (URL).")
    ] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Resolve an indicator by hand: dated (--on, or --from/--to) for the periods the dates fall
    in, or undated for the current period of every reading (wins until reopened)."""
    from watch.review import record_outcome
    from watch.review import resolve as run_resolve

    day, first, last = parse_day(on, "--on"), parse_day(start, "--from"), parse_day(end, "--to")
    if day is None and first is None and last is None:
        if source is not None:
            raise fail("--source goes with a dated resolution (--on, or --from and --to)")
        _review(
            lambda session, config: [
                run_resolve(session, config, indicator_id, outcome, note, now())
            ],
            config_path,
            as_json,
            nothing="",
        )
        return
    if (first is None) != (last is None):
        raise fail("--from and --to go together")
    span = (first, last) if first is not None and last is not None else None

    def dated(session: Session, config: Config) -> list[Any]:
        record_outcome(
            session,
            config,
            indicator_id,
            outcome,
            on=day,
            span=span,
            source=source,
            note=note,
            now=now(),
        )
        return []

    said = f"happened on {day}" if outcome else f"did not happen from {first} to {last}"
    _review(
        dated,
        config_path,
        False,
        nothing="" if as_json else f"{indicator_id}: recorded by hand: {said}",
    )
    if as_json:
        emit_json(
            {
                "indicator": indicator_id,
                "outcome": "yes" if outcome else "no",
                "on": day and day.isoformat(),
                "from": first and first.isoformat(),
                "to": last and last.isoformat(),
                "source": source,
                "note": note,
            }
        )


def reopen(
    indicator_id: Annotated[str, typer.Argument(help="The indicator resolved by hand.")],
    note: Annotated[str | None, typer.Option("--note", "-m", help="Why.")] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Undo a resolution by hand: the state follows the evidence again."""
    from watch.review import reopen as run_reopen

    _review(
        lambda session, config: run_reopen(session, config, indicator_id, now(), note),
        config_path,
        as_json,
        nothing="",
    )


def reject(
    evidence_id: Annotated[int, typer.Argument(help="Evidence id (see `watch evidence`).")],
    note: NoteOption,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reject a piece of evidence as a false positive; its indicator is recomputed."""
    from watch.review import reject as run_reject

    _review(
        lambda session, config: run_reject(session, config, evidence_id, note, now()),
        config_path,
        as_json,
        nothing=f"evidence {evidence_id} rejected; no state changed",
    )


def history(
    indicator_id: Annotated[str, typer.Argument(help="The indicator.")],
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every change of an indicator's state: when, from, to, what caused it, the evidence."""
    from watch.errors import UnknownIndicator
    from watch.queries import history as read_history

    config = load(config_path)
    with open_reader(config) as reader:  # plain SQL: a read command starts without SQLAlchemy
        try:
            rows = read_history(reader, config, indicator_id)
        except UnknownIndicator as error:
            raise fail(str(error)) from None
    show(
        rows,
        as_json,
        f"history of {indicator_id} (oldest first)",
        HISTORY_COLUMNS,
        lambda row: [
            row.at.strftime("%Y-%m-%d %H:%M"),
            row.old_state,
            row.new_state,
            row.cause,
            row.note,
            f"#{row.evidence_id} {row.evidence_title} ({row.evidence_source})"
            if row.evidence_id
            else row.source or "",
        ],
    )
