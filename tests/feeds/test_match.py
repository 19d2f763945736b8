"""Matching semantics (inline trackers) and the shipped indicators on real-style headlines."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import pytest

from tests.support.paths import SHIPPED_TRACKER
from watch.config import load_config
from watch.errors import InvalidConfigFile
from watch.feeds.match import Match, Matcher, entry_text, normalize, sentences

SHIPPED = SHIPPED_TRACKER

TRACKER = """\
tracker: {id: t, title: T}
readings:
  - {id: r, title: R, author: A, source: s, published: 2019-01-01, summary: s}
"""


def matcher_for(tmp_path: Path, rules: str, aliases: str = "{}") -> Matcher:
    """A one-indicator tracker (id "x") whose `match:` is the YAML list `rules`."""
    body = textwrap.indent(textwrap.dedent(rules).strip(), "      ")
    text = (
        TRACKER
        + f"aliases: {aliases}\n"
        + "indicators:\n"
        + "  - id: x\n    title: X\n    description: d\n    kind: event\n"
        + "    forecasts: {r: {p: 0.5, why: w}}\n"
        + "    match:\n"
        + body
        + "\n"
    )
    path = tmp_path / "tracker.yaml"
    path.write_text(text, encoding="utf-8")
    return Matcher(load_config(path))


def spans(matcher: Matcher, text: str) -> list[str]:
    return [found.span for found in matcher.match(text)]


# ---------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kim Jong-un", "kim jong un"),
        ("KIM JONG UN", "kim jong un"),
        ("Dongchang-ri", "dongchang ri"),
        ("Tōngchang‐ri", "tongchang ri"),  # macron and a Unicode hyphen
        ("N.Korea’s “test”", "n korea s test"),
        ("U.S.–North Korea", "u s north korea"),
        ("  many\t spaces\n here ", "many spaces here"),
        ("Pyŏngyang — Séoul", "pyongyang seoul"),
        ("ＩＣＢＭ", "icbm"),  # full-width letters fold too
        ("", ""),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Title", "Summary here", "Title. Summary here"),
        ("Title?", "Summary", "Title? Summary"),
        ("Title", None, "Title"),
        (None, "Summary", "Summary"),
        (None, None, ""),
        ("A &amp; B", "<p>One <b>two</b></p><p>three</p>", "A & B. One two three"),
        ("T", "<script>var x = 1;</script>text<!-- note -->", "T. text"),
        ("  spaced\n title ", "&lt;not a tag&gt;", "spaced title. <not a tag>"),
    ],
)
def test_entry_text_strips_html_and_joins_title_and_summary(title, summary, expected):
    assert entry_text(title, summary) == expected


# ---------------------------------------------------------------- semantics

PHRASE_CASES = [
    # rule, text, matches
    ("all: [Kim Jong Un]", "Kim Jong-un arrives", True),
    ("all: [Kim Jong Un]", "KIM JONG-UN ARRIVES", True),
    ("all: [Kim Jong-un]", "kim jong un arrives", True),
    ("all: [Dongchang-ri]", "work at Dongchang ri", True),
    ("all: [Dongchang-ri]", "work at Dongchangri", False),
    ("all: [Sohae]", "work at Sōhae", True),
    ("all: [kim]", "Kimberly Clark results", False),
    ("all: [kim]", "Kim's train", True),
    ("all: [test]", "an old testament", False),
    ("all: [test]", "protest in Seoul", False),
    ("all: [test*]", "two tests today", True),
    ("all: [test*]", "testing resumes", True),
    ("all: [test*]", "protests in Seoul", False),
    ("all: [nuclear test*]", "nuclear testing site", True),
    ("all: [nuclear test*]", "nuclear protest", False),
    ("all: [U.S.]", "US and allies", False),
    ("all: [U.S.]", "U.S. and allies", True),
    ("all: [N. Korea*]", "N.Korean troops", True),
]


@pytest.mark.parametrize(("rule", "text", "matches"), PHRASE_CASES)
def test_phrases_match_whole_words_case_accent_and_hyphen_insensitive(
    tmp_path, rule, text, matches
):
    matcher = matcher_for(tmp_path, f"- name: r\n  {rule}")
    assert bool(matcher.match(text)) is matches


def test_aliases_expand_recursively_and_cycles_are_harmless(tmp_path):
    aliases = (
        "{kim: [Kim Jong Un, '@leader'], leader: [North Korean leader, '@kim'],"
        " putin: [Putin, Vladimir Putin]}"
    )
    matcher = matcher_for(tmp_path, "- name: r\n  all: ['@kim', '@putin']", aliases)
    assert spans(matcher, "North Korean leader meets Putin") == ["North Korean leader"]
    assert spans(matcher, "Kim Jong Un meets Vladimir Putin") == ["Kim Jong Un"]
    assert matcher.match("Kim Jong Un meets Moon") == []


GROUP_CASES = [
    # rule, text, matches
    ("all: [a, b]", "a then b", True),
    ("all: [a, b]", "only a", False),
    ("any: [a, b]", "only b", True),
    ("any: [a, b]", "neither", False),
    ("{all: [a], any: [b, c]}", "a and c", True),
    ("{all: [a], any: [b, c]}", "a alone", False),
    ("{all: [a], none: [b]}", "a alone", True),
    ("{all: [a], none: [b]}", "a with b", False),
    ("{all: [a], none: [{all: [b, c]}]}", "a with b", True),
    ("{all: [a], none: [{all: [b, c]}]}", "a with b and c", False),
    ("{all: [a, {any: [b, c]}]}", "a c", True),
    ("{all: [a, {any: [b, c]}]}", "a d", False),
    ("{any: [{all: [a, b]}, {all: [c, d]}]}", "c and d", True),
    ("{any: [{all: [a, b]}, {all: [c, d]}]}", "a and d", False),
]


@pytest.mark.parametrize(("rule", "text", "matches"), GROUP_CASES)
def test_groups_combine_all_any_none(tmp_path, rule, text, matches):
    matcher = matcher_for(tmp_path, f"- name: r\n  all: [{rule}]")
    assert bool(matcher.match(text)) is matches


NEAR_CASES = [
    # within, text, matches
    (2, "Kim meets Putin", True),
    (2, "Putin meets Kim", True),  # either order
    (2, "Kim will meet Putin", True),  # two words between
    (2, "Kim will soon meet Putin", False),  # three words between
    (1, "Kim, Putin", True),
    (4, "Kim arrived. Later that week, unrelated, Putin spoke", False),
    (6, "Kim alone", False),
]


@pytest.mark.parametrize(("within", "text", "matches"), NEAR_CASES)
def test_near_counts_words_between_in_either_order(tmp_path, within, text, matches):
    matcher = matcher_for(tmp_path, f"- name: r\n  near: [kim, putin]\n  within: {within}")
    assert bool(matcher.match(text)) is matches


def test_near_sides_must_not_overlap(tmp_path):
    aliases = "{kim: [Kim Jong Un], person: [Kim, Jong Un]}"
    matcher = matcher_for(tmp_path, "- name: r\n  near: ['@kim', '@person']\n  within: 3", aliases)
    assert matcher.match("Kim Jong Un arrives") == []
    assert spans(matcher, "Kim Jong Un and Kim") == ["Kim Jong Un and Kim"]


def test_near_with_multiword_phrases_and_wildcards(tmp_path):
    matcher = matcher_for(tmp_path, "- name: r\n  near: [liaison office, withdr*]\n  within: 3")
    assert spans(matcher, "North withdraws all staff from liaison office") == [
        "withdraws all staff from liaison office"
    ]
    assert matcher.match("North withdraws all its remaining staff from liaison office") == []


REGEX_CASES = [
    # regex, text, matches
    (r"\bnuclear test\b(?! site)", "North Korea conducts nuclear test", True),
    (r"\bnuclear test\b(?! site)", "Quake near nuclear test site", False),
    (r"kim jong un s", "Kim Jong-un's sister", True),  # runs on normalised text
    (r"KIM", "kim arrives", True),  # case-insensitive
    (r"u s north korea", "U.S.-North Korea talks", True),
]


@pytest.mark.parametrize(("regex", "text", "matches"), REGEX_CASES)
def test_regex_runs_on_normalised_text(tmp_path, regex, text, matches):
    matcher = matcher_for(tmp_path, f"- name: r\n  any: [{{regex: '{regex}'}}]")
    assert bool(matcher.match(text)) is matches


def test_regex_in_none_and_with_phrases(tmp_path):
    matcher = matcher_for(
        tmp_path, "- name: r\n  all: [missile*]\n  none: [{regex: '^south korea'}]"
    )
    assert matcher.match("North Korea fires missiles")
    assert matcher.match("South Korea fires missiles") == []


def test_span_is_original_text(tmp_path):
    aliases = "{sohae: [Sohae, Tongchang-ri, Dongchang-ri]}"
    matcher = matcher_for(tmp_path, "- name: site\n  all: ['@sohae', rebuild*]", aliases)
    assert matcher.match("North Korea rebuilding TONGCHANG‐RI site") == [
        Match("x", "site", "TONGCHANG‐RI")
    ]
    assert spans(matcher, "Rebuilding at «Sōhae», 38 North says") == ["Sōhae"]
    assert spans(matcher, "ﬁrst: rebuilding at Dongchang ri") == ["Dongchang ri"]


def test_span_of_wildcard_is_the_whole_word(tmp_path):
    matcher = matcher_for(tmp_path, "- name: r\n  all: [dismantl*]")
    assert spans(matcher, "Work on DISMANTLING begins") == ["DISMANTLING"]


def test_span_prefers_near_then_all_then_any(tmp_path):
    rules = """\
    - name: with-near
      all: [north korea]
      near: [fires, missile*]
      within: 2
    """
    assert spans(matcher_for(tmp_path, rules), "North Korea fires two missiles") == [
        "fires two missiles"
    ]
    rules = "- name: r\n  any: [summit]\n  all: [Hanoi]"
    assert spans(matcher_for(tmp_path, rules), "Summit in Hanoi") == ["Hanoi"]
    rules = "- name: r\n  any: [talks, summit]"
    assert spans(matcher_for(tmp_path, rules), "Summit in Hanoi") == ["Summit"]


def test_first_matching_rule_is_reported_once_per_indicator(tmp_path):
    rules = """\
    - name: first
      all: [summit]
    - name: second
      all: [hanoi]
    """
    matcher = matcher_for(tmp_path, rules)
    assert matcher.match("Hanoi summit") == [Match("x", "first", "summit")]
    assert matcher.match("Hanoi talks") == [Match("x", "second", "Hanoi")]


def test_matches_come_in_file_order_one_per_indicator(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(
        TRACKER
        + """\
