"""`watch serve`: the web dashboard over the same database and tracker file."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from watch.cli.common import ConfigOption, fail, load, now, open_engine


def serve(
    config_path: ConfigOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; keep loopback unless a proxy fronts it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
) -> None:
    """Serve the dashboard: overview, indicators, evidence review, feeds and alerts.

    Review actions (reject, resolve, reopen, retry) need the token in WATCH_WEB_TOKEN, sent as
    the X-Watch-Token header or typed into the login form; without it the site is read-only.
    Stops on Ctrl-C / SIGTERM.
    """
    from watch.web.app import create_app
    from watch.web.server import LOOPBACK, WebServer

    config = load(config_path)
    token = os.environ.get("WATCH_WEB_TOKEN") or None
    engine = open_engine(config)
    try:
        server = WebServer(create_app(config, engine, now, token), host, port)
    except OSError as error:
        raise fail(f"cannot listen on {host}:{port}: {error.strerror or error}", 1) from None
    if host not in LOOPBACK:
        typer.echo(
            f"watch: listening on {host}, not loopback: anyone who can reach it reads it", err=True
        )
    mode = "review on with the token" if token else "read-only (WATCH_WEB_TOKEN not set)"
    typer.echo(f"watch: serving {config.tracker.title} on {server.url}/ ({mode})")
    try:
        server.run()
    finally:
        engine.dispose()
