"""parse_feed: plain-text entries out of RSS and Atom, NotAFeed for anything else."""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta

import pytest

from watch.errors import NotAFeed
from watch.feeds.parse import ParsedEntry, ParsedFeed, is_plausible_date, parse_feed, strip_html

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Peninsula &amp; Beyond</title>
<item>
  <guid isPermaLink="false">wire-0042</guid>
  <title>Envoys meet in Hanoi</title>
  <link>/2019/02/envoys</link>
  <description>&lt;p&gt;Talks &lt;b&gt;resume&lt;/b&gt;&amp;nbsp;today.&lt;/p&gt;
    &lt;p&gt;More soon.&lt;/p&gt;</description>
  <pubDate>Wed, 27 Feb 2019 18:30:00 +0900</pubDate>
</item>
<item><title>Undated note</title></item>
</channel></rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">Launch &lt;em&gt;watch&lt;/em&gt;</title>
  <entry>
    <id>tag:example.org,2019:sohae-1</id>
    <title>Rails 1 &lt; 2 at the pad</title>
    <updated>2019-03-07T06:00:00Z</updated>
    <content type="html">&lt;div&gt;Imagery shows work&lt;script&gt;track()&lt;/script&gt;
      at the stand.&lt;/div&gt;</content>
  </entry>
  <entry>
    <id>tag:example.org,2019:sohae-2</id>
    <title>Both dates</title>
    <link href="https://example.org/sohae-2"/>
    <published>2019-03-08T01:00:00+01:00</published>
    <updated>2019-03-09T00:00:00Z</updated>
    <summary>Plain summary</summary>
  </entry>
</feed>
"""

AGGREGATOR = b"""<rss version="2.0"><channel><title>"summit" - News search</title>
<item>
  <title>Kim and Putin to meet in Vladivostok - Yonhap</title>
  <link>https://news.example/articles/abc</link>
  <guid isPermaLink="false">CBMiabc</guid>
  <pubDate>Tue, 23 Apr 2019 08:00:00 GMT</pubDate>
  <source url="https://en.yna.co.kr">Yonhap News Agency</source>