indicators:
  - id: first
    title: F
    description: d
    kind: event
    forecasts: {r: {p: 0.5, why: w}}
    match: [{name: a, all: [summit]}]
  - id: second
    title: S
    description: d
    kind: condition
    forecasts: {r: {p: 0.5, why: w}}
    match: [{name: only-regex, any: [{regex: 'hanoi'}]}]
""",
        encoding="utf-8",
    )
    matcher = Matcher(load_config(path))
    found = matcher.match("Summit in Hanoi")
    assert [(m.indicator_id, m.rule, m.span) for m in found] == [
        ("first", "a", "Summit"),
        ("second", "only-regex", "Hanoi"),
    ]
    assert matcher.match("") == []
    assert matcher.match(" -- ") == []


def test_many_rules_sharing_a_common_term_are_each_evaluated(tmp_path):
    # every rule needs "north korea"; each is indexed by its rarer term, yet all still match
    rules = "\n".join(f"- name: r{i}\n  all: [north korea, topic{i}]" for i in range(30))
    matcher = matcher_for(tmp_path, rules)
    assert [m.rule for m in matcher.match("North Korea topic17 news")] == ["r17"]
    assert matcher.match("North Korea news") == []


HEADLINES = {
    "sohae-construction": (
        [
            "North Korea rebuilding rocket launch site it pledged to dismantle, think tanks say",
            "Satellite images show new construction at North Korea's Sohae launch facility",
            "N. Korea appears to be restoring Tongchang-ri missile engine test stand: 38 North",
            "Work at Sohae Satellite Launching Station continues at rapid pace",
            "North Korea may be readying a satellite launch at Sohae, imagery suggests",
            "Dongchang-ri: signs of launch preparations spotted, Seoul's spy agency says",
            "North Korea expands Sohae launch pad ahead of planned spy satellite launch",
            "North Korea launches reconnaissance satellite from Sohae, Japan says",
            "Pyongyang reassembling structures at Sohae rocket site after Hanoi summit collapse",
            (
                "North Korea restoring long-range rocket site, U.S. researchers say. Commercial "
                "satellite imagery shows North Korea has begun rebuilding structures at its Sohae"
                " rocket launch site."
            ),
            "N. Korea speeding up work at rocket launch station, experts say",
            "38 North: Construction at Sohae continues despite Kim's pledge",
            "North Korea's Sohae: Major Expansion of Launch Facilities Underway",
            (
                "North Korea appears to be preparing satellite launch, Seoul says. South Korea's "
                "spy agency said activity at the Sohae site suggested launch preparations."
            ),
            "North Korea conducts 'very important test' at Sohae satellite launching ground",
            "North Korea says it carried out crucial test at satellite launching ground",
            "North Korea has restored facilities at Sohae, experts say",
        ],
        [
            "North Korea begins dismantling key facilities at Sohae launch site",
            (
                "Kim pledges to permanently dismantle Dongchang-ri engine test site in presence "
                "of inspectors"
            ),
            "Sohae: dismantlement of the vertical engine test stand continues",
            "South Korea's Naro rocket launch site expanded ahead of next mission",
            "Japan rebuilding launch pad at Tanegashima after rocket failure",
            "North Korea's Punggye-ri nuclear test site shows signs of restoration",
            "Sohae Satellite Launching Station: no significant activity observed",
            (
                "North Korea dismantling Sohae engine test stand, satellite images show. North "
                "Korea has begun tearing down a key facility at Sohae, a monitoring group said."
            ),
            "Analysts: Sohae launch site remains quiet, no signs of rebuilding",
            "South Korea launches first military spy satellite from California",
            "North Korea says satellite launch failed after rocket crashed into sea",
        ],
    ),
    "inter-korean-talks-skipped": (
        [
            "North Korea cancels high-level talks with South Korea, citing joint air drills",
            "N. Korea calls off inter-Korean talks scheduled for Wednesday",
            "North Korea pulls out of joint liaison office with South",
            (
                "North Korean officials fail to show up at weekly meeting at inter-Korean liaison"
                " office"
            ),
            "Pyongyang indefinitely postpones military talks with Seoul",
            "North Korea blows up inter-Korean liaison office in Kaesong",
            "N. Korea withdraws staff from inter-Korean liaison office, unification ministry says",
            "North Korea abruptly walks out of general-level talks with South Korea",
            "North Korea cancels talks with South Korea, blames US drills",
            "North Korea snubs Seoul's offer of Red Cross talks, skips meeting",
            "N. Korea suspends high-level talks with S. Korea over Max Thunder drills",
            "North Korea no-show at inter-Korean liaison office meeting for second week",
            "Pyongyang cuts off all communication lines with Seoul, including liaison office",
            "North Korea says it will not attend talks with the South, citing 'hostile' drills",
        ],
        [
            "Inter-Korean talks held at Panmunjom as planned",
            "North and South Korea agree to hold high-level talks next week",
            "South Korea postpones inter-Korean talks over coronavirus concerns",
            "North Korea returns staff to inter-Korean liaison office days after pull-out",
            "Joint liaison office opens in Kaesong in landmark step",
            "South Korea temporarily withdraws staff from liaison office over coronavirus",
            "North Korea calls off talks with U.S. officials, Seoul says",
            "North Korea skips working-level talks with US, says dialogue pointless",
            "Inter-Korean general-level talks go ahead despite North's threat",
            "U.S., North Korea discuss opening liaison offices",
            "Koreas open joint liaison office in Kaesong",
            "Inter-Korean talks end with agreement on family reunions",
            "South Korea proposes military talks with North",
            "North Korea proposes high-level talks with South Korea",
            "Two Koreas agree to resume military talks after a two-year break",
            "Seoul calls off civilian visits to North over swine fever",
        ],
    ),
    "kim-putin-summit": (
        [
            "Kim Jong Un arrives in Vladivostok for first summit with Putin",
            "Putin and Kim Jong-un hold talks at Russian spaceport",
            "Kremlin says Kim Jong Un will visit Russia later this month",
            "Putin, Kim shake hands at start of Vladivostok summit",
            "North Korean leader Kim heads to Russia on armoured train",
            "Putin lands in Pyongyang for rare visit to North Korea",
            "Russia-North Korea summit to take place in Vladivostok, Kremlin confirms",
            "Kim accepts Putin's invitation to visit Moscow",
            "Putin hosts Kim Jong Un at Vostochny Cosmodrome",
            "Kim Jong Un in Russia: North Korean leader meets Putin at Vostochny Cosmodrome",
            "Putin to host Kim Jong-un in Vladivostok next week, Kremlin says",
            "Kim Jong Un's armoured train crosses into Russia",
            "Russian President Vladimir Putin holds talks with North Korea's Kim in Vladivostok",
            "North Korea confirms Kim will visit Russia for talks with Putin",
            "Putin says he and Kim discussed nuclear issue at length",
            "North Korea's Kim, Russia's Putin hold first summit",
            "Kim Jong Un leaves for Russia summit",
        ],
        [
            "Putin meets South Korea's Moon Jae-in in Moscow",
            "Xi meets Putin in Beijing, discusses North Korea",
            "Kim Yo Jong meets Putin envoy in Pyongyang",
            "Lavrov arrives in Pyongyang for talks with North Korean officials",
            "Putin says Kim Jong Un needs security guarantees",
            "Kim Jong Un sends birthday greetings to Putin",
            "North Korea's Kim visits Russian embassy in Pyongyang",
            "Putin could meet Kim Jong Un 'at some point', Kremlin says",
            "Putin, Moon discuss North Korea in phone call",
            "Russia's Lavrov meets Kim Jong Un in Pyongyang, delivers message from Putin",
            "Putin says he has no plans to meet Kim Jong Un this year",
            "Kim Jong Un congratulates Putin on re-election",
            "Russian Defence Minister Shoigu visits Pyongyang for war anniversary",
            "Putin and Xi discuss Kim's nuclear programme",
        ],
    ),
    "missile-test-freeze": (
        [
            "North Korea fires ICBM that could reach US mainland, Japan says",
            "North Korea test-fires Hwasong-15 intercontinental ballistic missile",
            "N. Korea launches intermediate-range ballistic missile over Japan",
            "North Korea conducts sixth nuclear test, says it was a hydrogen bomb",
            "Kim Jong Un says North Korea no longer bound by moratorium on nuclear and ICBM tests",
            "North Korea fires long-range missile for first time since 2017",
            "North Korea says it will resume nuclear testing and ICBM launches",
            "Pyongyang launches new solid-fuel Hwasong-18 ICBM",
            "North Korea says it tested new Hwasong-17 ICBM, its most powerful yet",
            "North Korea fires suspected ICBM into waters off Japan's Hokkaido",
            "Pyongyang ends moratorium, fires intercontinental ballistic missile",
            "North Korea conducts nuclear test, first since 2017, seismic data suggest",
            "North Korea's Kim declares end to nuclear test moratorium",
            "North Korea's Kim says no more reason to observe nuclear, ICBM testing moratorium",
            "North Korea fires ballistic missile over Japan",
        ],
        [
            "North Korea fires two short-range ballistic missiles into the sea",
            "US test-launches Minuteman III ICBM from Vandenberg",
            "North Korea could test ICBM soon, South Korea's spy agency warns",
            "North Korea shows off new ICBMs at military parade",
            "Kim oversees ground test of solid-fuel engine for ICBM",
            "Quake detected near North Korea's nuclear test site was natural, experts say",
            "North Korea's nuclear test site dismantled in front of foreign journalists",
            "Trump touts North Korea's moratorium on nuclear tests",
            "North Korea threatens to resume nuclear tests",
            "North Korea says it has no need to test ICBMs anymore",
            "North Korea prepares seventh nuclear test, US and South Korea warn",
            "North Korea tests solid-fuel engine for new ICBM",
            "North Korea hails anniversary of first ICBM test",
            "US conducts ICBM test in show of strength after North Korea tensions",
            "North Korea fires short-range missiles; no ICBM launch since 2017",
        ],
    ),
    "short-range-missile-test": (
        [
            "North Korea fires two short-range missiles into the sea, South Korea's military says",
            "N. Korea launches unidentified projectiles off east coast",
            "North Korea test-fires new 'tactical guided weapon', KCNA says",
            "North Korea fires cruise missiles off its west coast",
            "Kim Jong Un oversees test of super-large multiple rocket launcher",
            "North Korea launches ballistic missile into East Sea: JCS",
            "Pyongyang fires barrage of KN-25 rockets toward Yellow Sea",
            "North Korea fires Iskander-type missiles",
            "North Korea launches two missiles toward sea, first test since Hanoi summit",
            "N. Korea fires 2 short-range missiles off east coast: JCS",
            "North Korea fires barrage of rockets, missiles into sea",
            "North Korea launches 'new-type tactical guided weapons' into East Sea",
            "Kim Jong Un supervises firing of multiple rocket launchers, KCNA says",
            "North Korea fires salvo of cruise missiles toward the Yellow Sea",
            "Kim Jong Un guides test-fire of new tactical weapon",
            "North Korea fires 'new weapon' in first missile test since summit",
        ],
        [
            "South Korea test-fires new ballistic missile capable of hitting all of North Korea",
            "US, South Korea fire missiles into sea in response to North Korean launch",
            "North Korea fires ICBM into waters off Japan",
            "North Korea fires artillery shells near maritime border",
            "Russia fires North Korean missiles at Ukraine, Kyiv says",
            "North Korea may fire more missiles, Seoul warns",
            "Japan test-fires upgraded Type-12 missile",
            "North Korea displays rocket launchers at parade",
            "South Korea, US conduct missile drill in response to North's provocation",
            "Japan's new missile defence system passes test",
            "North Korea fires artillery into buffer zone near western sea border",
            "North Korea could launch short-range missiles in coming days, report says",
            "North Korea unveils new short-range missiles at military parade",
            # the labelling rules leave SLBMs out of both missile labels
            "North Korea test-fires 'new-type' submarine-launched ballistic missile",
        ],
    ),
    "working-level-talks": (
        [
            "U.S., North Korea to hold working-level talks in Stockholm on Saturday",
            "North Korea agrees to resume working-level nuclear talks with United States",
            "US envoy Biegun meets North Korean counterpart at Panmunjom to prepare summit",
            "Sung Kim holds talks with North Korean officials in the DMZ truce village",
            "North Korea and US resume nuclear talks in Sweden after months of stalemate",
            "North Korea says nuclear talks with U.S. broke down in Stockholm",
            "US and North Korean negotiators meet in Hanoi ahead of Trump-Kim summit",
            "Working-level talks between U.S. and North Korea begin in Stockholm",
            "N. Korea, US to resume nuclear negotiations on Oct. 5, Pyongyang says",
            "Biegun holds talks with North Korean negotiator in Pyongyang",
            "US, North Korean officials meet at Panmunjom to discuss summit preparations",
            "North Korea and U.S. nuclear talks break down in Sweden",
            "US envoy Biegun arrives in Pyongyang for talks with North Korean officials",
        ],
        [
            "North Korea rejects US offer of working-level talks",
            "Two Koreas hold working-level talks on reconnecting railways",
            "US envoy Biegun meets South Korean counterpart on North Korea policy",
            "North Korea skips working-level talks with US, says dialogue pointless",
            "US hopes to restart working-level talks with North Korea soon",
            "Pompeo and Kim Yong Chol hold high-level talks in New York",
            "Japan and US envoys meet to discuss North Korea",
            "North Korea says it is not interested in working-level talks with US",
            "US says ready for working-level talks 'anytime, anywhere'",
            "South and North Korea hold working-level talks on Kaesong complex",
            "Kim Jong Un says talks with US are meaningless",
            "US envoy calls for talks with North Korea",
        ],
    ),
    "us-nk-summit": (
        [
            "Trump and Kim shake hands at historic Singapore summit",
            "Trump says second summit with Kim will be held in Vietnam",
            "Trump accepts invitation to meet North Korean leader Kim Jong Un",
            "Trump meets Kim at DMZ, steps into North Korea",
            "White House: second Trump-Kim summit to take place in Hanoi in late February",
            "US-North Korea summit set for June 12 in Singapore",
            "Trump, Kim sit down for talks in Hanoi",
            "Trump to meet Kim Jong Un in Singapore on June 12",
            "Trump and Kim to hold second summit in Vietnam in February, White House says",
            "Trump agrees to meet Kim Jong Un after invitation delivered by South Korea",
            "Trump and Kim meet in Hanoi for second summit",
            "Kim Jong Un proposes new summit with Trump in letter",
            "Trump says he will meet Kim Jong Un by May",
            "Trump-Kim summit ends abruptly with no deal",
            "Trump invites Kim to White House",
        ],
        [
            "Trump cancels summit with Kim Jong Un",
            "Moon and Kim hold third inter-Korean summit in Pyongyang",
            "Biden says he would meet Kim only if there is a strategy",
            "Trump says he is open to meeting Kim again",
            "Pompeo meets Kim Jong Un in Pyongyang",
            "Trump meets Xi at G20, discusses North Korea",
            "Trump meets Kim Yong Chol at White House, receives letter",
            "Trump calls off North Korea summit, citing 'tremendous anger'",
            "Trump says no rush for another summit with Kim",
            "Kim Jong Un and Moon Jae-in meet at Panmunjom",
            "Pompeo says Trump-Kim summit still possible",
            "Trump says he is in no hurry for a third summit with Kim",
            "Trump and Kim exchange letters",
        ],
    ),
    "kim-xi-meeting": (
        [
            "Kim Jong Un makes surprise visit to Beijing, meets Xi",
            "Xi Jinping arrives in Pyongyang for first state visit by Chinese leader in 14 years",
            "Xi and Kim hold talks in Dalian",
            "North Korean leader Kim Jong Un arrives in China on fourth visit",
            "Kim Jong Un's train crosses into China; Xi summit expected",
            "Xi, Kim pledge closer ties at Pyongyang banquet",
            "Kim Jong Un holds talks with Xi Jinping in Beijing",
            "Chinese President Xi Jinping to visit North Korea this week",
            "North Korea's Kim makes third China trip in three months",
            "Xi hosts Kim at the Great Hall of the People",
        ],
        [
            "Xi meets Putin in Moscow, talks North Korea",
            "Xi sends message to Kim on party anniversary",
            "North Korea's foreign minister visits China",
            "Xi's special envoy arrives in Pyongyang",
            "Kim Jong Un visits Chinese embassy to pay respects",
            "Kim bypasses Beijing on way back from Hanoi",
            "Trump meets Xi, says Kim wants deal",
            "Xi Jinping meets South Korea's Moon in Beijing",
            "Kim Jong Un thanks Xi for message",
            "Xi says China will help North Korea amid sanctions",
            "Chinese foreign minister Wang Yi visits Pyongyang",
        ],
    ),
    "new-sanctions": (
        [
            "U.S. imposes new sanctions on North Korea over missile launches",
            "Treasury sanctions North Korean officials over human rights abuses",
            "US blacklists Chinese firms for helping North Korea evade sanctions",
            "UN Security Council unanimously adopts tougher sanctions on North Korea",
            "EU adds North Korean entities to sanctions list",
            "Japan, South Korea impose fresh sanctions on Pyongyang after ICBM launch",
            "US slaps sanctions on shipping companies over North Korea oil trade",
            "U.S. Treasury sanctions two Chinese shipping firms over North Korea",
            "UN Security Council approves new North Korea sanctions after missile tests",
            "South Korea imposes unilateral sanctions on North Korean individuals",
            "US designates North Korean hackers behind crypto heists",
            "US imposes sanctions on Russian bank for dealings with North Korea",
            "UN Security Council blacklists ships over North Korea oil smuggling",
        ],
        [
            "Russia, China veto new UN sanctions on North Korea",
            "North Korea evaded sanctions through ship-to-ship transfers, UN panel says",
            "Trump withdraws new North Korea sanctions announced by Treasury",
            "US urges UN to impose more sanctions on North Korea",
            "North Korea says it will never give in to sanctions",
            "US considers new sanctions against North Korea",
            "North Korea slams 'gangster-like' sanctions, demands relief",
            "UN experts: North Korea continues to evade sanctions",
            "North Korea threatens retaliation over any new sanctions",
            "China calls for easing of sanctions on North Korea",
            "Trump decides against additional sanctions on North Korea",
        ],
    ),
    "sanctions-relief": (
        [
            "Trump reverses North Korea sanctions announced a day earlier",
            "UN grants sanctions exemptions for humanitarian aid to North Korea",
            "US eases some sanctions on North Korea to allow aid",
            "US waives sanctions for inter-Korean railway project with North Korea",
            "US offers sanctions relief to North Korea in exchange for Yongbyon closure",
            "UN Security Council lifts sanctions on North Korean ship",
            "UN committee approves sanctions waivers for aid groups in North Korea",
            "Trump orders withdrawal of new sanctions against North Korea",
            "US lifts sanctions on North Korean shipping firm after review",
            "U.S. agrees to sanctions exemption for inter-Korean road survey",
            "Trump says he has ordered withdrawal of additional North Korea sanctions",
        ],
        [
            "US rules out sanctions relief for North Korea until denuclearisation",
            "North Korea demands lifting of sanctions before talks",
            "Pompeo: sanctions on North Korea will remain until full denuclearization",
            "US may ease North Korea sanctions, officials say",
            "North Korea says it does not need sanctions relief",
            "US lifts sanctions on Iran oil buyers",
            "Kim says he wanted sanctions lifted in Hanoi",
            "US says sanctions on North Korea will stay in place",
            "Kim wants sanctions eased in exchange for Yongbyon",
            "Russia, China push UN to ease North Korea sanctions",
            "North Korea says US must lift sanctions first",
        ],
    ),
    "test-site-dismantlement": (
        [
            "North Korea blows up tunnels at Punggye-ri nuclear test site as journalists watch",
            "North Korea dismantles nuclear test site in 'ceremony' for foreign media",
            "North Korea begins dismantling key facilities at Sohae launch site",
            "N. Korea demolishes engine test stand at Tongchang-ri, satellite images show",
            "Kim offers to permanently dismantle Yongbyon nuclear complex if US takes steps",
            "North Korea says it will close Punggye-ri test site in May",
            "North Korea proposes dismantling Yongbyon in exchange for partial sanctions relief",
            "North Korea blows up tunnels at nuclear test site in front of foreign media",
            "North Korea dismantles Punggye-ri in show of goodwill ahead of summit",
            "North Korea pledges to dismantle Yongbyon if US takes corresponding measures",
            "Satellite images show North Korea razing rocket engine test stand",
            "Foreign journalists head to North Korea to witness nuclear site closure",
            "North Korea says it will close nuclear test site in May, open to experts",
            "Kim offered to dismantle Yongbyon in Hanoi, Trump says",
        ],
        [
            "North Korea restoring tunnels at Punggye-ri test site, imagery shows",
            "North Korea rebuilding Sohae facilities it had started to dismantle",
            "US says dismantling Yongbyon alone is not enough",
            "North Korea restarts Yongbyon reactor",
            "Earthquake near North Korea's nuclear test site likely natural",
            "North Korea prepares nuclear test site for seventh test",
            "SpaceX launch pad destroyed by explosion",
            "North Korea's Punggye-ri test site may be reactivated, 38 North says",
            "South Korea's spy agency says Yongbyon reactor still operating",
            "US demands North Korea dismantle Yongbyon before sanctions relief",
        ],
    ),
    "drills-suspended": (
        [
            "US and South Korea suspend major military drills planned for August",
            "Pentagon indefinitely suspends joint exercises with Seoul",
            "US, South Korea call off Foal Eagle and Key Resolve, replace with smaller drills",
            "South Korea and US postpone joint air drills to aid diplomacy",
            "Trump says he will stop 'war games' with South Korea",
            "Allies scale back Ulchi Freedom Guardian exercises",
            "South Korea, US hold scaled-down drills to avoid provoking North",
            "Pentagon announces suspension of Ulchi Freedom Guardian exercise",
            "US, South Korea postpone spring drills amid coronavirus outbreak",
            "Seoul, Washington to end Key Resolve, Foal Eagle and hold smaller drills instead",
            "Allies indefinitely suspend Vigilant Ace air exercise",
            "US, S. Korea to end Key Resolve, Foal Eagle drills",
            "U.S. and South Korea downsize Foal Eagle exercise",
        ],
        [
            "US and South Korea begin large-scale joint military exercises",
            "North Korea demands end to US-South Korea drills",
            "North Korea cancels talks with South, citing joint military drills",
            "US, South Korea kick off Freedom Shield drills despite North's warnings",
            "US and South Korea considering suspending drills, officials say",
            "North Korea halts its winter military drills",
            "US-South Korea drills end after two weeks",
            "North Korea warns drills will derail talks",
            "US, South Korea begin Ulchi Freedom Shield despite Pyongyang's warnings",
            "North Korea calls for halt to joint military exercises",
            "US, South Korea resume large-scale field exercises",
            "South Korea, US wrap up joint drills",
        ],
    ),
}


# ---------------------------------------------------------------- the shipped indicators
# Headlines and lead sentences written for these tests in the style of wire and specialist
# copy; each indicator has headlines that must match and near-misses that must not.

HEADLINE_CASES = [
    (indicator_id, text, True)
    for indicator_id, (positives, _) in HEADLINES.items()
    for text in positives
] + [
    (indicator_id, text, False)
    for indicator_id, (_, negatives) in HEADLINES.items()
    for text in negatives
]


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    return Matcher(load_config(SHIPPED))


def test_every_indicator_has_positive_and_negative_headlines():
    ids = [indicator.id for indicator in load_config(SHIPPED).indicators]
    assert sorted(HEADLINES) == sorted(ids)
    for positives, negatives in HEADLINES.values():
        assert len(positives) >= 5 and len(negatives) >= 5


@pytest.mark.parametrize(
    ("indicator_id", "text", "matches"),
    HEADLINE_CASES,
    ids=[f"{'yes' if m else 'no'}:{i}:{t[:48]}" for i, t, m in HEADLINE_CASES],
)
def test_shipped_indicator_on_headline(shipped, indicator_id, text, matches):
    found = {m.indicator_id: m for m in shipped.match(text)}
    assert (indicator_id in found) is matches, found.get(indicator_id)
    if matches:
        assert found[indicator_id].span in text


@pytest.mark.parametrize(
    ("text", "indicator_id", "rule", "span"),
    [
        (
            "North Korea rebuilding Tongchang-ri launch pad",
            "sohae-construction",
            "sohae-rebuilt",
            "Tongchang-ri",
        ),
        (
            "North Korea blows up inter-Korean liaison office in Kaesong",
            "inter-korean-talks-skipped",
            "liaison-office-left",
            "blows up inter-Korean liaison office",
        ),
        (
            "Kim Jong-un arrives in Vladivostok for summit with Putin",
            "kim-putin-summit",
            "kim-meets-putin",
            "Kim Jong-un arrives in Vladivostok for summit with Putin",
        ),
        ("N. Korea fires ICBM", "missile-test-freeze", "long-range-launch", "fires ICBM"),
    ],
)
def test_shipped_evidence_names_rule_and_original_span(shipped, text, indicator_id, rule, span):
    assert Match(indicator_id, rule, span) in shipped.match(text)


def test_shipped_matches_entry_text_of_a_feed_item(shipped):
    text = entry_text(
        "N. Korea fires 2 short-range missiles",
        "<p>North Korea fired two short-range ballistic missiles into the East Sea on "
        "Thursday, South Korea&#8217;s Joint Chiefs of Staff said.</p>",
    )
    assert [m.indicator_id for m in shipped.match(text)] == ["short-range-missile-test"]


@pytest.mark.parametrize(
    "text",
    [
        "North Korea marks founding anniversary with mass rally in Pyongyang",
        "Kim Jong Un inspects greenhouse farm construction site in South Hamgyong",
        "Kim Jong Un's daughter appears at missile factory, fuelling succession talk",
        "North Korea sends trash balloons across border",
        "US, South Korea, Japan hold trilateral summit at Camp David",
        "China's Xi meets Biden in San Francisco, discusses Taiwan",
        "Putin visits China for talks with Xi on Ukraine war",
        "Kim Yo Jong warns Seoul over leaflets",
        "Trump says he gets along with Kim Jong Un, touts past summits",
        "Japan launches H3 rocket carrying satellite from Tanegashima",
        "Analysis: What Kim Jong Un wants from Putin",
        "North Korea missile program: a timeline",
    ],
)
def test_shipped_general_north_korea_news_matches_nothing(shipped, text):
    assert shipped.match(text) == []


def test_every_normalised_word_maps_back_to_its_original_text():
    from watch.feeds.match import _Text

    rng = random.Random(2)
    alphabet = "ab ,.-'’é\u0301ﬁ  Ü한"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        normalised, at = _Text(text), 0
        for word in normalised.norm.split():
            assert normalize(normalised.original_span(at, at + len(word))) == word, text
            at += len(word) + 1


# ---------------------------------------------------------------- scope, background, headline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two.", ["One.", "Two."]),
        ("U.S. and N. Korea talk. Then stop", ["U.S. and N. Korea talk.", "Then stop"]),
        (
            "Gen. Kim met Mr. Moon on Sept. 5 in Seoul. Done",
            ["Gen. Kim met Mr. Moon on Sept. 5 in Seoul.", "Done"],
        ),
        ('He said "no." She left; he stayed!', ['He said "no."', "She left;", "he stayed!"]),
        ("Headline: no stop", ["Headline: no stop"]),
    ],
)
def test_sentences(text, expected):
    assert sentences(text) == expected


def test_sentence_scope_needs_every_part_in_one_sentence(tmp_path):
    rules = """
    - name: r
      scope: sentence
      all: [summit]
      any: [held]
      none: [cancelled]
    """
    m = matcher_for(tmp_path, rules)
    assert spans(m, "The summit was held. Another was cancelled.") == ["summit"]
    assert spans(m, "A summit is planned. Talks were held.") == []
    assert spans(m, "The summit was held, then cancelled.") == []
    entry = matcher_for(tmp_path, rules.replace("scope: sentence", "scope: entry"))
    assert spans(entry, "A summit is planned. Talks were held.") == ["summit"]
    assert spans(entry, "The summit was held. Another was cancelled.") == []


def test_headline_scope_reads_only_the_first_sentence(tmp_path):
    m = matcher_for(tmp_path, "- {name: r, scope: headline, all: [launch]}")
    assert spans(m, entry_text("Rocket launch at dawn", "Nothing else.")) == ["launch"]
    assert spans(m, entry_text("Quiet day", "A launch is expected.")) == []


def test_background_cues_hide_their_clause(tmp_path):
    rules = """
    - name: r
      scope: sentence
      background: [after, "@since"]
      all: [summit]
    """
    m = matcher_for(tmp_path, rules, aliases="{since: [since, weeks after]}")
    assert spans(m, "Drills resume weeks after the summit") == []
    assert spans(m, "Two days after the summit, drills resumed") == []
    # the clause ends at a comma: what follows is news again
    assert spans(m, "Days after the talks, a summit opened") == ["summit"]
    assert spans(m, "The summit opened after the talks") == ["summit"]
    # and after at most twelve words
    long = "After " + "very " * 12 + "long waits the summit opened"
    assert spans(m, long) == ["summit"]


def test_headline_veto_stops_the_rule_anywhere(tmp_path):
    rules = """
    - name: r
      scope: sentence
      all: [summit]
      none_in_headline: [cancels, {regex: "\\\\bcalls off\\\\b"}]
    """
    m = matcher_for(tmp_path, rules)
    assert spans(m, entry_text("Leader cancels trip", "The summit was to open today.")) == []
    assert spans(m, entry_text("Leader calls off trip", "The summit was to open today.")) == []
    assert spans(m, entry_text("Trip goes ahead", "It cancels the summit doubts.")) == ["summit"]


def test_background_and_headline_terms_need_known_aliases(tmp_path):
    for rule in (
        "- {name: r, all: [x], background: ['@missing']}",
        "- {name: r, all: [x], none_in_headline: ['@missing']}",
    ):
        with pytest.raises(InvalidConfigFile) as caught:
            matcher_for(tmp_path, rule)
        assert "unknown alias '@missing'" in str(caught.value)
