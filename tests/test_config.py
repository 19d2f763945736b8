"""The shipped indicators.yaml keeps the brief's ids, kinds and figures; bad files say where."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.paths import SHIPPED_TRACKER
from watch.config import load_config
from watch.errors import InvalidConfigFile, UnknownIndicator
from watch.feeds.match import Matcher

SHIPPED = SHIPPED_TRACKER

# id, kind, orchard-2018, bosack-2019 — the table in the brief
BRIEF = [
    ("sohae-construction", "event", 0.35, 0.80),
    ("inter-korean-talks-skipped", "event", 0.60, 0.85),
    ("kim-putin-summit", "event", 0.20, 0.85),
    ("missile-test-freeze", "condition", 0.15, 0.35),
    ("short-range-missile-test", "event", 0.55, 0.65),
    ("working-level-talks", "event", 0.60, 0.55),
    ("us-nk-summit", "event", 0.75, 0.40),
    ("kim-xi-meeting", "event", 0.55, 0.35),
    ("new-sanctions", "event", 0.50, 0.60),
    ("sanctions-relief", "event", 0.30, 0.35),
    ("test-site-dismantlement", "event", 0.60, 0.20),
    ("drills-suspended", "event", 0.60, 0.35),
]


@pytest.fixture(scope="module")
def shipped():
    return load_config(SHIPPED)


def test_shipped_file_validates_and_compiles(shipped):
    assert shipped.path == SHIPPED
    assert Matcher(shipped).phrase_count > 100


def test_shipped_readings_are_the_briefs(shipped):
    readings = {r.id: r for r in shipped.readings}
    assert set(readings) == {"orchard-2018", "bosack-2019"}
    assert readings["orchard-2018"].published == date(2018, 5, 22)
    assert readings["bosack-2019"].published == date(2019, 3, 27)
    assert all(r.summary.strip() and r.author for r in readings.values())


@pytest.mark.parametrize(("indicator_id", "kind", "orchard", "bosack"), BRIEF)
def test_shipped_indicator_has_briefs_kind_and_probabilities(
    shipped, indicator_id, kind, orchard, bosack
):
    indicator = shipped.indicator(indicator_id)
    assert indicator.kind == kind
    assert indicator.forecasts["orchard-2018"].p == orchard
    assert indicator.forecasts["bosack-2019"].p == bosack
    assert all(f.why.strip() for f in indicator.forecasts.values())
    assert indicator.description.strip()
    assert indicator.match


def test_shipped_file_has_only_the_briefs_indicators(shipped):
    assert [i.id for i in shipped.indicators] == [row[0] for row in BRIEF]


def test_shipped_feeds_are_public_http_urls_without_repeats(shipped):
    urls = [feed.url for feed in shipped.feeds]
    assert len(urls) >= 8
    assert len(set(urls)) == len(urls)
    assert all(url.startswith("https://") for url in urls)


def test_unknown_indicator_lookup_raises(shipped):
    with pytest.raises(UnknownIndicator, match="no-such-thing"):
        shipped.indicator("no-such-thing")


# ---------------------------------------------------------------- bad files

VALID = """\
tracker: {id: t, title: T}
readings:
  - id: r1
    title: R
    author: A
    source: s
    published: 2019-01-01
    summary: s
aliases:
  kim: [Kim Jong Un]
indicators:
  - id: a
    title: A
    description: d
    kind: event
    forecasts:
      r1: {p: 0.5, why: w}
    match:
      - name: m
        all: ["@kim"]
        any: [{regex: "summit"}]
"""

SECOND_INDICATOR = """\
  - id: a
    title: A again
    description: d
    kind: event
    forecasts:
      r1: {p: 0.5, why: w}
    match:
      - {name: m, all: [summit]}
