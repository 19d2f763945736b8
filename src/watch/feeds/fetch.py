"""Fetch feeds over HTTP politely: conditional GET, a size cap, one clear error line per feed.

`fetch_feed` sends If-None-Match / If-Modified-Since from the last answer, so an unchanged
feed costs a 304 and no parsing. It streams the body and stops at `max_bytes` (counted after
gzip/deflate decoding, so a compressed bomb stops too). Every failure is a `FeedError`
subclass whose `str()` is one line fit for `watch feeds`:

    FeedUnreachable  cannot resolve host example.invalid
                     connection refused by 127.0.0.1:8080
                     TLS error with example.org: [SSL: CERTIFICATE_VERIFY_FAILED] ...
                     too many redirects (more than 5)
                     example.org closed the connection without answering
    FeedTimeout      timed out connecting to example.org (after 20 s)
                     timed out waiting for example.org to answer (after 20 s)
                     gave up: body still arriving after 4,096 bytes (fetch deadline 30 s)
    FeedHTTPError    HTTP 404 Not Found
                     HTTP 429 Too Many Requests (retry after 120 s)
    FeedTooLarge     body is 52,428,800 bytes, over the 10,000,000-byte cap
    FeedTruncated    body cut off: connection closed after 100 of 1,000 bytes

`fetch_many` runs `fetch_feed` over many feeds in a small thread pool sharing one client
(httpx's sync pool is thread-safe); a failing feed yields its error and never stops the rest.
"""

from __future__ import annotations

import math
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from socket import gaierror

import httpx

from watch import __version__
from watch.errors import (
    FeedError,
    FeedHTTPError,
    FeedTimeout,
    FeedTooLarge,
    FeedTruncated,
    FeedUnreachable,
)

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchRequest",
    "FetchResult",
    "fetch_feed",
    "fetch_many",
    "make_client",
    "parse_retry_after",
]

DEFAULT_USER_AGENT = f"watch/{__version__} (news feed poller; python-httpx/{httpx.__version__})"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5
DEFAULT_DEADLINE = 30.0  # seconds for a whole fetch (`defaults.fetch_timeout`)
MAX_RETRY_AFTER_SECONDS = 30 * 86400  # a larger ask is read as 30 days


@dataclass(frozen=True)
class FetchResult:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int  # 200, 304, ...
    not_modified: bool  # True on 304: no body, costs no parsing
    body: bytes | None
    content_type: str | None
    etag: str | None  # from the response (or the one sent, on 304)
    last_modified: str | None


