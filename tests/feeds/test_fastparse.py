"""The fast RSS reader: wherever it reads a document, parse_feed must give exactly what the
feedparser path gives (`fast=False`); anything it does not know goes to feedparser."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.feeds.test_parse import AGGREGATOR, ATOM, RSS
from tests.support.paths import ROOT, SHARED
from tests.support.rss import item, rss
from watch.errors import NotAFeed
from watch.feeds.fastparse import read_simple_feed
from watch.feeds.parse import ParsedFeed, parse_feed

CORPUS = SHARED / "corpus" / "feedparser-tests"
_HEADER_LINE = re.compile(rb"^Header:\s+([\w-]+):[ \t]*(.*?)\s*$", re.MULTILINE)
URL = "https://news.example/feeds/world.xml"


def both_paths(body: bytes, content_type: str | None = None) -> tuple[object, object]:
    """parse_feed's outcome with the fast reader allowed and with feedparser only."""

    def outcome(fast: bool) -> object:
        try:
            return parse_feed(body, url=URL, content_type=content_type, fast=fast)
        except NotAFeed as error:
            return ("NotAFeed", str(error))

    return outcome(True), outcome(False)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"feedparser test corpus not found at {CORPUS}")
def test_fast_reader_gives_feedparsers_result_on_every_corpus_file_it_reads():
    read = 0
    differences = []
    for path in sorted(CORPUS.rglob("*.xml")):
        body = path.read_bytes()
        comment = body.split(b"-->", 1)[0]
        headers = {
            name.decode(): value.decode("latin-1") for name, value in _HEADER_LINE.findall(comment)
        }
        for content_type in {headers.get("Content-type"), None}:
            if read_simple_feed(body, content_type) is None:
                continue
            read += 1
            fast, reference = both_paths(body, content_type)
            if fast != reference:
                differences.append(
                    f"{path.relative_to(CORPUS)} ({content_type}): {fast} != {reference}"
                )

    assert differences == []
    assert read >= 30, "the fast reader should read the corpus's plain RSS 2.0 feeds"


def _fixture_feeds() -> list[tuple[str, bytes]]:
    rng = random.Random(3)
    start = datetime(2019, 2, 1, tzinfo=UTC)
    generated = rss(
        *(
            item(
                f"Envoys meet, round {n} & more",
                link=f"/story/{n}?a=1&b=2",
                guid=f"wire-{n}",
                summary=f"<p>Talks <b>resume</b> in round {n}.</p>",
                published=start + timedelta(minutes=rng.randrange(10_000)),
                source="Wire Service" if n % 3 == 0 else None,
            )
            for n in range(60)
        )
    )
    archive = sorted((ROOT / "archive").rglob("*.xml"))
    return [
        ("generated", generated),
        ("test_parse.RSS", RSS),
        ("test_parse.AGGREGATOR", AGGREGATOR),
        ("test_parse.ATOM", ATOM),
        *((str(path.relative_to(ROOT)), path.read_bytes()) for path in archive),
    ]


def test_fast_reader_gives_feedparsers_result_on_the_fixture_feeds():
    read = []
    for name, body in _fixture_feeds():
        fast, reference = both_paths(body, "application/rss+xml")
        assert fast == reference, name
        if read_simple_feed(body, "application/rss+xml") is not None:
            read.append(name)

    assert {"generated", "test_parse.ATOM", "test_parse.AGGREGATOR"} <= set(read)
    assert any(name.startswith("archive/") for name in read)


def _feed(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f'{declaration}\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Desk</title>'
        '<atom:link rel="self" href="/feed.xml" type="application/rss+xml"/>'
        f"{items}</channel></rss>"
    ).encode()


DATE = "<pubDate>Wed, 27 Feb 2019 18:30:00 +0900</pubDate>"

