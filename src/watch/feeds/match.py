"""Match news text against the indicators' rules: pure, compiled once, one pass per entry.

Semantics (what a rule in indicators.yaml means)
------------------------------------------------
Normalisation. Text and phrases are compared after `normalize`: lower-cased, accents stripped
(NFKD, combining marks dropped), every character that is not a letter or digit (hyphens, dashes,
apostrophes, dots, quotes...) turned into a space, and runs of spaces folded into one. So
"Kim Jong-un", "KIM JONG UN" and "kim jong un" are the same; "Dongchang-ri" is "dongchang ri";
"N.Korea's" is "n korea s".

Phrases. A phrase matches whole words only: "kim" is not found in "Kimberly", "test" not in
"testament". A `*` at the end of the last word makes that word a prefix: "test*" matches
"test", "tests", "testing" (load_config rejects a `*` anywhere else).

Aliases. "@name" stands for every phrase of the alias `name` in the file's `aliases:`; an alias
may list "@other" aliases too (expanded recursively; cycles are harmless).

Regexes. `{regex: "..."}` is searched (case-insensitively) in the *normalised* text: lower-case
words separated by single spaces, no punctuation, so write "kim jong un s" not "Kim Jong-un's".

Groups. A rule, and any nested group, combines its parts with AND:
- `all`: every term matches;
- `any`: at least one term matches (only checked when `any` is given);
- `none`: no term matches (anywhere in the text);
- `near: [a, b]`: phrase/alias `a` and phrase/alias `b` occur, in either order, without
  overlapping, with at most `within` words (default 6) between them.
A term is a phrase, an "@alias", a regex, or a nested group.

Rules. An indicator lists named rules; it matches an entry if any rule matches, and the first
matching rule (in file order) is the one reported, with a span: the text that decided it, cut
from the original text. The deciding text is the `near` pair (from the first word of one to
the last word of the other), else the first `all` term, else the `any` term that matched (a
nested group gives its own span). So put the telling term first; filters such as
"@north-korea" read better in `any`.

Scope. A rule's `scope` says where its parts must hold together: `entry` (default, the whole
text), `sentence` (one sentence: `none` then vetoes only its own sentence, and a lead holding
two events does not mix them) or `headline` (the first sentence, which entry_text makes the
title). `sentences` cuts the text at . ! ? ; followed by a space, keeping closing quotes, but
not after a single letter ("U.S.", "N. Korea") or a common abbreviation ("Gen.", "Sept.").

Background. A rule's `background` lists cues ("after", "weeks after", "since") that open a
clause reporting what came before. A phrase hit that starts inside such a clause (from the
cue's first word to the next , ; : ( ) [ ] or dash of the original text, and at most
BACKGROUND_WORDS words past the cue) is invisible to that rule: to all, any, near and none.
Regexes still see the whole text.

Headline vetoes. A rule's `none_in_headline` terms, found in the headline, stop the rule for
the whole entry: the headline states the news ("cancels summit" outweighs a later sentence on
the summit's date).

How it runs
-----------
Every phrase of every rule (aliases expanded) goes into one Aho-Corasick automaton as
" phrase " (or " prefix" for a wildcard) over the normalised text padded with spaces, so one
pass finds every phrase hit with word boundaries built in. Each rule is indexed by one term it
cannot match without (of those, the one whose phrases the fewest rules share, since a phrase
many rules use, like an alias of the country, is likely common in the news); only rules whose
trigger was hit are evaluated.
Regexes run only inside rules that are evaluated, at most once per entry each. Rules with no
phrase they need (regex-only) are evaluated for every entry.
A `sentence` or `headline` rule is first tried on the whole entry without its `none` terms (what
must hold in a sentence holds in the entry); only then is the entry cut into sentences, each
scanned by the same automaton, and the rule tried on each in order.
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import ahocorasick

from watch.config import Config, Group, RegexTerm

__all__ = ["Match", "Matcher", "entry_text", "normalize", "sentences"]


# ---------------------------------------------------------------- text


_SKIPPED_ELEMENTS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")


def entry_text(title: str | None, summary: str | None) -> str:
    """The text an entry is matched on: "title. summary", HTML stripped, whitespace folded."""
    parts = []
    for part in (title, summary):
        if part:
            if "<" in part:  # most headlines have no markup: both patterns need a "<"
                part = _TAG.sub(" ", _SKIPPED_ELEMENTS.sub(" ", part))
            part = " ".join(html.unescape(part).split())
            if part:
                parts.append(part)
    if len(parts) == 2 and not parts[0].endswith((".", "!", "?", ":", ";")):
        parts[0] += "."
    return " ".join(parts)


def _normalize_char(char: str) -> str:
    folded = unicodedata.normalize("NFKD", char.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return "".join(c if c.isalnum() else " " for c in folded)


class _CharTable(dict[int, str]):
    """str.translate table filled on first use; remembers chars that do not map to one char."""

    def __init__(self) -> None:
        super().__init__()
        self.irregular: set[str] = set()

    def __missing__(self, code: int) -> str:
        out = _normalize_char(chr(code))
        self[code] = out
        if len(out) != 1:
            self.irregular.add(chr(code))
        return out


_TABLE = _CharTable()
for _code in range(128):  # warm the ASCII half so the common case never calls __missing__
    _TABLE[_code]


def normalize(text: str) -> str:
    """Lower-case, accents stripped, punctuation to spaces, whitespace folded."""
    return " ".join(text.translate(_TABLE).split())


_SPACE_RUN = re.compile(r"^ +|  +")
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]—–]|\s-\s")
BACKGROUND_WORDS = 12  # a background clause ends at a clause break or after this many words


class _Text:
    """One entry's text, normalised, with the way back from normalised to original offsets."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.spaced = text.translate(_TABLE)  # same length as text unless irregular chars
        self.index: list[int] | None = None  # spaced offset -> original offset, when not 1:1
        if not text.isascii() and not _TABLE.irregular.isdisjoint(text):
            self.index = [i for i, char in enumerate(text) for _ in _TABLE[ord(char)]]
        self.norm = " ".join(self.spaced.split())
        self._shifts: tuple[list[int], list[int]] | None = None
        self._breaks: list[int] | None = None
        self._starts: list[int] | None = None

    def word_starts(self) -> list[int]:
        """Where each word of the normalised text starts."""
        if self._starts is None:
            norm = self.norm
            self._starts = [0] + [i + 1 for i, char in enumerate(norm) if char == " "]
        return self._starts

    def clause_breaks(self) -> list[int]:
        """Normalised word numbers that start a new clause (after , ; : ( ) or a dash)."""
        if self._breaks is None:
            self._breaks = sorted(
                {
                    len(normalize(self.original[: m.start()]).split())
                    for m in _CLAUSE_BREAK.finditer(self.original)
                }
            )
        return self._breaks

    def original_span(self, start: int, end: int) -> str:
        """The original text behind normalised text[start:end] (both ends inside words)."""
        first = self._to_original(start)
        last = self._to_original(end - 1) + 1
        while last < len(self.original) and _TABLE[ord(self.original[last])] == "":
            last += 1  # keep trailing combining marks with their letter
        return self.original[first:last]

    def _to_original(self, position: int) -> int:
        if self._shifts is None:
            # Folding spaces removed characters from `spaced`: note, for each run of spaces,
            # from which normalised offset on how many were removed before it.
            bounds, removed_after, removed = [], [], 0
            for run in _SPACE_RUN.finditer(self.spaced):
                start, length = run.start(), run.end() - run.start()
                if start == 0:  # leading spaces all go
                    bounds.append(0)
                    removed = length
                else:  # one space of the run stays
                    bounds.append(start - removed + 1)
                    removed += length - 1
                removed_after.append(removed)
            self._shifts = bounds, removed_after
        bounds, removed_after = self._shifts
        k = bisect_right(bounds, position) - 1
        spaced = position + (removed_after[k] if k >= 0 else 0)
        return spaced if self.index is None else self.index[spaced]


