from datetime import UTC, datetime

import pytest

from watch.feeds.dedupe import canonical_link, entry_key, fingerprint
from watch.feeds.parse import ParsedEntry


def entry(**fields) -> ParsedEntry:
    base = dict(guid=None, link=None, title="", summary="", published=None, source=None)
    return ParsedEntry(**(base | fields))


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("https://www.example.com/a/b/?utm_source=rss&utm_medium=x", "http://example.com/a/b"),
        ("https://example.com/story?id=7&fbclid=abc", "https://example.com/story?id=7"),
        ("https://example.com/story#comments", "https://EXAMPLE.com/story/"),
        ("https://m.example.com/story?b=2&a=1", "https://example.com/story?a=1&b=2"),
    ],
)
def test_canonical_link_ignores_what_differs_between_copies(left, right):
    assert canonical_link(left) == canonical_link(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("https://example.com/story?id=7", "https://example.com/story?id=8"),
        ("https://example.com/a", "https://example.org/a"),
    ],
)
def test_canonical_link_keeps_what_names_the_article(left, right):
    assert canonical_link(left) != canonical_link(right)


@pytest.mark.parametrize("url", [None, "", "mailto:x@example.com", "not a url", "tag:x,2019:1"])
def test_canonical_link_of_non_web_links_is_none(url):
    assert canonical_link(url) is None


def test_fingerprint_folds_case_punctuation_accents_and_publisher_suffix():
    a = fingerprint("North Korea rebuilds Sohae rocket site, satellite images show - Reuters")
    b = fingerprint("North Korea Rebuilds Sohae Rocket Site; Satellite Images Show | Yonhap")
    assert a is not None and a == b


def test_fingerprint_of_short_titles_is_none():
    assert fingerprint("News") is None
    assert fingerprint("Daily briefing") is None


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        (entry(guid="a", link="x"), entry(guid="a", link="y"), True),
        (entry(guid="a"), entry(guid="b"), False),
        (entry(link="https://e.com/1"), entry(link="https://e.com/1", title="edited"), True),
        (
            entry(title="t", published=datetime(2019, 4, 1, tzinfo=UTC)),
            entry(title="t", published=datetime(2019, 4, 2, tzinfo=UTC)),
            False,
        ),
        (entry(title="t", summary="s"), entry(title="t", summary="s"), True),
    ],
)
def test_entry_key_prefers_guid_then_link_then_content(left, right, same):
    assert (entry_key(left) == entry_key(right)) is same
