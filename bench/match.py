"""Benchmark the matcher: entries per second on one core.

Runs the shipped indicators.yaml and 500 generated indicators (shared aliases, all/any/none/near
rules, a few regexes) over ~20,000 generated headline-plus-lead texts, and prints the figures.

    .venv/bin/python bench/match.py [--entries 20000] [--indicators 500] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from watch.config import Config, load_config
from watch.feeds.match import Matcher, normalize

ROOT = Path(__file__).resolve().parent.parent

ACTORS = {
    "north-korea": ["North Korea", "N. Korea", "Pyongyang", "DPRK", "North Korean*", "the North"],
    "south-korea": ["South Korea", "S. Korea", "Seoul", "South Korean*"],
    "us": ["United States", "U.S.", "US", "Washington", "American"],
    "china": ["China", "Beijing", "Chinese"],
    "russia": ["Russia", "Moscow", "Kremlin", "Russian"],
    "japan": ["Japan", "Tokyo", "Japanese"],
    "iran": ["Iran", "Tehran", "Iranian"],
    "eu": ["European Union", "EU", "Brussels"],
}
LEADERS = {
    "kim": ["Kim Jong Un", "Kim Jong-un", "North Korean leader"],
    "putin": ["Vladimir Putin", "Putin", "Russian President"],
    "xi": ["Xi Jinping", "Xi", "Chinese President"],
    "us-president": ["Trump", "Biden", "U.S. President", "White House"],
    "moon": ["Moon Jae-in", "Moon", "South Korean President"],
    "kishida": ["Fumio Kishida", "Kishida", "Japanese Prime Minister"],
}
VERBS = [
    "fires",
    "launches",
    "tests",
    "cancels",
    "postpones",
    "suspends",
    "resumes",
    "holds",
    "meets",
    "visits",
    "rejects",
    "offers",
    "imposes",
    "lifts",
    "eases",
    "dismantles",
    "rebuilds",
    "skips",
    "warns",
    "threatens",
    "condemns",
    "welcomes",
    "proposes",
    "signs",
    "denies",
    "confirms",
    "expands",
    "halts",
    "calls off",
    "scales back",
    "blows up",
]
OBJECTS = [
    "short-range missiles",
    "ballistic missile",
    "ICBM",
    "cruise missiles",
    "projectiles",
    "nuclear test",
    "talks",
    "summit",
    "sanctions",
    "joint drills",
    "military exercises",
    "liaison office",
    "launch site",
    "test site",
    "working-level talks",
    "trade deal",
    "grain shipments",
    "rocket launchers",
    "satellite",
    "naval patrols",
    "embassy",
    "envoy",
    "oil imports",
    "tariffs",
    "election",
    "flood relief",
    "border crossing",
    "cyber attack",
]
FILLER = [
    "officials said",
    "state media reported",
    "in a statement on Tuesday",
    "amid tensions",
    "for the first time since 2017",
    "according to analysts",
    "satellite images show",
    "ahead of the holiday",
    "after weeks of silence",
    "in the capital",
    "near the border",
    "despite warnings",
    "citing security concerns",
    "on Friday",
    "as markets fell",
    "the ministry said",
    "in an unusual move",
    "according to a think tank",
]
STEMS = [
    "missile*",
    "launch*",
    "test*",
    "sanction*",
    "talk*",
    "summit*",
    "drill*",
    "exercise*",
    "dismantl*",
    "rebuild*",
    "construct*",
    "cancel*",
    "postpon*",
    "suspend*",
    "meet*",
    "visit*",
    "impos*",
    "eas*",
    "lift*",
    "liaison office",
    "launch site",
    "test site",
    "nuclear test",
    "working level",
    "joint",
    "rocket*",
    "satellite",
    "embassy",
    "envoy",
    "border",
    "tariff*",
    "election*",
    "flood*",
    "cyber*",
    "oil",
    "grain",
]


SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "tan",
    "sul",
    "pe",
    "gor",
    "vin",
    "da",
    "lek",
    "zu",
    "ham",
    "ost",
    "bri",
]


def topic_words(count: int, rng: random.Random) -> list[str]:
    """Distinct made-up words standing for the specific terms real indicators have
    (place names, weapon names, programme names)."""
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def generated_config(count: int, topics: list[str], rng: random.Random) -> Config:
    """`count` indicators with rules of the shapes the shipped file uses: each indicator has
    a few specific terms of its own, plus shared actor/leader aliases and common verbs."""
    aliases = {**ACTORS, **LEADERS}
    actor_names = list(aliases)
    indicators = []
    for n in range(count):
        own = rng.sample(topics, 4)
        aliases[f"topic-{n}"] = [own[0], f"{own[1]} site", f"{own[2]}*"]
        rules = []
        for r in range(rng.randint(1, 3)):
            shape = rng.choice(["all-any", "near", "any-none", "nested", "regex"])
            a, b = rng.sample(actor_names, 2)
            stems = rng.sample(STEMS, 5)
            rule: dict = {"name": f"rule-{r}"}
            if shape == "all-any":
                rule.update(all=[f"@{a}", f"@topic-{n}"], any=stems[:3], none=[stems[3]])
            elif shape == "near":
                rule.update(near=[f"@topic-{n}", f"@{b}"], within=rng.randint(2, 8), any=stems[:3])
            elif shape == "any-none":
                rule.update(any=[own[3], f"{own[0]} {stems[0]}"], all=[f"@{a}"], none=[f"@{b}"])
            elif shape == "nested":
                rule.update(
                    all=[f"@{a}", {"near": [f"@topic-{n}", stems[1]], "within": 3}],
                    none=[{"all": [f"@{b}", stems[2]]}],
                )
            else:
                target = normalize(aliases[b][0].rstrip("*"))
                rule.update(all=[own[0], {"regex": rf"\b{stems[1].rstrip('*')}\w* \w+ {target}"}])
            rules.append(rule)
        indicators.append(
            {
                "id": f"ind-{n}",
                "title": f"Indicator {n}",
                "description": "generated",
                "kind": rng.choice(["event", "condition"]),
                "forecasts": {"r": {"p": round(rng.random(), 2), "why": "generated"}},
                "match": rules,
            }
        )
    return Config.model_validate(
        {
            "tracker": {"id": "bench", "title": "bench"},
            "readings": [
                {
                    "id": "r",
                    "title": "r",
                    "author": "a",
                    "source": "s",
                    "published": "2019-01-01",
                    "summary": "s",
                }
            ],
            "aliases": aliases,
            "indicators": indicators,
        }
    )


def generated_texts(
    count: int, topics: list[str], rng: random.Random, topic_rate: float = 0.35
) -> list[str]:
    """Headline plus a lead sentence from the rules' vocabulary; `topic_rate` of them name
    one of the indicators' specific terms."""
    names = [p.rstrip("*") for group in (*ACTORS.values(), *LEADERS.values()) for p in group]
    texts = []
    for _ in range(count):
        thing = rng.choice(OBJECTS)
        if rng.random() < topic_rate:
            thing = f"{rng.choice(topics)} {rng.choice(['site', thing])}"
        headline = f"{rng.choice(names)} {rng.choice(VERBS)} {thing}"
        lead = (
            f"{rng.choice(names)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"{rng.choice(FILLER)}, while {rng.choice(names)} {rng.choice(VERBS)} "
            f"{rng.choice(OBJECTS)} {rng.choice(FILLER)}."
        )
        texts.append(f"{headline}. {lead}")
    return texts