# ---------------------------------------------------------------- compiled rules


@dataclass(frozen=True)
class Match:
    """An indicator matched: by which rule, and the original text that decided it."""

    indicator_id: str
    rule: str
    span: str


_Span = tuple[int, int]  # start, end in the normalised text


@dataclass(frozen=True)
class _PhraseInfo:
    key_length: int
    words: int
    prefix: bool


class _Scan:
    """What one pass over one entry found: phrase hits, and regex results on demand."""

    def __init__(self, text: _Text, hits: dict[int, list[int]], phrases: list[_PhraseInfo]):
        self.text = text
        self.hits = hits
        self.hit_ids = set(hits)  # a set, so isdisjoint walks the smaller side
        self.phrases = phrases
        self._regex: dict[re.Pattern[str], re.Match[str] | None] = {}
        self._places: dict[int, list[tuple[int, int, int, int]]] = {}

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        if pattern not in self._regex:
            self._regex[pattern] = pattern.search(self.text.norm)
        return self._regex[pattern]

    def places(self, phrase_id: int) -> list[tuple[int, int, int, int]]:
        """(start, end, first word, last word) of each hit of a phrase, in normalised text."""
        if phrase_id not in self._places:
            info, norm, out = self.phrases[phrase_id], self.text.norm, []
            for last in self.hits.get(phrase_id, ()):
                # `last` indexes " " + norm + " ": the key's last char (a space unless prefix)
                start = last - info.key_length + 1
                if info.prefix:
                    end = norm.find(" ", last - 1)
                    end = len(norm) if end < 0 else end
                else:
                    end = last - 1
                first_word = norm.count(" ", 0, start)
                out.append((start, end, first_word, first_word + info.words - 1))
            self._places[phrase_id] = out
        return self._places[phrase_id]


