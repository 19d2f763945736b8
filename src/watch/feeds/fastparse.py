"""A fast reader for plain RSS 2.0 and Atom 1.0 feeds, with the C XML parser (ElementTree),
or None to say "ask feedparser".

Most feeds watch polls are ordinary: UTF-8, no DTD, an item holding a title, link,
description, guid and pubDate (or an Atom entry with id, title, link, dates, summary/content
typed text or html). For those, `read_simple_feed` builds the same result dict
`feedparser.parse` builds (the few keys `watch.feeds.parse` reads), several times faster. It
applies feedparser's own per-field steps in feedparser's order: whitespace stripped, guids and
links joined with feedparser's `_urljoin`, its UTF-8 mis-decoding repair and Windows-1252
mapping, its "does this RSS title look like HTML" guess, its date parser, its rules for which
Atom link is the entry's link and when content stands in for the summary. Those helpers are
feedparser internals: the equivalence tests catch a feedparser release that changes them.

It answers None on anything it does not know, and `parse_feed` then runs feedparser: another
encoding or Content-Type, a BOM, a DTD or entity declaration, an XML error, xml:base, xhtml
text, any attribute or element it does not list (namespaced ones included), an element given
twice, an entry without a parseable date. tests/feeds/test_fastparse.py holds it to
feedparser's result on feedparser's own test corpus, the fixture feeds and random feeds.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.mixin import _cp1252, _FeedParserMixin
from feedparser.urls import _urljoin

__all__ = ["read_simple_feed"]

# Media types feedparser reads with the XML declaration's encoding, UTF-8 by default.
_XML_TYPES = frozenset({"application/xml", "application/rss+xml", "application/atom+xml"})
_DECLARATION = re.compile(rb"^<\?xml\s[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
# "<!" opens a comment, CDATA, or a DTD/entity declaration; only the first two are read here.
_MARKUP_DECLARATION = re.compile(rb"<!(?!--|\[CDATA\[)")

# Children read from an item, and whether each may carry attributes (guid's isPermaLink,
# source's url, enclosure's and category's own); an empty set means "no attributes".
_ITEM_ATTRIBUTES = {
    "title": frozenset(),
    "link": frozenset(),
    "description": frozenset(),
    "guid": frozenset({"isPermaLink"}),
    "pubDate": frozenset(),
    "author": frozenset(),
    "comments": frozenset(),
    "category": frozenset({"domain"}),
    "enclosure": frozenset({"url", "length", "type"}),
    "source": frozenset({"url"}),
    "{http://purl.org/dc/elements/1.1/}creator": frozenset(),  # feedparser: the author
}
_REPEATABLE = frozenset({"category", "enclosure"})
_CHANNEL_LEAVES = frozenset(
    {
        *("title", "link", "description", "language", "copyright", "managingEditor"),
        *("webMaster", "pubDate", "lastBuildDate", "category", "generator", "docs", "ttl"),
    }
)
_ENTITY_IN_LINK = re.compile("&([A-Za-z0-9_]+);")
_IMAGE_LEAVES = frozenset({"url", "title", "link", "width", "height", "description"})


class _Unsure(Exception):
    """The document is outside what this reader knows; feedparser decides."""


def read_simple_feed(body: bytes, content_type: str | None) -> dict[str, Any] | None:
    """feedparser's result for `body` when it is a plain RSS 2.0 or Atom 1.0 feed, else None."""
    if not _utf8_throughout(body, content_type) or _MARKUP_DECLARATION.search(body):
        return None
    try:
        root = ET.fromstring(body)
        if (root.text or "").strip():
            return None
        if root.tag == ATOM + "feed":
            return _atom_feed(root)
        if root.tag != "rss" or root.attrib != {"version": "2.0"}:
            return None
        (channel,) = root
        return _channel(channel)
    except (ET.ParseError, ValueError, _Unsure):
        return None