def measure(label: str, matcher: Matcher, texts: list[str]) -> None:
    matcher.match(texts[0])  # warm caches
    started = time.perf_counter()
    matched = sum(len(matcher.match(text)) for text in texts)
    elapsed = time.perf_counter() - started
    print(
        f"{label:<34} {len(texts) / elapsed:>10,.0f} entries/s   "
        f"{matched / len(texts):5.2f} matches/entry   {matcher.phrase_count} phrases"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--indicators", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--config", type=Path, default=ROOT / "indicators.yaml")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    topics = topic_words(3 * args.indicators, rng)
    texts = generated_texts(args.entries, topics, rng)
    print(f"{len(texts):,} texts, mean {sum(map(len, texts)) / len(texts):.0f} chars")

    started = time.perf_counter()
    config = load_config(args.config)
    loaded = time.perf_counter()
    shipped = Matcher(config)
    print(
        f"{args.config.name}: load+validate {loaded - started:.3f}s, "
        f"compile {time.perf_counter() - loaded:.3f}s"
    )
    measure(args.config.name, shipped, texts)

    config = generated_config(args.indicators, topics, rng)
    started = time.perf_counter()
    generated = Matcher(config)
    print(f"compile {args.indicators} generated: {time.perf_counter() - started:.3f}s")
    measure(f"{args.indicators} generated indicators", generated, texts)
    dense = generated_texts(args.entries, topics, rng, topic_rate=1.0)
    measure(f"{args.indicators} generated, every text on topic", generated, dense)


if __name__ == "__main__":
    main()