def _without_background(scan: _Scan, cues: _PhraseTerm) -> _Scan:
    """The scan with every hit that starts inside a background clause dropped: from a cue's
    first word to the next clause break, at most BACKGROUND_WORDS words after the cue."""
    if cues.ids.isdisjoint(scan.hit_ids):
        return scan
    breaks, starts = scan.text.clause_breaks(), scan.text.word_starts()
    masked: list[tuple[int, int]] = []  # character ranges of the normalised text
    for _start, _end, first, last in cues.places(scan):
        k = bisect_right(breaks, last)
        stop = min(breaks[k] if k < len(breaks) else 1 << 30, last + 1 + BACKGROUND_WORDS)
        masked.append((starts[first], starts[stop] if stop < len(starts) else 1 << 30))
    hits = {}
    for phrase_id, lasts in scan.hits.items():
        length = scan.phrases[phrase_id].key_length
        kept = [x for x in lasts if not any(a <= x - length + 1 < b for a, b in masked)]
        if kept:
            hits[phrase_id] = kept
    return _Scan(scan.text, hits, scan.phrases)


class _Term(Protocol):
    def test(self, scan: _Scan) -> bool: ...
    def span(self, scan: _Scan) -> _Span: ...
    def needs(self) -> list[frozenset[int]]: ...


class _PhraseTerm:
    """A phrase or an alias: the set of phrase ids it stands for."""

    def __init__(self, ids: frozenset[int]) -> None:
        self.ids = ids

    def test(self, scan: _Scan) -> bool:
        return not self.ids.isdisjoint(scan.hit_ids)

    def span(self, scan: _Scan) -> _Span:
        return min(place[:2] for i in self.ids for place in scan.places(i))

    def places(self, scan: _Scan) -> list[tuple[int, int, int, int]]:
        found = self.ids.intersection(scan.hit_ids)
        return sorted(place for i in found for place in scan.places(i))

    def needs(self) -> list[frozenset[int]]:
        return [self.ids]


class _RegexTerm:
    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern, re.IGNORECASE)

    def test(self, scan: _Scan) -> bool:
        return scan.search(self.pattern) is not None

    def span(self, scan: _Scan) -> _Span:
        found = scan.search(self.pattern)
        assert found is not None
        start, end = found.span()
        # an empty or space-edged match still has to land on words
        text = scan.text.norm
        while start < end and text[start] == " ":
            start += 1
        while end > start and text[end - 1] == " ":
            end -= 1
        return (start, end) if end > start else (0, len(text))

    def needs(self) -> list[frozenset[int]]:
        return []