# (case, body, whether the fast reader reads it)
CASES = [
    (
        "html in an escaped description",
        _feed(
            f"<item><title>T</title><description>&lt;p&gt;Talks &lt;b&gt;resume&lt;/b&gt;"
            f"&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>{DATE}</item>"
        ),
        True,
    ),
    (
        "html in a CDATA description",
        _feed(
            f"<item><title>T</title><description><![CDATA[<div>Imagery <i>shows</i><br/>"
            f"work</div>]]></description>{DATE}</item>"
        ),
        True,
    ),
    (
        "relative link and a guid that is a permalink",
        _feed(
            f"<item><title>T</title><link> /2019/02/envoys </link>{DATE}</item>"
            f"<item><title>U</title><guid>/2019/02/other</guid>{DATE}</item>"
        ),
        True,
    ),
    (
        "entities and markup-like text in titles",
        _feed(
            f"<item><title>AT&amp;T &#8217;s &lt;b&gt;deal&lt;/b&gt; &#150; 1 &lt; 2</title>"
            f"<guid isPermaLink='false'>a&amp;b</guid>{DATE}</item>"
        ),
        True,
    ),
    (
        "non-ASCII UTF-8 text",
        _feed(f"<item><title>평양, 서울에 답하다 — Séoul</title>{DATE}</item>"),
        True,
    ),
    (
        "an undefined HTML entity is an XML error",
        _feed(f"<item><title>A&nbsp;B</title>{DATE}</item>"),
        False,
    ),
    (
        "ISO-8859-1 declaration",
        _feed(
            f"<item><title>Séoul</title>{DATE}</item>",
            declaration=('<?xml version="1.0" encoding="iso-8859-1"?>'),
        ).replace("Séoul".encode(), "Séoul".encode("latin-1")),
        False,
    ),
    (
        "an element in an unknown namespace",
        _feed(
            f"<item xmlns:media='http://search.yahoo.com/mrss/'><title>T</title>"
            f"<media:title>Other</media:title>{DATE}</item>"
        ),
        False,
    ),
    (
        "a DTD with an entity",
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY w "watch">]><rss version="2.0">'
        b"<channel><item><title>&w;</title>" + DATE.encode() + b"</item></channel></rss>",
        False,
    ),
    (
        "a channel title typed by an attribute",
        _feed(f"<item><title>T</title>{DATE}</item>").replace(
            b"<title>Desk</title>", b"<title type='html'>&lt;b&gt;Desk&lt;/b&gt;</title>"
        ),
        False,
    ),
    ("an item without a date", _feed("<item><title>T</title></item>"), False),
    ("an odd date", _feed("<item><title>T</title><pubDate>soon</pubDate></item>"), False),
    (
        "markup inside a title",
        _feed(f"<item><title>A <b>bold</b> move</title>{DATE}</item>"),
        False,
    ),
    (
        "an RSS 0.91 feed",
        _feed(f"<item><title>T</title>{DATE}</item>").replace(b'"2.0"', b'"0.91"'),
        False,
    ),
]


def _atom(entries: str, *, root: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{root}><title type="html">Desk &amp;amp; co'
        f"</title><id>urn:desk</id><updated>2019-03-09T00:00:00Z</updated>{entries}</feed>"
    ).encode()


UPDATED = "<updated>2019-03-07T06:00:00+09:00</updated>"