@dataclass(frozen=True)
class FetchRequest:
    """One feed to fetch; `key` is the caller's own handle (a feed id), passed back untouched."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    key: object = None


def make_client(
    timeout: float = 20.0, user_agent: str = DEFAULT_USER_AGENT, *, max_connections: int = 20
) -> httpx.Client:
    """An HTTP/1.1 client for feeds: follows up to 5 redirects, keeps connections alive.

    `timeout` bounds each of connecting, each read, and waiting for a pooled connection.
    Keep `fetch_many`'s concurrency at or below `max_connections`.
    """
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        http1=True,
        http2=False,
        headers={"User-Agent": user_agent, "Accept": ACCEPT},
    )


def fetch_feed(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 10_000_000,
    max_seconds: float = DEFAULT_DEADLINE,
) -> FetchResult:
    """GET `url` conditionally; a 304 comes back as `not_modified` with no body.

    `max_seconds` is one deadline for the whole fetch (the tracker's `defaults.fetch_timeout`):
    each wait is capped by what is left of it, and a watchdog shuts the socket when it passes,
    so a server dripping bytes cannot hold a worker for ever. Raises a `FeedError` subclass
    (see the module docstring) for anything but a 2xx or 304.
    """
    deadline = time.monotonic() + max_seconds
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    waits = _capped(client.timeout, max_seconds)
    try:
        with (
            client.stream("GET", url, headers=headers, timeout=waits) as response,
            _watchdog(response, deadline),
        ):
            return _read(response, url, etag, last_modified, max_bytes, deadline, max_seconds)
    except FeedError:
        raise
    except httpx.TimeoutException as exc:
        reason = _timeout_reason(exc, url, waits)
        if waits != client.timeout:
            reason += f" (fetch deadline {max_seconds:g} s)"
        raise FeedTimeout(url, reason) from exc
    except httpx.TooManyRedirects as exc:
        raise FeedUnreachable(
            url, f"too many redirects (more than {client.max_redirects})"
        ) from exc
    except httpx.RemoteProtocolError as exc:
        raise FeedUnreachable(url, _protocol_reason(exc, url)) from exc
    except httpx.TransportError as exc:  # connect/read errors, unsupported protocol, proxy errors
        raise FeedUnreachable(url, _transport_reason(exc, url)) from exc
    except httpx.DecodingError as exc:
        raise FeedUnreachable(url, f"could not decode the body: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise FeedUnreachable(url, f"invalid URL: {exc}") from exc


def fetch_many(
    client: httpx.Client,
    requests: Iterable[FetchRequest],
    *,
    concurrency: int = 8,
    max_bytes: int = 10_000_000,
    max_seconds: float = DEFAULT_DEADLINE,
) -> Iterator[tuple[FetchRequest, FetchResult | FeedError]]:
    """Fetch every request, `concurrency` at a time; yield each (request, result or error) as it
    completes (not in input order). Stopping the iteration early cancels what has not started.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    pending = iter(requests)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="watch-fetch") as pool:
        in_flight: dict[Future[FetchResult | FeedError], FetchRequest] = {}

        def submit_next() -> None:
            request = next(pending, None)
            if request is not None:
                future = pool.submit(_fetch_one, client, request, max_bytes, max_seconds)
                in_flight[future] = request

        try:
            for _ in range(concurrency * 2):  # a short queue keeps every worker busy
                submit_next()
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    request = in_flight.pop(future)
                    submit_next()
                    yield request, future.result()
        finally:
            for future in in_flight:
                future.cancel()


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date (RFC 9110 10.2.3).

    A date in the past gives 0; an unreadable value gives None; over 30 days reads as 30 days.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), float(MAX_RETRY_AFTER_SECONDS))


def _fetch_one(
    client: httpx.Client, request: FetchRequest, max_bytes: int, max_seconds: float
) -> FetchResult | FeedError:
    try:
        return fetch_feed(
            client,
            request.url,
            etag=request.etag,
            last_modified=request.last_modified,
            max_bytes=max_bytes,
            max_seconds=max_seconds,
        )
    except FeedError as error:
        return error
    except Exception as exc:  # a bug met on one feed must not stop the others
        return FeedError(request.url, f"unexpected error: {type(exc).__name__}: {exc}")


def _read(
    response: httpx.Response,
    url: str,
    etag: str | None,
    last_modified: str | None,
    max_bytes: int,
    deadline: float,
    max_seconds: float,
) -> FetchResult:
    status = response.status_code
    final_url = str(response.url)
    not_modified = status == 304
    body = None
    if not not_modified:
        if status >= 300:
            raise _http_error(response, url, final_url)
        declared = _content_length(response)
        if declared is not None and declared > max_bytes:
            raise FeedTooLarge(url, f"body is {declared:,} bytes, over the {max_bytes:,}-byte cap")
        body = _read_capped(response, url, declared, max_bytes, deadline, max_seconds)
    # A 304 may leave the validators out: the ones we sent still hold.
    kept_etag, kept_modified = (etag, last_modified) if not_modified else (None, None)
    return FetchResult(
        url=url,
        final_url=final_url,
        status=status,
        not_modified=not_modified,
        body=body,
        content_type=response.headers.get("content-type"),
        etag=response.headers.get("etag") or kept_etag,
        last_modified=response.headers.get("last-modified") or kept_modified,
    )