def _cheap_first(terms: Iterable[_Term]) -> list[_Term]:
    """Phrases first, nested groups next, regexes last: fail fast and avoid regex work."""
    order = {_PhraseTerm: 0, _RegexTerm: 2}
    return sorted(terms, key=lambda term: order.get(type(term), 1))


def _union(terms: Iterable[_Term]) -> frozenset[int]:
    return frozenset(i for t in terms if isinstance(t, _PhraseTerm) for i in t.ids)


def _test(term: _Term, scan: _Scan, negatives: bool) -> bool:
    return term.test(scan, negatives) if isinstance(term, _GroupTerm) else term.test(scan)


class _GroupTerm:
    def __init__(
        self,
        all_terms: list[_Term],
        any_terms: list[_Term],
        none_terms: list[_Term],
        near: tuple[_PhraseTerm, _PhraseTerm] | None,
        within: int,
    ) -> None:
        self.first_all = all_terms[0] if all_terms else None
        self.all_terms = _cheap_first(all_terms)
        self.any_terms = _cheap_first(any_terms)
        self.none_terms = _cheap_first(none_terms)
        self.near = near
        self.within = within
        # Precomputed so that most calls end in a few set operations on the hit ids.
        phrases = [t.ids for t in self.all_terms if isinstance(t, _PhraseTerm)]
        self.required = phrases + ([side.ids for side in near] if near else [])
        self.all_groups = [t for t in self.all_terms if isinstance(t, _GroupTerm)]
        self.all_regexes = [t for t in self.all_terms if isinstance(t, _RegexTerm)]
        self.any_phrases = _union(self.any_terms)
        self.any_other = [t for t in self.any_terms if not isinstance(t, _PhraseTerm)]
        self.none_phrases = _union(self.none_terms)
        self.none_other = [t for t in self.none_terms if not isinstance(t, _PhraseTerm)]

    def test(self, scan: _Scan, negatives: bool = True) -> bool:
        """Whether the group holds; with negatives=False, `none` is not checked (at any
        depth): what must hold on the whole entry for the group to hold in one sentence."""
        hits = scan.hit_ids
        for ids in self.required:
            if ids.isdisjoint(hits):
                return False
        if negatives and not self.none_phrases.isdisjoint(hits):
            return False
        any_met = not self.any_terms or not self.any_phrases.isdisjoint(hits)
        if not all(group.test(scan, negatives) for group in self.all_groups):
            return False
        if self.near is not None and self._near_span(scan) is None:
            return False
        if not any_met and not any(_test(term, scan, negatives) for term in self.any_other):
            return False
        if negatives and any(term.test(scan) for term in self.none_other):
            return False
        return all(term.test(scan) for term in self.all_regexes)

    def span(self, scan: _Scan) -> _Span:
        if self.near is not None:
            found = self._near_span(scan)
            assert found is not None
            return found
        if self.first_all is not None:
            return self.first_all.span(scan)
        return next(term for term in self.any_terms if term.test(scan)).span(scan)

    def _near_span(self, scan: _Scan) -> _Span | None:
        assert self.near is not None
        left, right = self.near
        for a in left.places(scan):
            for b in right.places(scan):
                first, second = (a, b) if a[0] <= b[0] else (b, a)
                gap = second[2] - first[3] - 1
                if 0 <= gap <= self.within:
                    return first[0], max(first[1], second[1])
        return None

    def needs(self) -> list[frozenset[int]]:
        """Sets of phrase ids such that, for each set, one of its phrases must be hit."""
        out = [ids for term in self.all_terms for ids in term.needs()]
        if self.near is not None:
            out.extend(side.ids for side in self.near)
        union: set[int] = set()
        for term in self.any_terms:
            options = term.needs()
            if not options:  # a regex, or a group of regexes: no phrase is needed
                return out
            smallest: frozenset[int] = min(options, key=len)
            union.update(smallest)
        if self.any_terms:
            out.append(frozenset(union))
        return out


# ---------------------------------------------------------------- the matcher