ATOM_CASES = [
    (
        "atom: html title and content, relative alternate link",
        _atom(
            f"<entry><id>tag:x,2019:1</id><title type='html'>A &lt;em&gt;b&lt;/em&gt;</title>"
            f"<link rel='self' href='/self'/><link href='/2019/a'/>{UPDATED}"
            f"<content type='html'>&lt;div&gt;Work&lt;script&gt;x()&lt;/script&gt; at"
            f"&lt;br&gt;the stand&lt;/div&gt;</content></entry>"
        ),
        True,
    ),
    (
        "atom: summary and content, text types, an http id as the link",
        _atom(
            f"<entry><content type='text'>&lt;b&gt; kept</content><id>https://x.example/1</id>"
            f"<summary>Plain &lt;i&gt;text&lt;/i&gt;</summary><title>T</title>"
            f"<published>2019-03-08T01:00:00+01:00</published>{UPDATED}"
            f"<author><name>A</name><email>a@x.example</email></author></entry>"
        ),
        True,
    ),
    (
        "atom: xhtml content",
        _atom(
            f"<entry><id>i</id><title>T</title>{UPDATED}<content type='xhtml'>"
            f"<div xmlns='http://www.w3.org/1999/xhtml'><p>Hi</p></div></content></entry>"
        ),
        False,
    ),
    (
        "atom: xml:base",
        _atom(f"<entry><id>i</id><title>T</title>{UPDATED}</entry>", root=' xml:base="/x/"'),
        False,
    ),
    (
        "atom: an element in an unknown namespace",
        _atom(
            f"<entry xmlns:dc='http://purl.org/dc/elements/1.1/'><id>i</id>"
            f"<dc:title>Other</dc:title><title>T</title>{UPDATED}</entry>"
        ),
        False,
    ),
    ("atom: an entry without dates", _atom("<entry><id>i</id><title>T</title></entry>"), False),
]


@pytest.mark.parametrize(
    ("case", "body", "reads"), CASES + ATOM_CASES, ids=[case for case, _, _ in CASES + ATOM_CASES]
)
def test_fast_reader_reads_or_hands_over_and_the_result_is_feedparsers(
    case: str, body: bytes, reads: bool
):
    fast, reference = both_paths(body, "application/rss+xml")

    assert (read_simple_feed(body, "application/rss+xml") is not None) == reads
    assert fast == reference
    assert isinstance(fast, ParsedFeed)


def test_fast_reader_output_is_plain_text_with_resolved_links():
    body = CASES[0][1].replace(b"<title>T</title>", b"<title>T</title><link>/a?x=1&amp;y=2</link>")

    (entry,) = parse_feed(body, url=URL, content_type="application/rss+xml").entries

    assert entry.summary == "Talks resume"
    assert entry.link == "https://news.example/a?x=1&y=2"
    assert entry.published == datetime(2019, 2, 27, 9, 30, tzinfo=UTC)


def test_fast_reader_output_for_atom_is_plain_text_with_resolved_links():
    body = ATOM_CASES[0][1]

    feed = parse_feed(body, url=URL, content_type="application/atom+xml")
    (entry,) = feed.entries

    assert read_simple_feed(body, "application/atom+xml") is not None
    assert feed.title == "Desk & co"
    assert (entry.title, entry.summary) == ("A b", "Work at the stand")
    assert entry.link == "https://news.example/2019/a"
    assert entry.published == datetime(2019, 3, 6, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "text/xml", "application/rss+xml; charset=iso-8859-1", "application/json"],
)
def test_content_types_the_fast_reader_does_not_know_go_to_feedparser(content_type: str):
    body = _feed(f"<item><title>T</title>{DATE}</item>")

    fast, reference = both_paths(body, content_type)

    assert read_simple_feed(body, content_type) is None
    assert fast == reference


