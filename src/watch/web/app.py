"""The Starlette application: the routes, the static files, and headers every answer carries."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

import psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from watch.config import Config
from watch.web import actions, pages
from watch.web.site import STATIC, Site

# Scripts only from this site, no inline script at all, no framing: a headline that slipped
# past escaping still could not run.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.method == "GET" and response.media_type == "text/html":
            response.headers["cache-control"] = "no-store"
        return response


ROUTES = [
    Route("/", pages.overview, name="overview"),
    Route("/indicators", pages.indicators, name="indicators"),
    Route("/indicators/{indicator_id}", pages.indicator, name="indicator"),
    Route("/feeds", pages.feeds, name="feeds"),
    Route("/alerts", pages.alerts, name="alerts"),
    Route("/login", pages.login_form, name="login"),
    Route("/login", actions.login, methods=["POST"]),
    Route("/logout", actions.logout, methods=["POST"]),
    Route("/evidence/{evidence_id:int}/reject", actions.reject, methods=["POST"]),
    Route("/indicators/{indicator_id}/resolve", actions.resolve, methods=["POST"]),
    Route("/indicators/{indicator_id}/reopen", actions.reopen, methods=["POST"]),
    Route("/alerts/{delivery_id:int}/retry", actions.retry, methods=["POST"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


def create_app(
    config: Config, engine: Engine, clock: Callable[[], datetime], token: str | None
) -> Starlette:
    """The dashboard over `engine` for `config`; writes need `token` (None: read-only)."""
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SecurityHeaders)],
        # pages read through SQLAlchemy and through the driver (watch.reader) alike
        exception_handlers={
            error: pages.database_problem
            for error in (SQLAlchemyError, sqlite3.Error, psycopg.Error)
        },
    )
    app.state.site = Site(config=config, engine=engine, clock=clock, token=token or None)
    return app
