"""The `watch` command: a thin layer that parses arguments, calls the library, renders.

One module per command group, over `common` (options, loading, failing, tables, JSON):

    tracking   validate, migrate, poll, status, evidence, feeds, rematch
    alerts     run, alerts [test | retry]
    review     resolve, reopen, reject, history
    scoring    scorecard, backtest
    evaluation eval
    web        serve (the web dashboard)

Heavy modules are imported inside the commands that need them, so `watch --help` stays fast.
Exit codes: 0 success; 1 the work ran but something in it failed (a feed, a delivery); 2 bad
usage or a bad configuration file; 3 the database cannot be opened or used.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from watch.cli import alerts, evaluation, review, scoring, tracking, web

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


@app.callback()
def global_options(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log lines (-vv: debug).")
    ] = 0,
) -> None:
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


for command in (
    tracking.validate,
    tracking.migrate,
    tracking.poll,
    tracking.status,
    tracking.evidence,
    tracking.feeds,
    tracking.rematch,
    alerts.run,
    review.resolve,
    review.reopen,
    review.reject,
    review.history,
    scoring.scorecard,
    scoring.backtest,
    web.serve,
):
    app.command()(command)
app.command("eval")(evaluation.eval_command)
app.add_typer(alerts.alerts_app, name="alerts")


def main() -> None:
    """The console entry point: `app`, with any database failure as one line and exit 3."""
    try:
        app()
    except Exception as error:
        if not type(error).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
            raise
        from watch.cli.common import DATABASE_ERROR
        from watch.db import describe

        typer.echo(f"watch: {describe(error)}", err=True)
        sys.exit(DATABASE_ERROR)