def test_random_feeds_built_from_tricky_pieces_read_the_same_both_ways():
    """Items assembled from pieces feedparser treats specially; any accepted one must agree."""
    fields = [
        [
            "<title>Plain</title>",
            "<title> &lt;i&gt;x&lt;/i&gt; </title>",
            "<title></title>",
            "<title>&amp;amp; &#x80;&#xe9;</title>",
            "<title>Ã©tÃ©</title>",
            "<title>a<!-- c -->b<?pi x?>&#13;&#10;<![CDATA[<i>]]>&#x1F600;</title>",
        ],
        [
            "<link>http:///x.example/a</link>",
            "<link>//cdn.example/a</link>",
            "<link></link>",
            "<link>javascript:alert(1)</link>",
            "<link>/a?b=1&amp;amp;c=2</link>",
        ],
        [
            "<guid>urn:uuid:1</guid>",
            "<guid isPermaLink='true'>http:////y.example</guid>",
            "<guid isPermaLink='false'> g </guid>",
            "<guid></guid>",
            "<guid>/rel/1</guid>",
        ],
        [
            "<description>a&lt;br&gt;b</description>",
            "<description></description>",
            "<description><![CDATA[x &amp; <p>y</p>]]></description>",
        ],
        ["<source url='https://s.example'>Src</source>", "<source url='https://s.example'/>"],
        [
            "<category>c</category>",
            "<author>a@example.org (A)</author>",
            "<dc:creator>A</dc:creator>",
            "<enclosure url='https://e.example/x.mp3' length='1' type='audio/mpeg'/>",
        ],
        [
            DATE,
            "<pubDate>2019-02-27T18:30:00Z</pubDate>",
            "<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>",
            "<pubDate>Feb 2019</pubDate>",
        ],
    ]
    channel = [
        ["<title>Desk</title>", "<title>A &amp;amp; B &lt;/i&gt;</title>", "<title> </title>"],
        ["<image><url>/i.png</url><title>Logo &amp;amp;</title><link>/</link></image>"],
        ["<link>/home</link>", "<description>&lt;p&gt;d&lt;/p&gt;</description>"],
        ["<lastBuildDate>Wed, 27 Feb 2019 18:30:00 +0900</lastBuildDate>", "<ttl>60</ttl>"],
        ["<atom:link rel='alternate' href='/alt'/>", "<category domain='d'>c</category>"],
    ]
    rng = random.Random(10)
    read = 0
    for _ in range(300):
        items = []
        for _ in range(rng.randrange(1, 4)):
            chosen = [rng.choice(options) for options in fields if rng.random() < 0.7]
            rng.shuffle(chosen)
            items.append("<item>" + "".join(chosen) + "</item>")
        items += [rng.choice(options) for options in channel if rng.random() < 0.5]
        rng.shuffle(items)
        body = _feed("".join(items)).replace(b"<title>Desk</title>", b"")
        fast, reference = both_paths(body, None)
        assert fast == reference, body
        read += read_simple_feed(body, None) is not None

    assert read >= 30


def test_random_atom_feeds_built_from_tricky_pieces_read_the_same_both_ways():
    fields = [
        ["<id>tag:x,2019:1</id>", "<id>/relative/id</id>", "<id>https://x.example/a</id>"],
        [
            "<title>P</title>",
            "<title type='html'>&lt;b&gt;B&lt;/b&gt; &amp;amp;</title>",
            "<title type='text'>1 &lt; 2</title>",
            "<title type='xhtml'>x</title>",
        ],
        [
            "<link href='/a'/>",
            "<link rel='alternate' type='text/html' href='http:///b'/>",
            "<link rel='enclosure' href='https://e.example/x.mp3'/>",
            "<link rel='self' href='/s'/>",
            "<link type='html' href='/h'/>",
            "<link rel='alternate' type='XHTML' href='/x'/>",
            "<link rel='alternate' type='application/pdf' href='/c.pdf'/>",
        ],
        [
            "<summary>s &amp;amp; t</summary>",
            "<summary type='html'>&lt;p&gt;p&lt;/p&gt;</summary>",
            "<summary></summary>",
        ],
        [
            "<content type='html'>&lt;i&gt;c&lt;/i&gt;</content>",
            "<content>plain</content>",
            "<content type='text/html'>odd</content>",
            "<content src='/x'/>",
        ],
        [
            "<published>2019-03-08T01:00:00+01:00</published>",
            "<published>2019</published>",
            "<published>later</published>",
        ],
        [UPDATED, "<updated>Fri, 08 Mar 2019 01:00:00 GMT</updated>"],
        ["<author><name>A</name></author>", "<category term='c'/>"],
    ]
    rng = random.Random(11)
    read = 0
    for _ in range(300):
        entries = []
        for _ in range(rng.randrange(1, 4)):
            chosen = [rng.choice(options) for options in fields if rng.random() < 0.7]
            rng.shuffle(chosen)
            entries.append("<entry>" + "".join(chosen) + "</entry>")
        body = _atom("".join(entries))
        fast, reference = both_paths(body, "application/atom+xml")
        assert fast == reference, body
        read += read_simple_feed(body, "application/atom+xml") is not None

    assert read >= 30
