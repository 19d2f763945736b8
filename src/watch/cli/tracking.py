"""The tracking loop's commands: validate, migrate, poll, status, evidence, feeds, rematch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    show,
    table,
    when,
)
from watch.tables import Column


def status_columns(reading_ids: list[str], periods: bool = False) -> list[Column]:
    """`watch status`: ids, states, counts and dates never wrap; narrow terminals get blocks.

    With `periods`, each reading also gets a column for its current period and past ones.
    """
    columns = [
        Column("indicator", keep=True),
        Column("kind", keep=True, drop=2),
        Column("state", keep=True),
        Column("evidence", "ev", keep=True),
        Column("sources", "src", keep=True, drop=1),
        Column("last evidence", "last", keep=True),
    ]
    for rid in reading_ids:
        columns.append(Column(f"{rid} p / so far", rid, keep=True, own_line=True))
        if periods:
            columns.append(Column(f"{rid} periods", "·", keep=True))
    return columns


EVIDENCE_COLUMNS = [
    Column("id", keep=True),
    Column("indicator", keep=True),
    Column("source", drop=2),
    Column("published", keep=True),
    Column("title"),
    Column("matched", drop=1),
    Column("link", drop=3),
]


FEED_COLUMNS = [
    Column("name"),
    Column("last poll", "polled", keep=True),
    Column("result", keep=True),
    Column("http", keep=True, drop=2),
    Column("entries", "n", keep=True, drop=3),
    Column("failures", "fails", keep=True),
    Column("next poll", "next", keep=True, drop=1),
    Column("last error", "error"),
]


def validate(
    path: Annotated[
        Path | None, typer.Argument(help="Tracker file to check (default: as --config).")
    ] = None,
    config_path: ConfigOption = None,
) -> None:
    """Check a tracker file and run its examples; errors name the file, line and field
    (exit 2).

    Warnings (a poll interval under 5 minutes, which is raised to 5) are printed the same way
    and leave the exit code 0.
    """
    from watch.config.load import config_warnings, default_config_path
    from watch.errors import InvalidConfigFile
    from watch.feeds.examples import failing_examples

    config = load(path or config_path)
    assert config.path is not None
    problems = failing_examples(config)
    if problems:
        raise fail(f"invalid tracker file\n{InvalidConfigFile(config.path, problems)}")
    for warning in config_warnings(config):
        typer.echo(warning.render(path or config_path or default_config_path()), err=True)
    rules = sum(len(ind.match) for ind in config.indicators)
    examples = sum(len(i.examples.match) + len(i.examples.no_match) for i in config.indicators)
    typer.echo(
        f"{config.path}: ok: {len(config.readings)} readings, {len(config.indicators)} "
        f"indicators, {rules} rules, {examples} examples, {len(config.aliases)} aliases, "
        f"{len(config.feeds)} feeds"
    )


def migrate(config_path: ConfigOption = None) -> None:
    """Create the database or bring its schema up to date (read commands never do it)."""
    config = load(config_path)
    open_engine(config).dispose()
    typer.echo(f"database schema is current: {config.database_url().split('://')[0]}")


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

    from watch.config.model import feed_url
    from watch.errors import InvalidFeedURL
    from watch.feeds.fetch import make_client
    from watch.feeds.refresh import poll as run_poll

    try:
        feed = [feed_url(url) for url in feed or ()]
    except InvalidFeedURL as error:
        raise fail(f"--feed: {error}") from None
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


def status(config_path: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Where every indicator stands, and whether it so far agrees with each reading."""
    from watch.queries import indicator_status

    config = load(config_path)
    with open_reader(config) as reader:  # plain SQL: status starts without importing SQLAlchemy
        rows = indicator_status(reader, config, now())
    if as_json:
        emit_json([row.as_json() for row in rows])
        return
    reading_ids = [r.id for r in config.readings]
    # "0.85 pending · period 7 · past 3 yes · 1 no": the verdict, then the periods apart
    cells = [[row.reading_cell(rid).partition(" · ") for rid in reading_ids] for row in rows]
    periods = any(rest for row in cells for _, _, rest in row)
    table(
        f"{config.tracker.title}",
        status_columns(reading_ids, periods),
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
                part
                for verdict, _, rest in row_cells
                for part in ([verdict, rest] if periods else [verdict])
            ]
            for row, row_cells in zip(rows, cells, strict=True)
        ],
    )


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
    from watch.errors import UnknownIndicator
    from watch.queries import list_evidence

    config = load(config_path)
    if indicator_id:
        try:
            config.indicator(indicator_id)
        except UnknownIndicator as error:
            raise fail(str(error)) from None
    with open_reader(config) as reader:
        rows = list_evidence(reader, indicator_id, limit=limit, include_rejected=rejected)
    show(
        rows,
        as_json,
        f"evidence{' for ' + indicator_id if indicator_id else ''} (newest first)",
        EVIDENCE_COLUMNS,
        lambda row: [
            row.id,
            row.indicator,
            row.source,
            when(row.published),
            row.title,
            f"{row.rule}: {row.matched}",
            row.link,
        ],
    )


def feeds(
    remove: Annotated[
        str | None,
        typer.Option(
            "--remove",
            metavar="URL",
            help="Forget this stored feed (one the tracker file does not list, without entries).",
        ),
    ] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per feed: last poll, result, HTTP status, entries stored, failures, last error.

    `--remove URL` forgets a feed polled by `--feed` by mistake; feeds with stored entries are
    kept (their entries are evidence history), and a configured feed leaves by being deleted
    from the tracker file.
    """
    if remove is not None:
        _remove_feed(config_path, remove)
        return
    from watch.queries import feed_health

    config = load(config_path)
    with open_reader(config) as reader:
        rows = feed_health(reader, config)
    show(
        rows,
        as_json,
        "feeds",
        FEED_COLUMNS,
        lambda row: [
            row.name,
            when(row.last_polled_at),
            row.result or "never polled",
            row.http_status,
            row.entries,
            row.consecutive_failures,
            when(row.next_poll_at),
            row.last_error,
        ],
    )


def rematch(
    config_path: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; store nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the current rules over every stored entry: evidence that appears or disappears."""
    from rich.progress import Progress

    from watch.feeds.rematch import rematch as run_rematch

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


def _remove_feed(config_path: Path | None, url: str) -> None:
    from watch.db import session_scope
    from watch.errors import FeedInUse, UnknownFeed
    from watch.feeds.refresh import remove_feed

    config = load(config_path)
    engine = open_engine(config)
    try:
        with session_scope(engine) as session:
            feed = remove_feed(session, config, url)
    except (UnknownFeed, FeedInUse) as error:
        raise fail(str(error)) from None
    finally:
        engine.dispose()
    typer.echo(f"removed feed {feed.url}")
