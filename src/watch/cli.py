"""The `watch` command: a thin layer that parses arguments, calls the library, renders.

Heavy modules (SQLAlchemy, feedparser, httpx) are imported inside the commands that need
them, so `watch --help` stays fast. Exit codes: 0 success; 1 the work ran but something in it
failed (a feed, a delivery); 2 bad usage or a bad configuration file.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from watch.config import Config

app = typer.Typer(
    help=(
        "Track competing forecasts against the news.\n\n"
        "watch reads a tracker file (indicators.yaml: readings, indicators, match rules, feeds), "
        "polls the feeds, records matching entries as evidence, moves indicator states and "
        "shows where each reading stands."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

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


def now() -> datetime:
    return datetime.now(UTC)


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
    from rich.table import Table

    out = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*["" if cell is None else str(cell) for cell in row])
    Console(soft_wrap=False).print(out)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log lines (-vv: debug).")
    ] = 0,
) -> None:
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


@app.command()
def validate(
    path: Annotated[
        Path | None, typer.Argument(help="Tracker file to check (default: as --config).")
    ] = None,
    config_path: ConfigOption = None,
) -> None:
    """Check a tracker file; errors name the file, line and field (exit 2)."""
    config = load(path or config_path)
    rules = sum(len(ind.match) for ind in config.indicators)
    typer.echo(
        f"{config.path}: ok: {len(config.readings)} readings, {len(config.indicators)} "
        f"indicators, {rules} rules, {len(config.aliases)} aliases, {len(config.feeds)} feeds"
    )


@app.command()
def poll(
    feed: Annotated[
        list[str] | None,
        typer.Option("--feed", help="Poll only this URL (repeatable); it need not be configured."),
    ] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Feeds fetched at once.")] = 8,
) -> None:
    """Poll the feeds once: fetch, match, record evidence, move states; then summarise.

    Exit code 1 when any feed failed (the others are still recorded).
    """
    from rich.progress import Progress

    from watch.fetch import make_client
    from watch.refresh import poll as run_poll

    config = load(config_path)
    engine = open_engine(config)
    total = len(feed) if feed else len(config.feeds)
    with make_client() as client, Progress(transient=True, disable=as_json) as progress:
        task = progress.add_task("polling feeds", total=total)
        summary = run_poll(
            engine,
            config,
            client,
            now,
            urls=feed or (),
            concurrency=concurrency,
            on_feed=lambda _report: progress.advance(task),
        )
    if as_json:
        emit_json(
            {
                "feeds": [
                    {
                        "url": f.url,
                        "name": f.name,
                        "result": f.result,
                        "http_status": f.http_status,
                        "new_entries": f.new_entries,
                        "new_evidence": f.new_evidence,
                        "error": f.error,
                    }
                    for f in summary.feeds
                ],
                "changes": [
                    {"indicator": c.indicator_id, "from": c.old_state, "to": c.new_state}
                    for c in summary.changes
                ],
            }
        )
    else:
        failed = [f for f in summary.feeds if f.result == "failed"]
        for report in failed:
            typer.echo(f"failed  {report.name} ({report.url}): {report.error}", err=True)
        typer.echo(
            f"feeds: {summary.count('ok')} ok, {summary.count('not_modified')} unchanged, "
            f"{summary.count('failed')} failed; {summary.new_entries} new entries, "
            f"{summary.new_evidence} new evidence, {len(summary.changes)} state changes"
        )
        for change in summary.changes:
            typer.echo(f"  {change.indicator_id}: {change.old_state} -> {change.new_state}")
    if summary.count("failed"):
        raise typer.Exit(1)


@app.command()
def status(config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Where every indicator stands, and whether it so far agrees with each reading."""
    from watch.db import session_scope
    from watch.queries import indicator_status

    config = load(config_path)
    with session_scope(open_engine(config)) as session:
        rows = indicator_status(session, config, now())
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    reading_ids = [r.id for r in config.readings]
    marks = {True: "agrees", False: "disagrees", None: "pending"}
    table(
        f"{config.tracker.title}",
        ["indicator", "kind", "state", "evidence", "sources", "last evidence"]
        + [f"{rid} p / so far" for rid in reading_ids],
        [
            [
                row.id,
                row.kind,
                row.state,
                row.evidence_count,
                row.sources,
                when(row.last_evidence_at),
            ]
            + [
                f"{row.readings[rid]['p']:.2f} {marks[row.readings[rid]['agrees']]}"
                for rid in reading_ids
            ]
            for row in rows
        ],
    )


