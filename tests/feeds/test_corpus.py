"""feedparser's own test feeds (about 1,770, well- and ill-formed) through parse_feed, and a few
served over real HTTP. The corpus lives outside the repository; the tests skip without it."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.feed_server import FeedSite
from tests.support.paths import SHARED
from watch.errors import NotAFeed
from watch.feeds.fetch import fetch_feed, make_client
from watch.feeds.parse import ParsedFeed, parse_feed

CORPUS = SHARED / "corpus" / "feedparser-tests"

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"feedparser test corpus not found at {CORPUS}"
)

# Each corpus file may name HTTP headers it is meant to be served with, in its leading comment.
_HEADER_LINE = re.compile(rb"^Header:\s+([\w-]+):[ \t]*(.*?)\s*$", re.MULTILINE)


def _corpus_files() -> list[Path]:
    return sorted(CORPUS.rglob("*.xml"))


def _declared_headers(body: bytes) -> dict[str, str]:
    comment = body.split(b"-->", 1)[0]
    return {name.decode(): value.decode("latin-1") for name, value in _HEADER_LINE.findall(comment)}


def test_every_corpus_file_parses_or_is_not_a_feed():
    outcomes: Counter[str] = Counter()
    not_feeds: list[str] = []
    crashes: list[str] = []
    for path in _corpus_files():
        name = str(path.relative_to(CORPUS))
        body = path.read_bytes()
        content_type = _declared_headers(body).get("Content-type")
        try:
            feed = parse_feed(body, url="http://example.com/feed.xml", content_type=content_type)
        except NotAFeed as error:
            outcomes["not a feed"] += 1
            not_feeds.append(f"{name}: {error}")
            continue
        except Exception as error:  # the point of the test: collect them all, then fail
            crashes.append(f"{name}: {type(error).__name__}: {error}")
            continue
        assert isinstance(feed, ParsedFeed)
        outcomes["with entries" if feed.entries else "no entries"] += 1

    assert crashes == []
    assert sum(outcomes.values()) >= 1_700, "the corpus looks incomplete"
    assert outcomes["with entries"] >= 1_100
    assert not [line for line in not_feeds if line.startswith("wellformed")]
    assert outcomes["not a feed"] <= 10, not_feeds


def test_corpus_entries_have_plain_text_and_aware_dates():
    for path in _corpus_files():
        try:
            feed = parse_feed(path.read_bytes())
        except NotAFeed:
            continue
        for entry in feed.entries:
            assert entry.published is None or entry.published.tzinfo is UTC, path
            assert entry.title == entry.title.strip(), path
            assert "\n" not in entry.summary, path


# ------------------------------------------------------------------- over real HTTP

SERVED = [
    "wellformed/rss/item_pubDate.xml",
    "wellformed/atom10/entry_title.xml",
    "wellformed/http/headers_last_modified-modified.xml",
    "illformed/http_high_bit_date.xml",
    "illformed/chardet/koi8r.xml",
    "illformed/rss_incomplete_cdata.xml",
]


@pytest.fixture
def client():
    with make_client(timeout=30.0) as client:
        yield client


@pytest.mark.parametrize("name", SERVED)
def test_corpus_file_served_over_http_fetches_and_parses(
    feed_server: FeedSite, client: httpx.Client, name: str
):
    body = (CORPUS / name).read_bytes()
    headers = _declared_headers(body)
    url = feed_server.route(
        f"/{name}",
        body,
        content_type=headers.pop("Content-type", "application/xml"),
        headers=headers,
    )

    fetched = fetch_feed(client, url)
    parsed = parse_feed(
        fetched.body or b"", url=fetched.final_url, content_type=fetched.content_type
    )

    assert fetched.body == body
    assert isinstance(parsed, ParsedFeed)


def test_served_corpus_entry_keeps_its_date(feed_server: FeedSite, client: httpx.Client):
    name = "wellformed/rss/item_pubDate.xml"
    url = feed_server.route(f"/{name}", (CORPUS / name).read_bytes())

    fetched = fetch_feed(client, url)
    (entry,) = parse_feed(fetched.body or b"", url=url, content_type=fetched.content_type).entries

    assert entry.published == datetime(2004, 1, 1, 19, 48, 21, tzinfo=UTC)


def test_served_corpus_feed_with_last_modified_then_answers_304(
    feed_server: FeedSite, client: httpx.Client
):
    name = "wellformed/http/headers_last_modified-modified.xml"
    body = (CORPUS / name).read_bytes()
    url = feed_server.route(
        f"/{name}", body, last_modified=_declared_headers(body)["Last-Modified"]
    )

    first = fetch_feed(client, url)
    second = fetch_feed(client, url, etag=first.etag, last_modified=first.last_modified)

    assert first.last_modified == "Mon, 03 Apr 2023 01:02:03 GMT"
    assert (second.status, second.not_modified) == (304, True)
