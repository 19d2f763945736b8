"""A real HTTP server on 127.0.0.1 serving feeds to tests (pytest plugin; fixture `feed_server`).

One `ThreadingHTTPServer` runs in a thread for the whole session; each test gets a `FeedSite`, a
private namespace of routes under a unique path prefix, so tests never see each other's routes
or requests. Paths given to `route()` and `url()` are relative to that namespace.

    def test_refresh_sends_etag(feed_server):
        feed_server.route("/news.xml", body=RSS, etag='"v1"')
        url = feed_server.url("/news.xml")            # http://127.0.0.1:PORT/t7/news.xml
        ...
        assert feed_server.requests_to("/news.xml")[-1].headers["if-none-match"] == '"v1"'

`route(path, body=b"", *, status=200, headers=None, content_type="application/rss+xml",
etag=None, last_modified=None, delay=0.0, redirect_to=None, truncate_at=None, repeat=1,
content_length=True, drip=0.0)` serves, on GET:

- a feed: `body` (str is sent as UTF-8; pass bytes for other encodings, e.g.
  `xml.encode("windows-1251")` with a matching XML declaration);
- conditional GET: with `etag`, a matching If-None-Match answers 304; with `last_modified`
  only (str HTTP-date or aware datetime), an If-Modified-Since at or after it answers 304.
  The 304 carries the ETag / Last-Modified headers and no body;
- redirects: `status=301` (or 302/307/308) with `redirect_to="/other.xml"` (a path in this
  namespace, or an absolute URL) sets Location;
- errors: any `status` (404, 500, 429...) with `headers={"Retry-After": "120"}` or an HTTP-date;
- a hang: `delay=30` waits before answering (cut short when the test ends, so no thread leaks);
- a truncated body: `truncate_at=100` announces the full Content-Length, sends 100 bytes, closes;
- a huge body: `repeat=N` sends `body` N times (cheap in memory); `content_length=False` sends
  no Content-Length and closes the connection to end the body (so the size is unknown up front);
- a slow drip: `drip=0.5` sends the body 1 KB at a time, pausing 0.5 s between pieces;
- anything else: `headers` are added last and win (e.g. a different Content-Type, a fixed Date).

Unknown paths answer 404. Every request is recorded as a `RecordedRequest(method, path,
headers)` with lower-case header names; `feed_server.requests` lists them all, `requests_to(path)`
those for one path. `bench/poll.py` uses `FeedServer` directly, outside pytest.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["FeedServer", "FeedSite", "RecordedRequest", "Route", "feed_server"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # relative to the site, query string included
    headers: dict[str, str]  # lower-case names


@dataclass(frozen=True)
class Route:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/rss+xml"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    location: str | None = None
    truncate_at: int | None = None
    repeat: int = 1
    content_length: bool = True
    drip: float = 0.0


class FeedSite:
    """One test's routes and recorded requests, under its own path prefix on the shared server."""

    def __init__(self, server: FeedServer, prefix: str) -> None:
        self._server = server
        self.prefix = prefix
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.closed = threading.Event()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}{self.prefix}"

    def url(self, path: str = "/") -> str:
        return self.base_url + _slash(path)

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/rss+xml",
        etag: str | None = None,
        last_modified: str | datetime | None = None,
        delay: float = 0.0,
        redirect_to: str | None = None,
        truncate_at: int | None = None,
        repeat: int = 1,
        content_length: bool = True,
        drip: float = 0.0,
    ) -> str:
        """Serve `path` as described in the module docstring; returns its URL."""
        if isinstance(last_modified, datetime):
            last_modified = format_datetime(last_modified, usegmt=True)
        location = None
        if redirect_to is not None:
            location = redirect_to if "://" in redirect_to else self.url(redirect_to)
        route = Route(
            body=body.encode("utf-8") if isinstance(body, str) else body,
            status=status,
            headers=dict(headers or {}),
            content_type=content_type,
            etag=etag,
            last_modified=last_modified,
            delay=delay,
            location=location,
            truncate_at=truncate_at,
            repeat=repeat,
            content_length=content_length,
            drip=drip,
        )
        with self._lock:
            self.routes[_slash(path)] = route
        return self.url(path)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == _slash(path)]

    def record(self, request: RecordedRequest) -> Route | None:
        with self._lock:
            self.requests.append(request)
            return self.routes.get(request.path) or self.routes.get(request.path.split("?", 1)[0])

    def close(self) -> None:
        """Wake any handler still delaying, and forget this site."""
        self.closed.set()
        self._server.drop_site(self.prefix)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server
    site_closed: threading.Event

    def do_GET(self) -> None:
        site, path = self.server.owner.site_for(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        route = site.record(RecordedRequest("GET", path, headers)) if site else None
        if site is None or route is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found\n")
            return
        self.site_closed = site.closed
        if route.delay and (site.closed.wait(route.delay) or self.server.owner.stopping.is_set()):
            self.close_connection = True
            return
        if _not_modified(route, headers):
            self._send(304, _validators(route), b"")
            return
        out = _validators(route)
        if route.content_type:
            out["Content-Type"] = route.content_type
        if route.location:
            out["Location"] = route.location
        overridden = {name.lower() for name in route.headers}
        out = {k: v for k, v in out.items() if k.lower() not in overridden} | route.headers
        self._send(route.status, out, route.body, route)

    def _send(
        self, status: int, headers: dict[str, str], body: bytes, route: Route | None = None
    ) -> None:
        repeat = route.repeat if route else 1
        self.send_response_only(status)
        names = {name.lower() for name in headers}
        if "server" not in names:
            self.send_header("Server", "watch-test-feed-server")
        if "date" not in names:  # a route may pin Date, e.g. to test an HTTP-date Retry-After
            self.send_header("Date", self.date_time_string())
        for name, value in headers.items():
            self.send_header(name, value)
        if status == 304:
            self.end_headers()
            return
        if route is None or route.content_length:
            self.send_header("Content-Length", str(len(body) * repeat))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if route is not None and route.truncate_at is not None:
            self.wfile.write(body[: route.truncate_at])
            self.wfile.flush()
            self.close_connection = True
            return
        if route is not None and route.drip:
            for start in range(0, len(body), 1024):
                self.wfile.write(body[start : start + 1024])
                if self.site_closed.wait(route.drip):
                    break
            self.close_connection = True
            return
        for _ in range(repeat):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _validators(route: Route) -> dict[str, str]:
    headers = {}
    if route.etag:
        headers["ETag"] = route.etag
    if route.last_modified:
        headers["Last-Modified"] = route.last_modified
    return headers


def _not_modified(route: Route, headers: dict[str, str]) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides if the route has an ETag, else If-Modified-Since."""
    if route.status != 200:
        return False
    if route.etag is not None:
        sent = headers.get("if-none-match")
        if sent is None:
            return False
        tags = [tag.strip().removeprefix("W/") for tag in sent.split(",")]
        return "*" in tags or route.etag.removeprefix("W/") in tags
    if route.last_modified is not None and "if-modified-since" in headers:
        try:
            since = parsedate_to_datetime(headers["if-modified-since"])
            return parsedate_to_datetime(route.last_modified) <= since
        except (TypeError, ValueError):
            return False
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FeedServer

    def __init__(self, owner: FeedServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-answer (timeouts, size caps) are what tests provoke.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FeedServer:
    """The loopback server; a context manager. `site()` opens a fresh namespace of routes."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._sites: dict[str, FeedSite] = {}
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="feed-server"
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for site in list(self._sites.values()):
            site.closed.set()
        self._server.shutdown()
        with self._server.connections_lock:
            open_connections = list(self._server.connections)
        for connection in open_connections:  # idle keep-alive handlers block on read otherwise
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join()

    def site(self, prefix: str | None = None) -> FeedSite:
        """A new namespace; `prefix=""` serves paths at the root (benchmarks, manual runs)."""
        if prefix is None:
            prefix = f"/t{next(self._counter)}"
        site = FeedSite(self, prefix)
        with self._lock:
            self._sites[prefix] = site
        return site

    def drop_site(self, prefix: str) -> None:
        with self._lock:
            self._sites.pop(prefix, None)

    def site_for(self, raw_path: str) -> tuple[FeedSite | None, str]:
        first = "/" + raw_path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        with self._lock:
            site = self._sites.get(first)
            if site is not None:
                return site, _slash(raw_path[len(first) :])
            return self._sites.get(""), raw_path


def _slash(path: str) -> str:
    return path if path.startswith("/") else "/" + path


@pytest.fixture(scope="session")
def feed_server_session() -> Iterator[FeedServer]:
    """The one loopback server of the test session."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def feed_server(feed_server_session: FeedServer) -> Iterator[FeedSite]:
    """This test's routes on the loopback feed server; see the module docstring."""
    site = feed_server_session.site()
    yield site
    site.close()