@app.command()
def evidence(
    indicator_id: Annotated[str | None, typer.Argument(help="Only this indicator.")] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 50,
    rejected: Annotated[
        bool, typer.Option("--rejected", help="Include rejected evidence.")
    ] = False,
) -> None:
    """Evidence, newest first: indicator, source, time, title, link and what matched."""
    from watch.db import session_scope
    from watch.errors import UnknownIndicator
    from watch.queries import list_evidence

    config = load(config_path)
    if indicator_id:
        try:
            config.indicator(indicator_id)
        except UnknownIndicator as error:
            raise fail(str(error)) from None
    with session_scope(open_engine(config)) as session:
        rows = list_evidence(session, indicator_id, limit=limit, include_rejected=rejected)
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    table(
        f"evidence{' for ' + indicator_id if indicator_id else ''} (newest first)",
        ["id", "indicator", "source", "published", "title", "matched", "link"],
        [
            [
                row.id,
                row.indicator,
                row.source,
                when(row.published),
                row.title,
                f"{row.rule}: {row.matched}",
                row.link,
            ]
            for row in rows
        ],
    )


@app.command()
def feeds(config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Per feed: last poll, result, HTTP status, entries stored, failures, last error."""
    from watch.db import session_scope
    from watch.queries import feed_health

    config = load(config_path)
    with session_scope(open_engine(config)) as session:
        rows = feed_health(session, config)
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    table(
        "feeds",
        ["name", "last poll", "result", "http", "entries", "failures", "next poll", "last error"],
        [
            [
                row.name,
                when(row.last_polled_at),
                row.result or "never polled",
                row.http_status,
                row.entries,
                row.consecutive_failures,
                when(row.next_poll_at),
                row.last_error,
            ]
            for row in rows
        ],
    )


@app.command()
def rematch(
    config_path: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; store nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the current rules over every stored entry: evidence that appears or disappears."""
    from rich.progress import Progress

    from watch.rematch import rematch as run_rematch

    config = load(config_path)
    engine = open_engine(config)
    with Progress(transient=True, disable=as_json) as progress:
        task = progress.add_task("rematching entries", total=None)
        report = run_rematch(
            engine,
            config,
            now(),
            dry_run=dry_run,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if as_json:
        emit_json(
            {
                "applied": report.applied,
                "entries": report.entries,
                "appeared": [vars(d) for d in report.appeared],
                "disappeared": [vars(d) for d in report.disappeared],
                "changes": [
                    {"indicator": c.indicator_id, "from": c.old_state, "to": c.new_state}
                    for c in report.changes
                ],
            }
        )
        return
    verb = "would" if dry_run else "did"
    typer.echo(f"rematched {report.entries} entries ({'dry run' if dry_run else 'applied'})")
    for diff in report.appeared:
        typer.echo(f"  + {diff.indicator}: {diff.title!r} [{diff.rule}: {diff.matched}]")
    for diff in report.disappeared:
        typer.echo(f"  - {diff.indicator}: {diff.title!r} [{diff.rule}: {diff.matched}]")
    for change in report.changes:
        typer.echo(f"  {change.indicator_id} {verb} move: {change.old_state} -> {change.new_state}")
    if not (report.appeared or report.disappeared):
        typer.echo("  no evidence changes")


# The daemon/alert and review/scorecard commands register themselves on `app`.
from watch import cli_alerts, cli_review  # noqa: E402, F401
