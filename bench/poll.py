"""Polling throughput: fetch_many over 1,000 loopback feeds, most answering 304; parse rates.

Serves `--feeds` feeds from the test suite's loopback server (tests/feed_server.py), in a
separate process unless `--same-process` (then server and client share one GIL). Every
request carries the ETag of the last poll; `--changed` of the feeds (10%) have a new ETag and
answer 200 with `--entries` entries, the rest answer 304. Times one `fetch_many` pass per
concurrency level over one shared client, then feedparser's parse-only rate and parse_feed's
rate on the changed feeds' bodies (the ingest benchmark compares against the former).
`--async` also times httpx.AsyncClient at the same concurrency levels, for comparison.

    .venv/bin/python bench/poll.py [--feeds 1000] [--changed 0.1] [--concurrency 4,8,16,32]
        [--async] [--same-process]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import multiprocessing
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.feed_server import FeedServer, FeedSite  # noqa: E402

from watch.feeds.fetch import FetchRequest, fetch_many, make_client  # noqa: E402
from watch.feeds.parse import parse_feed  # noqa: E402

WORDS = [
    *("talks", "summit", "envoy", "missile", "launch", "site", "sanctions", "relief", "drills"),
    *("border", "liaison", "office", "satellite", "imagery", "rocket", "engine", "test"),
    *("stand", "delegation", "ministry", "statement", "analysts", "negotiations", "deadline"),
    *("pressure", "visit", "railway", "port", "fuel", "shipment", "inspection"),
]


def feed_body(rng: random.Random, n_entries: int, number: int) -> bytes:
    start = datetime(2019, 3, 1, tzinfo=UTC)
    items = []
    for i in range(n_entries):
        title = " ".join(rng.choice(WORDS) for _ in range(8)).capitalize()
        summary = "<p>" + " ".join(rng.choice(WORDS) for _ in range(40)) + "</p>"
        items.append(
            f"<item><title>{escape(title)}</title>"
            f"<link>https://news.example/{number}/{i}</link>"
            f'<guid isPermaLink="false">feed-{number}-{i}</guid>'
            f"<description>{escape(summary)}</description>"
            f"<pubDate>{format_datetime(start + timedelta(hours=i))}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Feed {number}</title><link>https://news.example/</link>"
        f"<description>bench</description>{''.join(items)}</channel></rss>"
    ).encode()


def make_feeds(n_feeds: int, changed: float, n_entries: int) -> list[tuple[bytes, bool]]:
    """(body, changed since the last poll) per feed, the same on every call."""
    rng = random.Random(7)
    changed_ids = set(rng.sample(range(n_feeds), round(n_feeds * changed)))
    return [(feed_body(rng, n_entries, n), n in changed_ids) for n in range(n_feeds)]


def serve(site: FeedSite, feeds: list[tuple[bytes, bool]]) -> None:
    for number, (body, changed) in enumerate(feeds):
        site.route(f"/feed/{number}.xml", body, etag='"v2"' if changed else '"v1"')


def serve_in_child(connection: Connection, n_feeds: int, changed: float, n_entries: int) -> None:
    """The server in its own process, so the figures are the client's cost, not the GIL's."""
    with FeedServer() as server:
        serve(server.site(""), make_feeds(n_feeds, changed, n_entries))
        connection.send(server.port)
        connection.recv()  # until told to stop


def time_fetch_many(base_url: str, n_feeds: int, concurrency: int) -> tuple[float, Counter]:
    requests = [
        FetchRequest(f"{base_url}/feed/{n}.xml", etag='"v1"', key=n) for n in range(n_feeds)
    ]
    outcomes: Counter[str] = Counter()
    with make_client(max_connections=max(concurrency, 20)) as client:
        started = time.perf_counter()
        for _, result in fetch_many(client, requests, concurrency=concurrency):
            outcomes[str(getattr(result, "status", type(result).__name__))] += 1
        return time.perf_counter() - started, outcomes


def time_async(base_url: str, n_feeds: int, concurrency: int) -> float:
    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=20.0) as client:
            gate = asyncio.Semaphore(concurrency)

            async def one(n: int) -> int:
                async with gate:
                    url = f"{base_url}/feed/{n}.xml"
                    response = await client.get(url, headers={"If-None-Match": '"v1"'})
                    return response.status_code

            started = time.perf_counter()
            await asyncio.gather(*(one(n) for n in range(n_feeds)))
            return time.perf_counter() - started

    return asyncio.run(run())


def parse_rates(bodies: list[bytes], repeat: int) -> tuple[int, float, float]:
    entries = sum(len(feedparser.parse(io.BytesIO(b)).entries) for b in bodies) * repeat
    started = time.perf_counter()
    for _ in range(repeat):
        for body in bodies:
            feedparser.parse(io.BytesIO(body))
    feedparser_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(repeat):
        for body in bodies:
            parse_feed(body, content_type="application/rss+xml")
    parse_feed_seconds = time.perf_counter() - started
    return entries, feedparser_seconds, parse_feed_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--concurrency", default="4,8,16,32")
    parser.add_argument("--parse-repeat", type=int, default=3)
    parser.add_argument("--async", dest="compare_async", action="store_true")
    parser.add_argument("--same-process", action="store_true", help="serve from this process")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]

    feeds = make_feeds(args.feeds, args.changed, args.entries)
    bodies = [body for body, changed in feeds if changed]
    with contextlib.ExitStack() as stack:
        if args.same_process:
            server = stack.enter_context(FeedServer())
            serve(server.site(""), feeds)
            port = server.port
        else:
            here, there = multiprocessing.get_context("spawn").Pipe()
            child = multiprocessing.get_context("spawn").Process(
                target=serve_in_child, args=(there, args.feeds, args.changed, args.entries)
            )
            child.start()
            stack.callback(child.join)
            stack.callback(here.send, "stop")
            port = here.recv()
        base_url = f"http://127.0.0.1:{port}"
        where = "in this process" if args.same_process else "in a separate process"
        print(
            f"{args.feeds} feeds served on loopback {where}; {len(bodies)} changed "
            f"({args.entries} entries each), the rest answer 304 to If-None-Match"
        )
        print(
            f"{'fetch_many (thread pool, one client)':<40} {'feeds/s':>9} {'seconds':>8}  answers"
        )
        for level in levels:
            seconds, outcomes = time_fetch_many(base_url, args.feeds, level)
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
            print(
                f"{f'  concurrency {level}':<40} {args.feeds / seconds:>9,.0f} {seconds:>8.2f}  "
                f"{answers}"
            )
        if args.compare_async:
            print(f"{'httpx.AsyncClient + semaphore':<40}")
            for level in levels:
                seconds = time_async(base_url, args.feeds, level)
                print(
                    f"{f'  concurrency {level}':<40} {args.feeds / seconds:>9,.0f} {seconds:>8.2f}"
                )

    entries, feedparser_seconds, parse_feed_seconds = parse_rates(bodies, args.parse_repeat)
    print(f"parsing {entries:,} entries ({len(bodies)} feeds x {args.parse_repeat})")
    print(f"{'  feedparser parse only':<40} {entries / feedparser_seconds:>9,.0f} entries/s")
    print(f"{'  watch.feeds.parse.parse_feed':<40} {entries / parse_feed_seconds:>9,.0f} entries/s")


if __name__ == "__main__":
    main()