def _utf8_throughout(body: bytes, content_type: str | None) -> bool:
    """True when feedparser would decode `body` as UTF-8 and say nothing about it."""
    if content_type is not None:
        media, *params = (part.strip().lower() for part in content_type.split(";"))
        if media not in _XML_TYPES or any(p.replace(" ", "") != "charset=utf-8" for p in params):
            return False
    if not body.startswith(b"<"):  # no BOM, no leading whitespace: feedparser's sniffing
        return False
    declaration = _DECLARATION.match(body)
    if declaration:
        encoding = _DECLARED_ENCODING.search(declaration.group())
        if encoding and encoding.group(1).lower() != b"utf-8":
            return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _channel(channel: ET.Element) -> dict[str, Any]:
    if channel.tag != "channel" or channel.attrib:
        raise _Unsure
    feed: dict[str, Any] = {}
    entries = []
    seen: set[str] = set()
    for child in channel:
        tag = child.tag
        if tag == "item":
            entries.append(_item(child))
            continue
        if tag == "image":
            _check_leaves(child, _IMAGE_LEAVES)
        elif tag in _CHANNEL_LEAVES:  # attributes could retype a title (type, mode)
            _atom_leaf(child, frozenset({"domain"} if tag == "category" else ()))
        elif tag == ATOM + "link":  # the feed's own address (rel="self"): not read
            _atom_leaf(child, _LINK_ATTRIBUTES)
            if "href" not in child.attrib:
                raise _Unsure
        else:
            raise _Unsure
        if tag not in ("category", ATOM + "link") and tag in seen:
            raise _Unsure
        seen.add(tag)
        if tag == "title":
            feed["title"], feed["title_detail"] = _plain_or_html(_leaf_text(child))
    return {"version": "rss20", "bozo": 0, "feed": feed, "entries": entries}


def _item(item: ET.Element) -> dict[str, Any]:
    if item.attrib:
        raise _Unsure
    fields: dict[str, ET.Element] = {}
    for child in item:
        allowed = _ITEM_ATTRIBUTES.get(child.tag) if isinstance(child.tag, str) else None
        if allowed is None or not allowed.issuperset(child.attrib):
            raise _Unsure
        if child.tag in fields and child.tag not in _REPEATABLE:
            raise _Unsure
        fields[child.tag] = child
        _leaf_text(child)
    entry: dict[str, Any] = {}
    if "pubDate" not in fields:
        raise _Unsure
    published = _parse_date(_value(_leaf_text(fields["pubDate"])))
    if not published:
        raise _Unsure
    entry["published_parsed"] = published
    if "title" in fields:
        entry["title"], entry["title_detail"] = _plain_or_html(_leaf_text(fields["title"]))
    if "description" in fields:
        entry["summary"] = _value(_leaf_text(fields["description"]))
        entry["summary_detail"] = {"type": "text/html"}
    guid = fields.get("guid")
    if guid is not None:
        permalink = guid.get("isPermaLink", "true") == "true"
        text = _leaf_text(guid).strip()
        entry["id"] = _value(_joined(text) if permalink else text, stripped=True)
        if permalink and "link" not in fields:
            entry["link"] = entry["id"]
    if "link" in fields:
        text = _leaf_text(fields["link"]).strip()
        link = _value(_joined(text), stripped=True)
        if "&" in link:  # feedparser's repair of query strings read as entity references
            link = _ENTITY_IN_LINK.sub(r"&\g<1>", link.replace("&amp;", "&"))
        entry["link"] = link
    source = fields.get("source")
    if source is not None:
        title = _value(_leaf_text(source))
        entry["source"] = {"title": title} if title else {}
    return entry


def _check_leaves(parent: ET.Element, names: frozenset[str]) -> None:
    if parent.attrib or (parent.text or "").strip():
        raise _Unsure
    seen: set[str] = set()
    for child in parent:
        if child.tag not in names or child.tag in seen:
            raise _Unsure
        seen.add(child.tag)
        _atom_leaf(child, frozenset())


def _leaf_text(element: ET.Element) -> str:
    """The element's text; it must hold no elements (feedparser would read them as markup)."""
    if len(element) or (element.tail or "").strip():
        raise _Unsure
    return element.text or ""


def _value(text: str, *, stripped: bool = False) -> str:
    """feedparser's last steps on a field: strip, repair UTF-8 read as Latin-1, map cp1252."""
    if not stripped:
        text = text.strip()
    if text.isascii():  # both steps below only touch characters past 0x7f
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


def _joined(uri: str) -> str:
    """feedparser's `_urljoin(base, uri)` with no base: only "scheme:///x" changes."""
    return _urljoin("", uri) if ":///" in uri else uri


def _plain_or_html(text: str) -> tuple[str, dict[str, str]]:
    """RSS titles are plain text unless they look like HTML (feedparser's own guess)."""
    value = _value(text)
    html = _FeedParserMixin.looks_like_html(value)
    return value, {"type": "text/html" if html else "text/plain"}


# ------------------------------------------------------------------------------ Atom 1.0

