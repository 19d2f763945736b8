"""Build small RSS 2.0 documents for tests (our own fixtures, written per test)."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


def item(
    title: str,
    *,
    link: str | None = None,
    guid: str | None = None,
    summary: str = "",
    published: datetime | None = None,
    source: str | None = None,
) -> str:
    parts = [f"<title>{escape(title)}</title>"]
    if link:
        parts.append(f"<link>{escape(link)}</link>")
    if guid:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    if summary:
        parts.append(f"<description>{escape(summary)}</description>")
    if published:
        parts.append(f"<pubDate>{format_datetime(published)}</pubDate>")
    if source:
        parts.append(f'<source url="https://example.org/">{escape(source)}</source>')
    return "<item>" + "".join(parts) + "</item>"


def rss(*items: str, title: str = "Test feed") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.org/</link>"
        f"<description>test</description>{''.join(items)}</channel></rss>"
    ).encode()
