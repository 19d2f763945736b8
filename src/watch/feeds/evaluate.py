"""Measure a tracker's rules on labelled news: per indicator hits, misses and false alarms.

A labelled set is a JSON-lines file, one item a line: `title`, `summary` (optional) and
`labels`, the indicator ids the item reports (`[]` for a near miss: an item about the same
things that reports none of them). Other fields are ignored; `id` names the item when given,
else its line number does. The rules run exactly as in live matching (`Matcher` over
`entry_text(title, summary)`), so the figures are what the tracker would do on that news.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watch.config import Config
from watch.errors import InvalidLabelledSet
from watch.feeds.match import Match, Matcher, entry_text

__all__ = [
    "Evaluation",
    "IndicatorScore",
    "LabelledItem",
    "Mistake",
    "evaluate",
    "read_labelled",
]


@dataclass(frozen=True)
class LabelledItem:
    name: str  # the item's `id`, else "line N"
    title: str
    summary: str
    labels: frozenset[str]


@dataclass(frozen=True)
class Mistake:
    """A miss (labelled, not matched) or a false alarm (matched, not labelled)."""

    kind: str  # "miss" | "false alarm"
    indicator: str
    item: LabelledItem
    rule: str | None  # the rule that fired (false alarm)
    words: str | None  # the words it matched
    others: tuple[Match, ...]  # what else fired on the item (explains many misses)


@dataclass
class IndicatorScore:
    indicator: str
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)


@dataclass
class Evaluation:
    scores: list[IndicatorScore]
    micro: IndicatorScore
    items: int
    near_misses: int  # items labelled []
    near_misses_clean: int  # ... on which no indicator fired
    mistakes: list[Mistake] = field(default_factory=list)
    unknown_labels: dict[str, int] = field(default_factory=dict)  # label -> items, not scored

    def to_json(self) -> dict[str, object]:
        def score(s: IndicatorScore) -> dict[str, object]:
            return {
                "tp": s.tp,
                "fp": s.fp,
                "fn": s.fn,
                "precision": round(s.precision, 4),
                "recall": round(s.recall, 4),
                "f1": round(s.f1, 4),
            }

        return {
            "items": self.items,
            "indicators": {s.indicator: score(s) for s in self.scores},
            "micro": score(self.micro),
            "near_misses": {"total": self.near_misses, "clean": self.near_misses_clean},
            "mistakes": [
                {
                    "kind": m.kind,
                    "indicator": m.indicator,
                    "item": m.item.name,
                    "title": m.item.title,
                    "rule": m.rule,
                    "words": m.words,
                    "others": [{"indicator": o.indicator_id, "rule": o.rule} for o in m.others],
                }
                for m in self.mistakes
            ],
            "unknown_labels": self.unknown_labels,
        }


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def read_labelled(path: Path) -> list[LabelledItem]:
    """Read a labelled JSON-lines file; a bad line raises InvalidLabelledSet naming FILE:LINE."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidLabelledSet(f"{path}: cannot read: {exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidLabelledSet(f"{where}: not JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise InvalidLabelledSet(f"{where}: expected an object")
        title, summary, labels = data.get("title"), data.get("summary") or "", data.get("labels")
        if not isinstance(title, str) or not title.strip():
            raise InvalidLabelledSet(f"{where}: title: required, a string")
        if not isinstance(summary, str):
            raise InvalidLabelledSet(f"{where}: summary: must be a string")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise InvalidLabelledSet(f"{where}: labels: required, a list of indicator ids")
        name = str(data.get("id") or f"line {number}")
        items.append(LabelledItem(name, title, summary, frozenset(labels)))
    return items


def evaluate(
    config: Config,
    items: Iterable[LabelledItem],
    indicator: str | None = None,
    matcher: Matcher | None = None,
) -> Evaluation:
    """Run the tracker's rules over labelled items and count, per indicator, what they got.

    With `indicator`, only that indicator is scored (near misses still count every indicator
    firing, since a near miss should leave the whole tracker quiet).
    """
    ids = [ind.id for ind in config.indicators]
    if indicator is not None:
        config.indicator(indicator)  # raises UnknownIndicator
    scored = [indicator] if indicator else ids
    matcher = matcher or Matcher(config)
    scores = {i: IndicatorScore(i) for i in scored}
    evaluation = Evaluation([], IndicatorScore("micro"), 0, 0, 0)
    for item in items:
        evaluation.items += 1
        found = matcher.match(entry_text(item.title, item.summary))
        fired = {m.indicator_id: m for m in found}
        for label in item.labels - set(ids):
            evaluation.unknown_labels[label] = evaluation.unknown_labels.get(label, 0) + 1
        if not item.labels:
            evaluation.near_misses += 1
            evaluation.near_misses_clean += not fired
        for i in scored:
            score, hit, wanted = scores[i], fired.get(i), i in item.labels
            others = tuple(m for m in found if m.indicator_id != i)
            if hit and wanted:
                score.tp += 1
            elif hit:
                score.fp += 1
                evaluation.mistakes.append(
                    Mistake("false alarm", i, item, hit.rule, hit.span, others)
                )
            elif wanted:
                score.fn += 1
                evaluation.mistakes.append(Mistake("miss", i, item, None, None, others))
    evaluation.scores = list(scores.values())
    for score in evaluation.scores:
        evaluation.micro.tp += score.tp
        evaluation.micro.fp += score.fp
        evaluation.micro.fn += score.fn
    return evaluation
