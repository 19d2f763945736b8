"""Dedupe: keep only entries this feed has not given before, and tie each to its story.

An entry's key is its GUID, else its link, else a hash of title and date: never a "last seen"
watermark, since feeds reorder and backdate. A story is one piece of reporting however many
feeds carry it: entries share a story when their canonical links agree (tracking parameters,
fragments, "www." and trailing slashes removed) or when their titles are the same once folded
and stripped of a " - Publisher" suffix, within a few days of each other. Corroboration counts
the stories' first sources, so syndicated copies never confirm one another.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlmodel import Session

from watch.reader import Reader, SessionReader, marks
from watch.schema import Feed

if TYPE_CHECKING:
    from watch.feeds.parse import ParsedEntry

TRACKING_PARAMS = re.compile(
    r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|ref|ref_src|cmpid|ncid|ocid|"
    r"src|smid|mbid|rss|feed|partner|cid|s_cid|at_medium|at_campaign|taid)$",
    re.IGNORECASE,
)
PUBLISHER_SUFFIX = re.compile(r"\s+[-–—|:]\s+[^-–—|:]{2,60}$")
SAME_STORY_WITHIN = timedelta(days=3)
PLAIN_LINK = re.compile(r"(?i:https?)://(?P<host>[A-Za-z0-9.-]+)(?P<path>/[^?#\s]*)?")
MIN_FINGERPRINT_WORDS = 4
IN_LIST = 500  # values per IN (...) list, well under SQLite's bound-parameter limit


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def entry_key(entry: ParsedEntry) -> str:
    if entry.guid and entry.guid.strip():
        return "g" + _sha1(entry.guid.strip())
    if entry.link and entry.link.strip():
        return "l" + _sha1(entry.link.strip())
    published = entry.published.isoformat() if entry.published else ""
    return "h" + _sha1(f"{entry.title.strip()}\n{entry.summary.strip()[:200]}\n{published}")


def canonical_link(url: str | None) -> str | None:
    """The link without what differs between copies of one article (None if not http[s])."""
    if not url:
        return None
    url = url.strip()
    plain = PLAIN_LINK.fullmatch(url)
    if plain:  # most links: no user, port, query or fragment; urlsplit would agree
        host = plain["host"].lower().removeprefix("www.").removeprefix("m.")
        return f"https://{host}{(plain['path'] or '').rstrip('/') or '/'}"[:2000]
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.").removeprefix("m.")
    query = parts.query and urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not TRACKING_PARAMS.match(k)
        )
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, query, ""))[:2000]


def fingerprint(title: str) -> str | None:
    """A hash of the title folded for comparison; None for titles too short to tell apart."""
    title = PUBLISHER_SUFFIX.sub("", title.strip())
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", folded)
    if len(words) < MIN_FINGERPRINT_WORDS:
        return None
    return _sha1(" ".join(words))


@dataclass
class StoryRef:
    """A story as dedupe and record need it: stored (id set) or new in this batch (id None)."""

    id: int | None
    canonical_link: str | None
    fingerprint: str | None
    source: str
    first_seen_at: datetime


@dataclass
class EntryRow:
    """The columns of an `Entry` to insert (plain data: model instances cost too much here)."""

    feed_id: int
    key: str
    guid: str | None
    link: str | None
    title: str
    summary: str
    source: str
    published_at: datetime
    fetched_at: datetime
    story_id: int | None = None
    id: int | None = None


@dataclass
class NewEntry:
    """An entry not stored yet, with its story already chosen (or created)."""

    row: EntryRow
    story: StoryRef


def dedupe(
    session: Session, feed: Feed, entries: Sequence[ParsedEntry], now: datetime
) -> list[NewEntry]:
    """The entries of `entries` this feed has not given before, in feed order, with stories."""
    keyed: dict[str, ParsedEntry] = {}
    for entry in entries:
        keyed.setdefault(entry_key(entry), entry)
    if not keyed:
        return []
    reader = SessionReader(session)
    keys = list(keyed)
    seen = set()
    for first in range(0, len(keys), IN_LIST):
        chunk = keys[first : first + IN_LIST]
        seen |= {
            row[0]
            for row in reader.rows(
                f"SELECT key FROM entry WHERE feed_id = ? AND key IN ({marks(chunk)})",
                [feed.id, *chunk],
            )
        }
    fresh = [(key, entry) for key, entry in keyed.items() if key not in seen]
    if not fresh:
        return []
    links = {key: canonical_link(entry.link) for key, entry in fresh}
    prints = {key: fingerprint(entry.title) for key, entry in fresh}
    stories = StoryIndex()
    stories.load(reader, set(links.values()), set(prints.values()))
    return [
        _new_entry(feed, key, entry, now, links[key], prints[key], stories) for key, entry in fresh
    ]


def _new_entry(
    feed: Feed,
    key: str,
    entry: ParsedEntry,
    now: datetime,
    link: str | None,
    print_: str | None,
    stories: StoryIndex,
) -> NewEntry:
    published = min(entry.published or now, now)
    source = (entry.source or feed.name)[:300]
    row = EntryRow(
        feed_id=feed.id or 0,
        key=key,
        guid=entry.guid,
        link=entry.link,
        title=entry.title,
        summary=entry.summary,
        source=source,
        published_at=published,
        fetched_at=now,
    )
    return NewEntry(row=row, story=stories.find_or_add(link, print_, published, source))


class ReplayDedupe:
    """Dedupe for a replay into a fresh database that only it writes: every key and story it
    has given out stays in memory, so an entry costs no query.

    One entry at a time, it answers exactly as `dedupe` does for a batch of that one entry
    against the database: a link met through a title match is not remembered as that story's
    link (the database would not find it there either).
    """

    def __init__(self) -> None:
        self.keys: dict[int, set[str]] = {}
        self.stories = StoryIndex(remember_links=False)

    def dedupe_one(self, feed: Feed, entry: ParsedEntry, now: datetime) -> NewEntry | None:
        key = entry_key(entry)
        seen = self.keys.setdefault(feed.id or 0, set())
        if key in seen:
            return None
        seen.add(key)
        link, print_ = canonical_link(entry.link), fingerprint(entry.title)
        return _new_entry(feed, key, entry, now, link, print_, self.stories)


class StoryIndex:
    """The stories entries may belong to: those loaded from the database plus the new ones.

    `remember_links`: a link met through a title match points at that story for the rest of
    this index's life (right for one poll's batch; a replay of single entries turns it off).
    """

    def __init__(self, *, remember_links: bool = True) -> None:
        self.by_link: dict[str, StoryRef] = {}
        self.by_print: dict[str, list[StoryRef]] = {}
        self.remember_links = remember_links

    def load(self, reader: Reader, links: set[str | None], prints: set[str | None]) -> None:
        """Fetch the stored stories with these canonical links or fingerprints (plain SQL)."""
        for column, values in (("canonical_link", links), ("fingerprint", prints)):
            wanted = sorted(v for v in values if v is not None)
            for first in range(0, len(wanted), IN_LIST):
                chunk = wanted[first : first + IN_LIST]
                rows = reader.rows(
                    "SELECT id, canonical_link, fingerprint, source, first_seen_at FROM story "
                    f"WHERE {column} IN ({marks(chunk)}) ORDER BY id",
                    chunk,
                )
                for id_, link, print_, source, seen_at in rows:
                    story = StoryRef(id_, link, print_, source, reader.time(seen_at) or seen_at)
                    if column == "canonical_link":
                        self.by_link.setdefault(link or "", story)
                    else:
                        self.by_print.setdefault(print_ or "", []).append(story)

    def find_or_add(
        self, link: str | None, print_: str | None, published: datetime, source: str
    ) -> StoryRef:
        if link and link in self.by_link:
            return self.by_link[link]
        for story in self.by_print.get(print_ or "", []):
            if abs(story.first_seen_at - published) <= SAME_STORY_WITHIN:
                if link and self.remember_links:
                    self.by_link.setdefault(link, story)
                return story
        story = StoryRef(None, link, print_, source, published)
        if link:
            self.by_link[link] = story
        if print_:
            self.by_print.setdefault(print_, []).append(story)
        return story