@dataclass(frozen=True)
class _CompiledRule:
    indicator_index: int
    indicator_id: str
    name: str
    group: _GroupTerm
    scope: str  # "entry" | "sentence" | "headline"
    background: _PhraseTerm | None  # cues whose clauses the rule ignores
    headline_veto: _GroupTerm | None  # terms that, in the headline, stop the rule


# A sentence ends at . ! ? or ; followed by a space, unless the word before the stop is a
# single letter ("U.S.", "N. Korea") or a common abbreviation ("Gen.", "Sept.").
_SENTENCE_END = re.compile(r"(?<=[.!?;])([\"”’')\]]*)\s+")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "gen",
        "lt",
        "col",
        "sgt",
        "adm",
        "sen",
        "rep",
        "gov",
        "pres",
        "st",
        "no",
        "vs",
        "jr",
        "sr",
        "inc",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)


def sentences(text: str) -> list[str]:
    """`text` cut into sentences; the headline that entry_text puts first is the first."""
    out, start = [], 0
    for stop in _SENTENCE_END.finditer(text):
        end = stop.start() + len(stop.group(1))
        before = text[start:end].rstrip(".!?;\"”’')]")
        last_word = before.rsplit(None, 1)[-1] if before.split() else ""
        last_word = last_word.rsplit(".", 1)[-1] if "." in last_word else last_word
        if len(last_word) <= 1 or last_word.lower() in _ABBREVIATIONS:
            continue
        out.append(text[start:end])
        start = stop.end()
    out.append(text[start:])
    return [part for part in out if part.strip()]