"""

# name, (old, new) edit of VALID, line, field, message
BAD_FILES = [
    (
        "unknown reading id in forecasts",
        ("      r1: {p: 0.5, why: w}", "      r9: {p: 0.5, why: w}"),
        17,
        "indicators[0].forecasts.r9",
        "unknown reading id 'r9'",
    ),
    (
        "regex that does not compile",
        ('{regex: "summit"}', '{regex: "summit("}'),
        21,
        "indicators[0].match[0].any[0]",
        "bad regex 'summit('",
    ),
    (
        "probability above one",
        ("p: 0.5", "p: 1.5"),
        17,
        "indicators[0].forecasts.r1.p",
        "less than or equal to 1",
    ),
    (
        "probability below zero",
        ("p: 0.5", "p: -0.1"),
        17,
        "indicators[0].forecasts.r1.p",
        "greater than or equal to 0",
    ),
    (
        "duplicate indicator id",
        (VALID, VALID + SECOND_INDICATOR),
        22,
        "indicators[1].id",
        "duplicate indicator id 'a'",
    ),
    (
        "unknown key",
        ("    kind: event\n", "    kind: event\n    colour: red\n"),
        16,
        "indicators[0].colour",
        "unknown key 'colour'",
    ),
    (
        "unknown alias in a rule",
        ('all: ["@kim"]', 'all: ["@kimm"]'),
        19,
        "indicators[0].match[0]",
        "unknown alias '@kimm'",
    ),
    (
        "unknown alias in an alias",
        ("kim: [Kim Jong Un]", 'kim: [Kim Jong Un, "@leader"]'),
        10,
        "aliases.kim[1]",
        "unknown alias '@leader'",
    ),
    (
        "wildcard inside a phrase",
        ('all: ["@kim"]', 'all: ["@kim", "kim* jong"]'),
        19,
        "indicators[0].match[0]",
        "'*' may only end a phrase",
    ),
    (
        "yaml syntax error",
        ('all: ["@kim"]', 'all: ["@kim"'),
        21,
        "",
        "YAML syntax",
    ),
]


@pytest.mark.parametrize(
    ("edit", "line", "field", "message"),
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_bad_file_names_file_line_and_field(tmp_path, edit, line, field, message):
    path = tmp_path / "indicators.yaml"
    old, new = edit
    assert old in VALID
    path.write_text(VALID.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InvalidConfigFile) as caught:
        load_config(path)
    text = str(caught.value)
    first = text.splitlines()[0]
    assert first.startswith(f"{path}:{line}: {field}"), text
    assert message in first, text
    assert caught.value.path == path


def test_valid_base_file_loads(tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert load_config(path).indicators[0].id == "a"


def test_duplicate_keys_are_an_error_not_a_silent_overwrite(tmp_path):
    shipped = SHIPPED_TRACKER.read_text()
    broken = tmp_path / "dup.yaml"
    broken.write_text(shipped.replace("tracker:\n", "tracker:\n  id: first-id\n", 1))
    with pytest.raises(InvalidConfigFile) as caught:
        load_config(broken)
    assert "dup.yaml" in str(caught.value) and "duplicate" in str(caught.value).lower()


# ------------------------------------------------- guards and unplaced errors


def _first_problem(path):
    with pytest.raises(InvalidConfigFile) as caught:
        load_config(path)
    return str(caught.value).splitlines()[0]


def test_oversized_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    filler = "".join(f"# padding line {i}\n" for i in range(150_000))
    path.write_text(VALID + filler, encoding="utf-8")
    first = _first_problem(path)
    assert first.startswith(f"{path}: file too large:"), first
    assert "bytes" in first


def test_alias_bomb_is_refused_with_its_line(tmp_path):
    lines = ["lol0: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    for level in range(1, 9):
        lines.append(f"lol{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text(VALID + "\n".join(lines) + "\n", encoding="utf-8")
    first = _first_problem(path)
    assert first.startswith(f"{path}:1: "), first
    assert "alias" in first


def test_bad_date_names_line_and_field(tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_text(VALID.replace("2019-01-01", "2019-13-01"), encoding="utf-8")
    first = _first_problem(path)
    assert first.startswith(f"{path}:7: readings[0].published: "), first
    assert "month" in first


def test_binary_file_names_line_of_the_bad_byte(tmp_path):
    path = tmp_path / "indicators.yaml"
    path.write_bytes(VALID.encode() + b"feeds: []\n\x80\x81 binary\n")
    first = _first_problem(path)
    line = VALID.count("\n") + 2
    assert first.startswith(f"{path}:{line}: not UTF-8 text: byte 0x80"), first