</item>
</channel></rss>
"""


def test_rss_entry_comes_out_as_plain_text_with_utc_date():
    feed = parse_feed(RSS, url="https://news.example/feed.xml", content_type="application/rss+xml")

    assert feed == ParsedFeed(
        title="Peninsula & Beyond",
        entries=[
            ParsedEntry(
                guid="wire-0042",
                link="https://news.example/2019/02/envoys",
                title="Envoys meet in Hanoi",
                summary="Talks resume today. More soon.",  # &nbsp; too is whitespace
                published=datetime(2019, 2, 27, 9, 30, tzinfo=UTC),
                source=None,
            ),
            ParsedEntry(
                guid=None, link=None, title="Undated note", summary="", published=None, source=None
            ),
        ],
        problem=None,
    )


def test_atom_entries_strip_html_only_where_the_feed_says_html():
    feed = parse_feed(ATOM, content_type="application/atom+xml")
    first, second = feed.entries

    assert feed.title == "Launch watch"
    assert first.title == "Rails 1 < 2 at the pad"
    assert first.summary == "Imagery shows work at the stand."
    assert second.summary == "Plain summary"


def test_atom_dates_prefer_published_then_updated():
    first, second = parse_feed(ATOM).entries

    assert first.published == datetime(2019, 3, 7, 6, 0, tzinfo=UTC)
    assert second.published == datetime(2019, 3, 8, 0, 0, tzinfo=UTC)


def test_guid_is_kept_as_written_and_a_non_web_link_is_dropped():
    first, second = parse_feed(ATOM, url="https://example.org/atom.xml").entries

    assert (first.guid, first.link) == ("tag:example.org,2019:sohae-1", None)
    assert (second.guid, second.link) == (
        "tag:example.org,2019:sohae-2",
        "https://example.org/sohae-2",
    )


def test_aggregator_entry_names_its_source():
    (entry,) = parse_feed(AGGREGATOR).entries

    assert entry.source == "Yonhap News Agency"
    assert entry.guid == "CBMiabc"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("windows-1251", "Пхеньян отвечает Сеулу"),
        ("iso-8859-1", "Séoul répond à Pyongyang"),
        ("utf-16", "평양, 서울에 답하다"),
    ],
)
def test_feed_in_another_encoding_is_decoded_from_its_declaration(encoding: str, text: str):
    xml = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f"<rss version='2.0'><channel><title>{text}</title>"
        f"<item><title>{text}</title></item></channel></rss>"
    )

    feed = parse_feed(xml.encode(encoding), content_type="application/rss+xml")

    assert (feed.title, feed.entries[0].title, feed.problem) == (text, text, None)


def test_http_charset_beats_a_wrong_xml_declaration():
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0"><channel><title>Séoul</title></channel></rss>'
    )

    feed = parse_feed(xml.encode("iso-8859-1"), content_type="application/xml; charset=iso-8859-1")

    assert feed.title == "Séoul"


def test_a_feed_served_as_text_html_still_parses_without_a_problem():
    feed = parse_feed(RSS, content_type="text/html; charset=utf-8")

    assert len(feed.entries) == 2
    assert feed.problem is None


def test_malformed_feed_is_recovered_with_its_problem():
    broken = RSS.replace(b"</channel></rss>", b"").replace(b"<title>Undated", b"<title>Undated &")

    feed = parse_feed(broken)

    assert [e.title for e in feed.entries] == ["Envoys meet in Hanoi", "Undated & note"]
    assert feed.problem is not None
    assert "line" in feed.problem


def test_absurd_dates_are_kept_for_the_caller_to_judge():
    xml = (
        b"<rss version='2.0'><channel><title>t</title>"
        b"<item><title>old</title><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>"
        b"<item><title>future</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>"
        b"</channel></rss>"
    )
    old, future = parse_feed(xml).entries

    assert old.published == datetime(1970, 1, 1, tzinfo=UTC)
    assert future.published == datetime(2100, 1, 1, tzinfo=UTC)


NOW = datetime(2019, 3, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "plausible"),
    [
        (NOW, True),
        (datetime(1990, 1, 1, tzinfo=UTC), True),
        (datetime(1989, 12, 31, 23, 59, tzinfo=UTC), False),
        (NOW + timedelta(days=2), True),  # clock skew and time zones
        (NOW + timedelta(days=2, seconds=1), False),
    ],
)
def test_is_plausible_date(value: datetime, plausible: bool):
    assert is_plausible_date(value, now=NOW) is plausible


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain", "plain"),
        ("a &amp; b &lt;c&gt;", "a & b <c>"),
        ("<p>one</p><p>two</p>", "one two"),
        ("line<br>break", "line break"),
        ("<b>bo</b>ld", "bold"),
        ("x<script>alert(1)</script><style>p{}</style>y", "xy"),
        ("  spaced \n\t out  ", "spaced out"),
        ("1 < 2 apples", "1 < 2 apples"),
        ("trailing <unclosed", "trailing <unclosed"),
        ("broken <a href='x'>link", "broken link"),
    ],
)
def test_strip_html(html: str, text: str):
    assert strip_html(html) == text


NOT_FEEDS = [
    # (case, body, content_type, reason)
    ("empty body", b"", None, "empty body"),
    ("whitespace", b" \n\t ", None, "empty body"),
    (
        "html page",
        b"<!DOCTYPE html><html><head><title>Wire</title>"
        b'<link rel="alternate" href="/feed"></head><body><p>Hi</p></body></html>',
        None,
        "an HTML page, not a feed",
    ),
    (
        "html served as html",
        b"<html><body>Hi</body></html>",
        "text/html; charset=utf-8",
        "an HTML page, not a feed (served as text/html)",
    ),
    ("json", b'{"items": []}', "application/json", "not a feed (served as application/json)"),
    ("garbage bytes", bytes(range(256)), None, "not a feed"),
    ("other xml", b"<?xml version='1.0'?><config><a>1</a></config>", None, "not a feed"),
    ("a file path is not read", b"/etc/hostname", None, "not a feed"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [case[1:] for case in NOT_FEEDS],
    ids=[case[0] for case in NOT_FEEDS],
)
def test_not_a_feed_says_why(body: bytes, content_type: str | None, reason: str):
    with pytest.raises(NotAFeed) as caught:
        parse_feed(body, url="https://example.org/x", content_type=content_type)

    assert str(caught.value).startswith(reason)
    assert caught.value.url == "https://example.org/x"


def assert_well_formed(feed: ParsedFeed) -> None:
    """What every caller of parse_feed relies on, whatever the input was."""
    assert isinstance(feed, ParsedFeed)
    for entry in feed.entries:
        assert isinstance(entry, ParsedEntry)
        assert isinstance(entry.title, str) and entry.title == entry.title.strip()
        assert isinstance(entry.summary, str) and "\n" not in entry.summary
        assert entry.published is None or entry.published.tzinfo is UTC


def test_every_prefix_of_a_feed_parses_or_is_not_a_feed():
    whole = parse_feed(ATOM)
    parsed = []
    for end in range(len(ATOM) + 1):
        with contextlib.suppress(NotAFeed):
            feed = parse_feed(ATOM[:end])
            assert_well_formed(feed)
            assert len(feed.entries) <= len(whole.entries)
            parsed.append(feed)

    assert parsed[-1] == whole  # the last prefix is the whole document
    assert len(parsed) > len(ATOM) // 2  # most prefixes recover something
    assert [len(f.entries) for f in parsed][-1] == 2


def test_random_bytes_never_raise_anything_but_not_a_feed():
    rng = random.Random(20190227)
    with_entries = 0
    for _ in range(300):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        splice = rng.randrange(len(RSS))
        for candidate in (body, RSS[:splice] + body + RSS[splice:]):
            with contextlib.suppress(NotAFeed):
                feed = parse_feed(candidate)
                assert_well_formed(feed)
                with_entries += bool(feed.entries)

    assert with_entries > 0  # the spliced feeds still give entries, not only refusals
