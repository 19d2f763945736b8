"""Parse a fetched body into a feed of plain-text entries, with feedparser (or, for plain
RSS 2.0 and Atom 1.0, `watch.feeds.fastparse`, which gives feedparser's result faster).

`parse_feed` hands feedparser the raw bytes and the response's Content-Type, so it picks the
encoding the way a browser would (HTTP charset, BOM, XML declaration, then sniffing). Only the
body is parsed: it is passed as a stream, so feedparser never fetches a URL or opens a file
named by it. The outcome is one of:

- a `ParsedFeed` with entries, when the body is a feed (RSS 0.9x–2.0, RSS 1.0/RDF, Atom, CDF);
- a `ParsedFeed` with `problem` set, when the feed was malformed and feedparser recovered
  (its "bozo" reason, e.g. "not well-formed (invalid token) at line 12, column 4");
- `NotAFeed`, when nothing feed-like is there: an empty body, an HTML page, JSON, garbage.

Nothing else is raised: a feedparser crash on a hostile body becomes `NotAFeed` too.

Titles and summaries come out as plain text: HTML (when the feed says the field is HTML)
is stripped, entities decoded, whitespace collapsed. Links are resolved against `url` and kept
only if http(s); guids are kept exactly as the feed wrote them. An entry's `published` is its
published date, else its updated date, as an aware UTC datetime. Dates are kept as the feed
gives them, even absurd ones (1970, next year): `is_plausible_date` tells the caller whether
to trust one, and the caller decides whether to clamp it (e.g. to the fetch time).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from watch.errors import NotAFeed

__all__ = ["ParsedEntry", "ParsedFeed", "is_plausible_date", "parse_feed", "strip_html"]

EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=2)


@dataclass(frozen=True)
class ParsedEntry:
    guid: str | None
    link: str | None
    title: str  # plain text ("" if none)
    summary: str  # plain text, HTML stripped ("" if none)
    published: datetime | None  # timezone-aware UTC (published, else updated, else None)
    source: str | None  # the entry's own <source> title (aggregators such as Google News)


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: list[ParsedEntry]
    problem: str | None  # feedparser's bozo reason when it recovered from a malformed feed


def parse_feed(
    body: bytes, *, url: str = "", content_type: str | None = None, fast: bool = True
) -> ParsedFeed:
    """Parse `body` (fetched from `url` with `content_type`); raise NotAFeed if it is no feed.

    A plain RSS 2.0 or Atom 1.0 feed is read by `fastparse.read_simple_feed` (the same result,
    several times faster); anything else, or `fast=False`, goes through feedparser."""
    import feedparser  # here: a replay of JSON lines imports this module but never parses XML

    from watch.feeds.fastparse import read_simple_feed

    if not body or not body.strip():
        raise NotAFeed(url, "empty body")
    # No content-location: feedparser would rewrite relative guids into URLs with it.
    headers = {"content-type": content_type} if content_type else {}
    if fast and (simple := read_simple_feed(body, content_type)) is not None:
        return _to_feed(simple, body, url, content_type)
    try:
        # watch keeps only plain text (strip_html), so feedparser's HTML sanitising and
        # relative-URI rewriting inside content would be work thrown away (a quarter of it).
        result = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        return _to_feed(result, body, url, content_type)
    except NotAFeed:
        raise
    except Exception as exc:  # feedparser on a hostile body; the contract is NotAFeed or a feed
        raise NotAFeed(url, f"the feed parser failed: {type(exc).__name__}: {exc}") from exc


def is_plausible_date(value: datetime, *, now: datetime) -> bool:
    """True unless `value` is before 1990 or more than two days after `now` (clock skew)."""
    return EARLIEST_PLAUSIBLE <= value <= now + FUTURE_TOLERANCE


def strip_html(text: str) -> str:
    """Plain text of an HTML fragment: tags dropped (script/style with their content),
    entities decoded, whitespace collapsed to single spaces."""
    if "<" not in text and "&" not in text:
        return _collapse(text)
    stripper = _TextExtractor()
    try:
        stripper.feed(text)
        stripper.close()
    except Exception:  # HTMLParser is lenient; this is belt and braces for odd input
        return _collapse(re.sub(r"<[^>]*>", " ", text))
    return _collapse("".join(stripper.parts))


def _to_feed(result: Any, body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    version = result.get("version") or ""
    feed = result.get("feed") or {}
    entries = result.get("entries") or []
    problem = _problem(result)
    if not version and not entries:
        if _looks_like_html(body, content_type):
            raise NotAFeed(url, f"an HTML page, not a feed{_served_as(content_type)}")
        if not feed:
            reason = problem or "no feed elements found"
            raise NotAFeed(url, f"not a feed{_served_as(content_type)}: {reason}")
    return ParsedFeed(
        title=_text(feed, "title") or None,
        entries=[_to_entry(entry, url) for entry in entries],
        problem=problem,
    )


def _to_entry(entry: Mapping[str, Any], url: str) -> ParsedEntry:
    content = (entry.get("content") or [{}])[0]
    summary = entry.get("summary") or content.get("value") or ""
    # feedparser copies Atom <content> into `summary` without a summary_detail to type it.
    summary_type = (entry.get("summary_detail") or content).get("type")
    source = entry.get("source") or {}
    return ParsedEntry(
        guid=_nonblank(entry.get("id")),
        link=_web_link(entry.get("link"), url),
        title=_text(entry, "title"),
        summary=_plain(summary, summary_type) if isinstance(summary, str) else "",
        published=_date(entry.get("published_parsed")) or _date(_updated(entry)),
        source=_nonblank(_text(source, "title")) if source else None,
    )


def _updated(entry: Mapping[str, Any]) -> Any:
    """The entry's own updated date: FeedParserDict.get would fall back to `published_parsed`
    with a DeprecationWarning when an unparseable published date left it None."""
    return dict.get(entry, "updated_parsed") if isinstance(entry, dict) else None


def _web_link(link: Any, url: str) -> str | None:
    """An http(s) link, resolved against the feed's URL; feedparser sets `link` to a non-URL
    guid (urn:..., tag:...) when there is no link, which is no link at all."""
    link = _nonblank(link)
    if link is None:
        return None
    if url:
        link = urljoin(url, link)
    return link if urlsplit(link).scheme in ("http", "https") else None


def _text(node: Mapping[str, Any], key: str) -> str:
    value = node.get(key)
    if not isinstance(value, str):
        return ""
    detail = node.get(f"{key}_detail") or {}
    return _plain(value, detail.get("type"))


def _plain(value: str, kind: str | None) -> str:
    """feedparser leaves HTML in fields typed text/html or xhtml; plain text is only unescaped."""
    if kind and "html" in kind:
        return strip_html(value)
    return _collapse(value)


def _date(parsed: Any) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_times; leap seconds fold into :59."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = tuple(parsed)[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _problem(result: Any) -> str | None:
    """feedparser's bozo reason, readable; None when clean. A missing or non-XML Content-Type
    is the server's slip, not a malformed feed, so it is not reported."""
    import feedparser

    if not result.get("bozo"):
        return None
    error = result.get("bozo_exception")
    if isinstance(error, feedparser.NonXMLContentType):
        return None
    if error is None:
        return "malformed feed"
    message = getattr(error, "getMessage", None)
    if callable(message):  # xml.sax.SAXParseException
        return f"{message()} at line {error.getLineNumber()}, column {error.getColumnNumber()}"
    return _collapse(str(error)) or type(error).__name__


_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*)*<!doctype\s+html|"
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*|<!doctype[^>]*>\s*)*<html[\s>]",
    re.IGNORECASE | re.DOTALL,
)


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    if content_type and content_type.split(";", 1)[0].strip().lower() == "text/html":
        return True
    return bool(_HTML_START.match(body[:4096]))


def _served_as(content_type: str | None) -> str:
    return f" (served as {content_type.split(';', 1)[0].strip()})" if content_type else ""


def _nonblank(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


_SPACE = re.compile(r"\s+")


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


class _TextExtractor(HTMLParser):
    """Collects text, skipping script/style, and spacing block elements apart."""

    _BLOCKS = frozenset(
        {
            *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt"),
            *("figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header"),
            *("hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th"),
            *("tr", "ul"),
        }
    )
    _SKIPPED = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