ATOM = "{http://www.w3.org/2005/Atom}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_TEXT_TYPES = {None: "text/plain", "text": "text/plain", "html": "text/html"}
_LINK_ATTRIBUTES = frozenset({"href", "rel", "type", "hreflang", "title", "length"})
_PEOPLE = frozenset({ATOM + "author", ATOM + "contributor"})
_PERSON_PARTS = frozenset({ATOM + "name", ATOM + "email", ATOM + "uri"})
_FEED_LEAVES = frozenset(ATOM + name for name in ("id", "updated", "icon", "logo"))
_ENTRY_REPEATABLE = frozenset({ATOM + "link", ATOM + "category", *_PEOPLE})


def _atom_feed(root: ET.Element) -> dict[str, Any]:
    """An Atom feed whose texts are typed text or html (never xhtml), with no xml:base."""
    if not {_XML_LANG}.issuperset(root.attrib):
        raise _Unsure
    feed: dict[str, Any] = {}
    entries = []
    seen: set[str] = set()
    for child in root:
        tag = child.tag
        if tag == ATOM + "entry":
            entries.append(_atom_entry(child))
            continue
        if tag in (ATOM + "title", ATOM + "subtitle", ATOM + "rights"):
            value, detail = _atom_text(child)
            if tag == ATOM + "title":
                feed["title"], feed["title_detail"] = value, detail
        elif tag in _FEED_LEAVES:
            _atom_leaf(child, frozenset())
        elif tag == ATOM + "generator":
            _atom_leaf(child, frozenset({"uri", "version"}))
        else:
            _atom_shared(child)
        if tag in seen and tag not in _ENTRY_REPEATABLE:
            raise _Unsure
        seen.add(tag)
    return {"version": "atom10", "bozo": 0, "feed": feed, "entries": entries}


def _atom_entry(element: ET.Element) -> dict[str, Any]:
    if element.attrib:
        raise _Unsure
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    link: str | None = None
    for child in element:
        tag = child.tag
        if tag in seen and tag not in _ENTRY_REPEATABLE:
            raise _Unsure
        seen.add(tag)
        if tag == ATOM + "id":
            text = _atom_leaf(child, frozenset()).strip()
            entry["id"] = _value(_joined(text), stripped=True)
        elif tag == ATOM + "title":
            entry["title"], entry["title_detail"] = _atom_text(child)
        elif tag == ATOM + "summary":
            entry["summary"], entry["summary_detail"] = _atom_text(child)
        elif tag == ATOM + "content":
            value, detail = _atom_text(child)
            entry["content"] = [{**detail, "value": value}]
        elif tag in (ATOM + "published", ATOM + "updated"):
            parsed = _parse_date(_value(_atom_leaf(child, frozenset())))
            if not parsed:
                raise _Unsure
            entry[tag[len(ATOM) :] + "_parsed"] = parsed
        elif tag == ATOM + "link":
            link = _atom_link(child) or link
        else:
            _atom_shared(child)
    if "published_parsed" not in entry and "updated_parsed" not in entry:
        raise _Unsure
    if "content" in entry and "summary" not in entry:  # feedparser copies content to summary
        entry["summary"] = entry["content"][0]["value"]
    # An entry's link is its last alternate HTML link, else (feedparser) its id.
    if link is not None:
        entry["link"] = link
    elif "id" in entry:
        entry["link"] = entry["id"]
    return entry


def _atom_shared(element: ET.Element) -> None:
    """Elements of both feed and entry that hold nothing watch reads: people, categories,
    and links (a feed's own links do not matter)."""
    if element.tag in _PEOPLE:
        _check_leaves(element, _PERSON_PARTS)
    elif element.tag == ATOM + "category":
        _atom_leaf(element, frozenset({"term", "scheme", "label"}))
    elif element.tag == ATOM + "link":
        _atom_link(element)
    else:
        raise _Unsure


def _atom_link(element: ET.Element) -> str | None:
    """The href when the link is an alternate HTML page (feedparser's rule), else None."""
    _atom_leaf(element, _LINK_ATTRIBUTES)
    href = element.get("href")
    if not href:
        raise _Unsure
    rel = element.get("rel", "alternate")
    kind = element.get("type", "application/atom+xml" if rel == "self" else "text/html")
    html = _FeedParserMixin.map_content_type(kind) in ("text/html", "application/xhtml+xml")
    if rel == "alternate" and html:
        return _joined(href)
    return None


def _atom_text(element: ET.Element) -> tuple[str, dict[str, str]]:
    """A text construct typed text or html, with its feedparser content type."""
    kind = _TEXT_TYPES.get(element.get("type"))
    if kind is None:
        raise _Unsure
    return _value(_atom_leaf(element, frozenset({"type"}))), {"type": kind}


def _atom_leaf(element: ET.Element, attributes: frozenset[str]) -> str:
    if not attributes.issuperset(element.attrib):
        raise _Unsure
    return _leaf_text(element)
