"""The daemon and its alerts: `watch run`, `watch alerts [test|retry]`."""

from __future__ import annotations

import logging
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
    open_engine,
    open_reader,
    show,
    when,
)
from watch.tables import Column

if TYPE_CHECKING:
    from watch.alerts.channels import Channel
    from watch.config import Config

DELIVERY_COLUMNS = [
    Column("id", keep=True),
    Column("alert"),
    Column("channel", keep=True),
    Column("status", keep=True),
    Column("tries", keep=True, drop=1),
    Column("queued", keep=True, drop=2),
    Column("next / sent", "next/sent", keep=True),
    Column("error / note", "note"),
]


alerts_app = typer.Typer(
    help="Alerts in the outbox: list them, send a test message, retry a failed delivery.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)


def channels_or_fail(config: Config) -> list[Channel]:
    from watch.alerts.channels import configured_channels
    from watch.errors import InvalidChannelSettings

    try:
        return configured_channels(config)
    except InvalidChannelSettings as error:  # its message never holds a secret
        raise fail(f"alert channels: {error}") from None


def run(
    config_path: ConfigOption = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Run every due job once (poll, windows, health, deliver), exit."
        ),
    ] = False,
    poll_every: Annotated[
        str, typer.Option(help="How often to look for due feeds (each keeps its own interval).")
    ] = "15s",
    deliver_every: Annotated[str, typer.Option(help="How often to send what is queued.")] = "5s",
    heartbeat: Annotated[
        Path | None,
        typer.Option(
            envvar="WATCH_HEARTBEAT",
            help="Touch this file after every delivery cycle (for container healthchecks).",
        ),
    ] = None,
) -> None:
    """Run the daemon: poll due feeds, close windows, check feeds, send alerts.

    Stops cleanly on SIGTERM or SIGINT. Channels come from the environment
    (WATCH_SMTP_URL, WATCH_SLACK_WEBHOOK_URL, WATCH_APPRISE_URLS). With --once, exit code 1
    when a feed or a delivery failed.
    """
    from watch.daemon import Daemon
    from watch.errors import DaemonAlreadyRunning

    logging.getLogger("watch").setLevel(min(logging.getLogger().level, logging.INFO))
    from watch.config import parse_duration

    try:
        tick, deliver_tick = parse_duration(poll_every), parse_duration(deliver_every)
    except ValueError as error:
        raise fail(str(error)) from None
    config = load(config_path)
    channels = channels_or_fail(config)
    engine = open_engine(config)
    daemon = Daemon(
        engine,
        config,
        channels,
        clock=now,
        tick=tick,
        deliver_tick=deliver_tick,
        heartbeat=heartbeat,
    )
    try:
        daemon.acquire()
        if not once:
            daemon.run()
            return
        report = daemon.run_once()
    except DaemonAlreadyRunning as error:
        raise fail(str(error), 1) from None
    finally:
        daemon.close()
        engine.dispose()
    sent = sum(r.sent for r in report.deliveries)
    held = [f"{r.channel}: {r.held}" for r in report.deliveries if r.held]
    typer.echo(
        f"feeds: {report.polled} polled, {report.failed_feeds} failed, {report.new_entries} new "
        f"entries, {report.changes} state changes; alerts: {report.queued} queued, {sent} "
        f"delivered, {report.failed_deliveries} failed"
        + (f"; held ({'; '.join(held)})" if held else "")
    )
    if report.failed_feeds or report.failed_deliveries:
        raise typer.Exit(1)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only deliveries not sent yet.")
    ] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries given up on.")] = False,
    sent: Annotated[bool, typer.Option("--sent", help="Only deliveries sent.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 100,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List deliveries (one row per alert and channel), newest first."""
    if ctx.invoked_subcommand:
        return
    from watch.queries import list_deliveries

    chosen = [name for name, on in (("pending", pending), ("failed", failed), ("sent", sent)) if on]
    if len(chosen) > 1:
        raise fail("choose one of --pending, --failed, --sent")
    config = load(config_path)
    with open_reader(config) as reader:  # plain SQL: a read command starts without SQLAlchemy
        rows = list_deliveries(reader, chosen[0] if chosen else None, limit=limit)
    show(
        rows,
        as_json,
        "deliveries (newest first)",
        DELIVERY_COLUMNS,
        lambda row: [
            row.id,
            row.title,
            row.channel,
            row.status,
            row.attempts,
            when(row.queued_at),
            when(row.sent_at or row.next_attempt_at),
            row.last_error if row.status != "sent" and row.last_error else row.note,
        ],
    )


@alerts_app.command("test")
def test_message(
    channel: Annotated[
        str | None, typer.Argument(help="Only this channel (email, slack, apprise:…).")
    ] = None,
    config_path: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a test message to each configured channel and report each result (exit 1 if any
    failed)."""
    from watch.alerts.channels import Message
    from watch.errors import DeliveryError

    config = load(config_path)
    channels = channels_or_fail(config)
    if channel:
        channels = [c for c in channels if c.name == channel]
        if not channels:
            raise fail(f"no channel {channel!r} is configured")
    if not channels:
        raise fail(
            "no channel is configured: set WATCH_SMTP_URL, WATCH_SLACK_WEBHOOK_URL "
            "or WATCH_APPRISE_URLS"
        )
    results = []
    for target in channels:
        try:
            target.send(Message.test(now()))
            results.append({"channel": target.name, "ok": True, "error": None})
        except DeliveryError as error:
            results.append({"channel": target.name, "ok": False, "error": str(error)})
        finally:
            closer = getattr(target, "close", None)
            if closer:
                closer()
    if as_json:
        emit_json(results)
    else:
        for result in results:
            typer.echo(f"{result['channel']}: {'sent' if result['ok'] else result['error']}")
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@alerts_app.command("retry")
def retry(
    delivery_id: Annotated[int, typer.Argument(help="The delivery id (see `watch alerts`).")],
    config_path: ConfigOption = None,
) -> None:
    """Put a failed delivery back in the queue; the daemon sends it on its next cycle."""
    from watch.alerts.outbox import retry as retry_delivery
    from watch.db import session_scope
    from watch.errors import AlreadySent, UnknownDelivery

    config = load(config_path)
    engine = open_engine(config)
    try:
        with session_scope(engine) as session:
            delivery = retry_delivery(session, delivery_id, now())
    except (UnknownDelivery, AlreadySent) as error:
        raise fail(str(error)) from None
    finally:
        engine.dispose()
    typer.echo(f"delivery {delivery.id} to {delivery.channel} is pending again")