class Matcher:
    """Every indicator's rules compiled into one automaton and a sparse rule index."""

    def __init__(self, config: Config) -> None:
        self._aliases = config.aliases
        self._expanded: dict[str, tuple[str, ...]] = {}
        self._phrase_ids: dict[str, int] = {}
        self._phrases: list[_PhraseInfo] = []
        self._rules: list[_CompiledRule] = []
        for i, indicator in enumerate(config.indicators):
            for source in indicator.match:
                group = self._group(source)
                background = self._phrase_term(source.background) if source.background else None
                veto = (
                    self._group(Group(any=source.none_in_headline))
                    if source.none_in_headline
                    else None
                )
                self._rules.append(
                    _CompiledRule(
                        i, indicator.id, source.name, group, source.scope, background, veto
                    )
                )

        self._automaton = ahocorasick.Automaton()
        for key, phrase_id in self._phrase_ids.items():
            self._automaton.add_word(key, phrase_id)
        if self._phrase_ids:
            self._automaton.make_automaton()

        # A phrase used by many rules (an alias like @north-korea) is likely common in the
        # news: index each rule by the needed term whose phrases are least used.
        usage: Counter[int] = Counter()
        for rule in self._rules:
            usage.update({i for ids in rule.group.needs() for i in ids})
        self._always: list[int] = []
        self._by_phrase: dict[int, list[int]] = {}
        for number, rule in enumerate(self._rules):
            choices = rule.group.needs()
            if not choices:
                self._always.append(number)
                continue
            trigger = min(choices, key=lambda ids: sum(usage[i] for i in ids))
            for phrase_id in trigger:
                self._by_phrase.setdefault(phrase_id, []).append(number)

    @property
    def phrase_count(self) -> int:
        """How many distinct phrases the automaton holds (for benchmarks and reports)."""
        return len(self._phrases)

    def match(self, text: str) -> list[Match]:
        """One Match per indicator that `text` matches, in the file's order."""
        normalised = _Text(text)
        if not normalised.norm or not self._rules:
            return []
        hits: dict[int, list[int]] = {}
        if self._phrases:
            for last, phrase_id in self._automaton.iter(f" {normalised.norm} "):
                if phrase_id in hits:
                    hits[phrase_id].append(last)
                else:
                    hits[phrase_id] = [last]
        candidates = set(self._always)
        by_phrase = self._by_phrase
        for phrase_id in hits:
            rules = by_phrase.get(phrase_id)
            if rules:
                candidates.update(rules)
        if not candidates:
            return []
        scan = _Scan(normalised, hits, self._phrases)
        parts: list[_Scan] = []  # one scan per sentence, made when a rule first needs them

        def sentence_scans() -> list[_Scan]:
            if not parts:
                parts.extend(self._scan(part) for part in sentences(text))
            return parts

        found: list[Match] = []
        matched: set[int] = set()
        for number in sorted(candidates):
            rule = self._rules[number]
            if rule.indicator_index in matched:
                continue
            where = self._where(rule, scan, sentence_scans)
            if where is None:
                continue
            matched.add(rule.indicator_index)
            start, end = rule.group.span(where)
            span = where.text.original_span(start, end)
            found.append(Match(rule.indicator_id, rule.name, span))
        return found

    @staticmethod
    def _where(
        rule: _CompiledRule, scan: _Scan, sentence_scans: Callable[[], list[_Scan]]
    ) -> _Scan | None:
        """The scan (the entry, or the first sentence) in which `rule` holds, if any."""
        if rule.scope != "entry" and not rule.group.test(scan, negatives=False):
            return None  # what a sentence must hold, the whole entry lacks
        if rule.headline_veto is not None and rule.headline_veto.test(sentence_scans()[0]):
            return None
        if rule.scope == "entry":
            scope = [scan]
        else:
            scope = sentence_scans()[:1] if rule.scope == "headline" else sentence_scans()
        if rule.background is not None:
            scope = [_without_background(part, rule.background) for part in scope]
        return next((part for part in scope if rule.group.test(part)), None)

    def _scan(self, text: str) -> _Scan:
        """One pass of the automaton over `text` (a sentence of an entry)."""
        normalised = _Text(text)
        hits: dict[int, list[int]] = {}
        if self._phrases and normalised.norm:
            for last, phrase_id in self._automaton.iter(f" {normalised.norm} "):
                hits.setdefault(phrase_id, []).append(last)
        return _Scan(normalised, hits, self._phrases)

    # -- compiling

    def _group(self, group: Group) -> _GroupTerm:
        near = None
        if group.near:
            left, right = (self._phrase_term([phrase]) for phrase in group.near)
            near = (left, right)
        return _GroupTerm(
            [self._term(t) for t in group.all],
            [self._term(t) for t in group.any],
            [self._term(t) for t in group.none],
            near,
            group.within,
        )

    def _term(self, term: str | RegexTerm | Group) -> _Term:
        if isinstance(term, str):
            return self._phrase_term([term])
        if isinstance(term, RegexTerm):
            return _RegexTerm(term.regex)
        return self._group(term)

    def _phrase_term(self, phrases: Sequence[str]) -> _PhraseTerm:
        ids = set()
        for phrase in phrases:
            for plain in self._expand(phrase, ()):
                phrase_id = self._phrase_id(plain)
                if phrase_id is not None:
                    ids.add(phrase_id)
        return _PhraseTerm(frozenset(ids))

    def _expand(self, phrase: str, seen: tuple[str, ...]) -> tuple[str, ...]:
        """The plain phrases behind a phrase or an @alias (recursively, cycles cut)."""
        if not phrase.startswith("@"):
            return (phrase,)
        name = phrase[1:]
        if name in self._expanded:
            return self._expanded[name]
        if name in seen:
            return ()
        if name not in self._aliases:
            raise ValueError(f"unknown alias {phrase!r}")
        out: list[str] = []
        for item in self._aliases[name]:
            out.extend(self._expand(item, (*seen, name)))
        result = tuple(dict.fromkeys(out))
        if not seen:  # only cache complete expansions (a cycle cut mid-way is partial)
            self._expanded[name] = result
        return result

    def _phrase_id(self, phrase: str) -> int | None:
        stripped = phrase.strip()
        prefix = stripped.endswith("*")
        words = normalize(stripped.rstrip("*"))
        if not words:
            return None
        key = f" {words}" if prefix else f" {words} "
        if key not in self._phrase_ids:
            self._phrase_ids[key] = len(self._phrases)
            self._phrases.append(_PhraseInfo(len(key), words.count(" ") + 1, prefix))
        return self._phrase_ids[key]
