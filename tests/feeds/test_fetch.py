"""fetch_feed and fetch_many against a real HTTP server on loopback."""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.feed_server import FeedSite
from watch.errors import (
    FeedError,
    FeedHTTPError,
    FeedTimeout,
    FeedTooLarge,
    FeedTruncated,
    FeedUnreachable,
    NotAFeed,
)
from watch.feeds.fetch import (
    FetchRequest,
    FetchResult,
    fetch_feed,
    fetch_many,
    make_client,
    parse_retry_after,
)
from watch.feeds.parse import parse_feed

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title>
<item><guid>wire-1</guid><title>Envoys meet in Hanoi</title>
<link>https://news.example/1</link><pubDate>Wed, 27 Feb 2019 09:00:00 GMT</pubDate></item>
</channel></rss>
"""
LAST_MODIFIED = "Wed, 27 Feb 2019 10:00:00 GMT"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(timeout=30.0) as client:
        yield client


@pytest.fixture
def impatient_client() -> Iterator[httpx.Client]:
    with make_client(timeout=0.3) as client:
        yield client


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- success


def test_fetch_returns_body_type_and_validators(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route("/wire.xml", RSS, etag='"v1"', last_modified=LAST_MODIFIED)

    result = fetch_feed(client, url)

    assert result == FetchResult(
        url=url,
        final_url=url,
        status=200,
        not_modified=False,
        body=RSS.encode(),
        content_type="application/rss+xml",
        etag='"v1"',
        last_modified=LAST_MODIFIED,
    )


def test_fetch_sends_a_user_agent_naming_watch(feed_server: FeedSite, client: httpx.Client):
    fetch_feed(client, feed_server.route("/wire.xml", RSS))

    (request,) = feed_server.requests_to("/wire.xml")
    assert request.headers["user-agent"].startswith("watch/")


def test_fetch_with_matching_etag_is_not_modified(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route("/wire.xml", RSS, etag='"v1"')

    result = fetch_feed(client, url, etag='"v1"')

    assert feed_server.requests_to("/wire.xml")[-1].headers["if-none-match"] == '"v1"'
    assert (result.status, result.not_modified, result.body) == (304, True, None)
    assert result.etag == '"v1"'


def test_fetch_with_stale_etag_gets_the_new_body(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route("/wire.xml", RSS, etag='"v2"')

    result = fetch_feed(client, url, etag='"v1"')

    assert (result.status, result.not_modified, result.etag) == (200, False, '"v2"')
    assert result.body == RSS.encode()


def test_fetch_with_last_modified_is_not_modified(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route("/wire.xml", RSS, last_modified=LAST_MODIFIED)

    result = fetch_feed(client, url, last_modified=LAST_MODIFIED)

    sent = feed_server.requests_to("/wire.xml")[-1].headers
    assert sent["if-modified-since"] == LAST_MODIFIED
    assert "if-none-match" not in sent
    assert result.not_modified
    assert result.last_modified == LAST_MODIFIED


def test_not_modified_keeps_the_sent_etag_when_the_server_omits_it(
    feed_server: FeedSite, client: httpx.Client
):
    url = feed_server.route("/wire.xml", RSS, last_modified=LAST_MODIFIED)

    result = fetch_feed(client, url, etag='"kept"', last_modified=LAST_MODIFIED)

    assert result.not_modified
    assert result.etag == '"kept"'


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_fetch_follows_redirects_to_the_final_url(
    feed_server: FeedSite, client: httpx.Client, status: int
):
    feed_server.route("/moved.xml", RSS)
    old = feed_server.route("/old.xml", status=status, redirect_to="/moved.xml")

    result = fetch_feed(client, old)

    assert result.url == old
    assert result.final_url == feed_server.url("/moved.xml")
    assert result.body == RSS.encode()


def test_fetch_decodes_gzip(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route(
        "/wire.xml", gzip.compress(RSS.encode()), headers={"Content-Encoding": "gzip"}
    )

    assert fetch_feed(client, url).body == RSS.encode()


@pytest.mark.parametrize(
    ("encoding", "content_type"),
    [
        ("windows-1251", "application/rss+xml"),
        ("iso-8859-1", "text/xml; charset=iso-8859-1"),
    ],
)
def test_fetch_then_parse_a_feed_in_another_encoding(
    feed_server: FeedSite, client: httpx.Client, encoding: str, content_type: str
):
    title = "Пхеньян и Москва" if encoding == "windows-1251" else "Séoul répond à Pyongyang"
    xml = RSS.replace("utf-8", encoding).replace("Envoys meet in Hanoi", title)
    url = feed_server.route("/wire.xml", xml.encode(encoding), content_type=content_type)

    fetched = fetch_feed(client, url)
    parsed = parse_feed(
        fetched.body or b"", url=fetched.final_url, content_type=fetched.content_type
    )

    assert [entry.title for entry in parsed.entries] == [title]


def test_fetch_of_an_html_page_succeeds_but_parse_rejects_it(
    feed_server: FeedSite, client: httpx.Client
):
    page = "<!DOCTYPE html><html><head><title>Wire</title></head><body><p>Hi</p></body></html>"
    url = feed_server.route("/", page, content_type="text/html; charset=utf-8")

    fetched = fetch_feed(client, url)
    with pytest.raises(NotAFeed, match="HTML page"):
        parse_feed(fetched.body or b"", url=url, content_type=fetched.content_type)


# --------------------------------------------------------------------------- failures


HTTP_ERRORS = [
    # (status, headers, retry_after_seconds, message)
    (404, {}, None, "HTTP 404 Not Found"),
    (410, {}, None, "HTTP 410 Gone"),
    (500, {}, None, "HTTP 500 Internal Server Error"),
    (
        429,
        {"Retry-After": "120"},
        120.0,
        "HTTP 429 Too Many Requests (retry after 120 s)",
    ),
    (
        503,
        {"Date": "Wed, 27 Mar 2019 12:00:00 GMT", "Retry-After": "Wed, 27 Mar 2019 12:05:00 GMT"},
        300.0,
        "HTTP 503 Service Unavailable (retry after 300 s)",
    ),
]


@pytest.mark.parametrize(
    ("status", "headers", "retry_after", "message"),
    HTTP_ERRORS,
    ids=[f"{case[0]}" for case in HTTP_ERRORS],
)
def test_fetch_http_error_carries_status_and_retry_after(
    feed_server: FeedSite,
    client: httpx.Client,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
    message: str,
):
    url = feed_server.route("/wire.xml", "oops", status=status, headers=headers)

    with pytest.raises(FeedHTTPError) as caught:
        fetch_feed(client, url)

    assert (caught.value.status, caught.value.retry_after_seconds) == (status, retry_after)
    assert str(caught.value) == message
    assert caught.value.url == url


def test_http_error_after_a_redirect_names_where_it_happened(
    feed_server: FeedSite, client: httpx.Client
):
    old = feed_server.route("/old.xml", status=301, redirect_to="/gone.xml")

    with pytest.raises(
        FeedHTTPError, match=r"HTTP 404 Not Found at http://127\.0\.0\.1.*/gone\.xml"
    ):
        fetch_feed(client, old)


def test_fetch_redirect_loop_stops_after_five(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route("/loop.xml", status=302, redirect_to="/loop.xml")

    with pytest.raises(FeedUnreachable, match=r"too many redirects \(more than 5\)"):
        fetch_feed(client, url)
    assert len(feed_server.requests_to("/loop.xml")) == 6


def test_fetch_times_out_on_a_hanging_server(feed_server: FeedSite, impatient_client: httpx.Client):
    url = feed_server.route("/slow.xml", RSS, delay=30)

    with pytest.raises(FeedTimeout, match=r"timed out waiting for 127\.0\.0\.1 to answer"):
        fetch_feed(impatient_client, url)


def test_fetch_gives_up_on_a_body_that_drips_in(feed_server: FeedSite, client: httpx.Client):
    # ten 1 KB pieces a second apart; the deadline leaves a loaded machine time to answer
    url = feed_server.route("/drip.xml", b"x" * 10_000, drip=1.0)

    with pytest.raises(FeedTimeout, match="gave up: body still arriving after"):
        fetch_feed(client, url, max_seconds=2.5)


def test_fetch_deadline_cuts_a_blocked_read_and_is_named(
    feed_server: FeedSite, client: httpx.Client
):
    # one 1 KB piece every 3 s: each read is well inside the client's own timeout; the
    # deadline (the read's timeout is capped to it too) is what cuts the blocked read
    url = feed_server.route("/drip.xml", b"x" * 10_000, drip=3.0)

    with pytest.raises(FeedTimeout) as caught:
        fetch_feed(client, url, max_seconds=0.5)
    assert "gave up: body still arriving after" in str(caught.value)
    assert "(fetch deadline 0.5 s)" in str(caught.value)


def test_fetch_deadline_caps_the_wait_for_an_answer(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route("/slow.xml", RSS, delay=30)

    with pytest.raises(FeedTimeout) as caught:
        fetch_feed(client, url, max_seconds=0.5)
    assert "to answer (after 0.5 s) (fetch deadline 0.5 s)" in str(caught.value)


def test_fetch_truncated_body_is_a_clear_error(feed_server: FeedSite, client: httpx.Client):
    url = feed_server.route("/cut.xml", RSS, truncate_at=100)

    with pytest.raises(FeedTruncated) as caught:
        fetch_feed(client, url)

    assert str(caught.value) == (
        f"body cut off: connection closed after 100 of {len(RSS.encode())} bytes"
    )


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({"repeat": 2_000}, "body is 2,000,000 bytes, over the 100,000-byte cap"),
        ({"repeat": 2_000, "content_length": False}, "body exceeds the 100,000-byte cap"),
    ],
    ids=["declared length", "streamed without length"],
)
def test_fetch_stops_at_the_size_cap(
    feed_server: FeedSite, client: httpx.Client, route: dict, message: str
):
    url = feed_server.route("/huge.xml", b"x" * 1_000, **route)

    with pytest.raises(FeedTooLarge) as caught:
        fetch_feed(client, url, max_bytes=100_000)

    assert str(caught.value) == message


def test_size_cap_counts_decompressed_bytes(feed_server: FeedSite, client: httpx.Client):
    bomb = gzip.compress(b" " * 5_000_000)
    url = feed_server.route("/bomb.xml", bomb, headers={"Content-Encoding": "gzip"})

    assert len(bomb) < 100_000
    with pytest.raises(FeedTooLarge, match="exceeds the 100,000-byte cap"):
        fetch_feed(client, url, max_bytes=100_000)


def test_fetch_unreachable_hosts_say_why(feed_server: FeedSite, client: httpx.Client):
    port = _closed_port()
    https_to_plain = feed_server.route("/wire.xml", RSS).replace("http://", "https://")
    cases = {
        "http://example.invalid/feed.xml": "cannot resolve host example.invalid",
        f"http://127.0.0.1:{port}/feed.xml": f"connection refused by 127.0.0.1:{port}",
        https_to_plain: (
            "TLS error with 127.0.0.1: [SSL: WRONG_VERSION_NUMBER] wrong version number"
        ),
        "ftp://example.org/feed.xml": "unsupported URL scheme in ftp://example.org/feed.xml",
    }
    seen = {}
    for url in cases:
        with pytest.raises(FeedUnreachable) as caught:
            fetch_feed(client, url)
        seen[url] = str(caught.value)
    assert seen == cases


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 27 Mar 2019 12:02:00 GMT", 120.0),
        ("Wed, 27 Mar 2019 11:00:00 GMT", 0.0),  # already past
        ("999999999999", 30 * 86400.0),  # capped
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None):
    now = datetime(2019, 3, 27, 12, 0, tzinfo=UTC)

    assert parse_retry_after(value, now=now) == seconds


# --------------------------------------------------------------------------- fetch_many


def test_fetch_many_reports_every_feed_and_one_failure_stops_none(
    feed_server: FeedSite, client: httpx.Client
):
    port = _closed_port()
    feed_server.route("/fresh.xml", RSS, etag='"new"')
    feed_server.route("/same.xml", RSS, etag='"same"')
    feed_server.route("/slow.xml", RSS, delay=30)
    feed_server.route("/cut.xml", RSS, truncate_at=10)
    requests = [
        FetchRequest(feed_server.url("/fresh.xml"), etag='"old"', key="fresh"),
        FetchRequest(feed_server.url("/same.xml"), etag='"same"', key="same"),
        FetchRequest(feed_server.url("/slow.xml"), key="slow"),
        FetchRequest(feed_server.url("/cut.xml"), key="cut"),
        FetchRequest(feed_server.url("/missing.xml"), key="missing"),
        FetchRequest(f"http://127.0.0.1:{port}/x.xml", key="refused"),
        FetchRequest("http://example.invalid/x.xml", key="dns"),
    ]

    outcomes = {
        request.key: result
        # the deadline times the hanging feed out; the others have as long to answer
        for request, result in fetch_many(client, requests, concurrency=3, max_seconds=5)
    }

    kinds = {key: type(result).__name__ for key, result in outcomes.items()}
    assert kinds == {
        "fresh": "FetchResult",
        "same": "FetchResult",
        "slow": "FeedTimeout",
        "cut": "FeedTruncated",
        "missing": "FeedHTTPError",
        "refused": "FeedUnreachable",
        "dns": "FeedUnreachable",
    }
    same, fresh = outcomes["same"], outcomes["fresh"]
    assert isinstance(same, FetchResult) and same.not_modified
    assert isinstance(fresh, FetchResult) and not fresh.not_modified


def test_fetch_many_takes_a_generator_and_can_stop_early(
    feed_server: FeedSite, client: httpx.Client
):
    feed_server.route("/wire.xml", RSS)
    requests = (FetchRequest(feed_server.url(f"/wire.xml?n={n}"), key=n) for n in range(100))

    first = []
    for request, result in fetch_many(client, requests, concurrency=4):
        assert isinstance(result, FetchResult)
        first.append(request.key)
        if len(first) == 5:
            break

    assert len(first) == 5
    assert len(feed_server.requests) < 100


def test_fetch_many_turns_an_unexpected_error_into_a_feed_error(feed_server: FeedSite):
    client = make_client()
    client.close()  # a closed client raises RuntimeError, not an httpx error

    ((_request, result),) = list(fetch_many(client, [FetchRequest(feed_server.url("/x.xml"))]))

    assert isinstance(result, FeedError)
    assert str(result).startswith("unexpected error: RuntimeError:")


def test_fetch_many_rejects_zero_concurrency(client: httpx.Client):
    with pytest.raises(ValueError):
        list(fetch_many(client, [], concurrency=0))