def _read_capped(
    response: httpx.Response,
    url: str,
    declared: int | None,
    max_bytes: int,
    deadline: float,
    max_seconds: float,
) -> bytes:
    chunks: list[bytes] = []
    size = 0

    def too_slow() -> FeedTimeout:
        return FeedTimeout(
            url,
            f"gave up: body still arriving after {size:,} bytes (fetch deadline {max_seconds:g} s)",
        )

    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FeedTooLarge(url, f"body exceeds the {max_bytes:,}-byte cap")
            if time.monotonic() > deadline:
                raise too_slow()
            chunks.append(chunk)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout) as exc:
        # At the deadline the watchdog shuts the socket, but the read's own timeout (capped
        # by the deadline) may fire first: either way the deadline is what cut the body.
        if time.monotonic() >= deadline:
            raise too_slow() from exc
        if isinstance(exc, httpx.ReadTimeout):
            raise
        received = response.num_bytes_downloaded
        expected = f" of {declared:,}" if declared is not None else ""
        raise FeedTruncated(
            url, f"body cut off: connection closed after {received:,}{expected} bytes"
        ) from exc
    return b"".join(chunks)


def _capped(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """The client's waits, none longer than the fetch deadline."""

    def cap(value: float | None) -> float:
        return seconds if value is None else min(value, seconds)

    if all(v is not None and v <= seconds for v in timeout.as_dict().values()):
        return timeout
    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )


@contextmanager
def _watchdog(response: httpx.Response, deadline: float) -> Iterator[None]:
    """Shut the response's socket when the deadline passes: a blocked read then returns."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is None:
        yield
        return

    def shut() -> None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), shut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _http_error(response: httpx.Response, url: str, final_url: str) -> FeedHTTPError:
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = response.reason_phrase or "error"
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=_server_now(response))
    reason = f"HTTP {status} {phrase}"
    if 300 <= status < 400:
        reason += " (a redirect without a usable Location)"
    if final_url != url:
        reason += f" at {final_url}"
    if retry_after is not None:
        reason += f" (retry after {retry_after:.0f} s)"
    return FeedHTTPError(url, reason, status, retry_after)


def _server_now(response: httpx.Response) -> datetime:
    """The server's clock (its Date header), which an HTTP-date Retry-After is written against."""
    try:
        when = parsedate_to_datetime(response.headers["date"])
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except (KeyError, TypeError, ValueError, IndexError):
        return datetime.fromtimestamp(time.time(), UTC)


def _content_length(response: httpx.Response) -> int | None:
    try:
        length = int(response.headers["content-length"])
    except (KeyError, ValueError):
        return None
    return length if length >= 0 else None


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return url


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transport_reason(exc: httpx.TransportError, url: str) -> str:
    host = _host(url)
    for cause in _causes(exc):
        if isinstance(cause, gaierror):
            return f"cannot resolve host {host}"
        if isinstance(cause, ConnectionRefusedError):
            port = httpx.URL(url).port or (443 if url.startswith("https") else 80)
            return f"connection refused by {host}:{port}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error with {host}: {_ssl_reason(cause)}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL scheme in {url}"
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"cannot resolve host {host}"
    if "SSL" in text or "TLS" in text or "certificate" in text:
        return f"TLS error with {host}: {text}"
    if isinstance(exc, httpx.ReadError):
        return f"connection to {host} lost: {text or type(exc).__name__}"
    return f"cannot connect to {host}: {text or type(exc).__name__}"


def _ssl_reason(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"certificate not trusted ({error.verify_message})"
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text) or type(error).__name__


def _protocol_reason(exc: httpx.RemoteProtocolError, url: str) -> str:
    host = _host(url)
    text = str(exc)
    if "without sending a response" in text or "Server disconnected" in text:
        return f"{host} closed the connection without answering"
    return f"{host} broke the HTTP protocol: {text}"


def _timeout_reason(exc: httpx.TimeoutException, url: str, timeout: httpx.Timeout) -> str:
    host = _host(url)
    if isinstance(exc, httpx.ConnectTimeout):
        return f"timed out connecting to {host} (after {timeout.connect:g} s)"
    if isinstance(exc, httpx.PoolTimeout):
        return f"timed out waiting for a free connection (after {timeout.pool:g} s)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"timed out sending the request to {host} (after {timeout.write:g} s)"
    return f"timed out waiting for {host} to answer (after {timeout.read:g} s)"
