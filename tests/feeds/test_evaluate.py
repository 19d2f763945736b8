"""`watch eval`: the figures on a small labelled set written for the test, its errors, its
exit codes; and the shipped tracker on the development set when ../shared/devset is there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.paths import SHARED, SHIPPED_TRACKER, SMALL_TRACKER
from watch.cli import app
from watch.config import load_config
from watch.errors import InvalidLabelledSet, UnknownIndicator
from watch.feeds.evaluate import evaluate, read_labelled

DEVSET = SHARED / "devset" / "devset.jsonl"

# Against the small tracker: rocket-site-work (Sohae + rebuild/construction), test-freeze
# (ICBM), summit. One hit, one miss, one false alarm, one clean and one dirty near miss.
LABELLED = [
    {
        "id": "a",
        "title": "Sohae rebuilt",
        "summary": "Construction seen.",
        "labels": ["rocket-site-work"],
    },
    {"id": "b", "title": "Rocket stand at Tongchang-ri grows", "labels": ["rocket-site-work"]},
    {"id": "c", "title": "Sohae construction", "summary": "Work goes on.", "labels": []},
    {"id": "d", "title": "Weather report", "summary": "Rain.", "labels": [], "note": "ignored"},
    {"id": "e", "title": "ICBM fired", "labels": ["test-freeze", "not-an-indicator"]},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def labelled(tmp_path) -> Path:
    return write_jsonl(tmp_path / "labelled.jsonl", LABELLED)


def test_evaluate_counts_hits_misses_false_alarms_and_near_misses(labelled):
    result = evaluate(load_config(SMALL_TRACKER), read_labelled(labelled))
    site = next(s for s in result.scores if s.indicator == "rocket-site-work")
    assert (site.tp, site.fp, site.fn) == (1, 1, 1)
    assert site.precision == 0.5 and site.recall == 0.5 and site.f1 == 0.5
    freeze = next(s for s in result.scores if s.indicator == "test-freeze")
    assert (freeze.tp, freeze.fp, freeze.fn) == (1, 0, 0)
    assert (result.micro.tp, result.micro.fp, result.micro.fn) == (2, 1, 1)
    assert (result.near_misses, result.near_misses_clean) == (2, 1)
    assert result.unknown_labels == {"not-an-indicator": 1}
    kinds = {(m.kind, m.item.name): m for m in result.mistakes}
    assert set(kinds) == {("miss", "b"), ("false alarm", "c")}
    alarm = kinds[("false alarm", "c")]
    assert alarm.rule == "site-work" and alarm.words == "Sohae"


def test_evaluate_one_indicator_scores_only_it(labelled):
    result = evaluate(load_config(SMALL_TRACKER), read_labelled(labelled), "test-freeze")
    assert [s.indicator for s in result.scores] == ["test-freeze"]
    assert (result.micro.tp, result.micro.fp, result.micro.fn) == (1, 0, 0)
    with pytest.raises(UnknownIndicator):
        evaluate(load_config(SMALL_TRACKER), [], "no-such-indicator")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected an object"),
        ('{"summary": "s", "labels": []}', "title: required"),
        ('{"title": "t", "labels": "x"}', "labels: required"),
        ('{"title": "t"}', "labels: required"),
        ('{"title": "t", "summary": 3, "labels": []}', "summary: must be a string"),
    ],
)
def test_bad_labelled_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "fine", "labels": []}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InvalidLabelledSet) as caught:
        read_labelled(path)
    assert str(caught.value).startswith(f"{path}:3: ") and message in str(caught.value)


def test_eval_command_prints_the_table_and_each_mistake(labelled):
    result = CliRunner().invoke(app, ["eval", str(labelled), "--config", str(SMALL_TRACKER)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "rocket-site-work" in out and "micro (all)" in out
    assert "near misses clean: 1 of 2 (50%)" in out
    assert "miss: rocket-site-work: b: Rocket stand at Tongchang-ri grows" in out
    assert "false alarm: rocket-site-work: c: Sohae construction" in out
    assert "rule site-work matched “Sohae”" in out
    assert "not-an-indicator" in out
    assert max(len(row) for row in out.splitlines()) <= 80


def test_eval_command_json_carries_every_figure(labelled):
    args = ["eval", str(labelled), "--config", str(SMALL_TRACKER), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["micro"] == {
        "tp": 2,
        "fp": 1,
        "fn": 1,
        "precision": 0.6667,
        "recall": 0.6667,
        "f1": 0.6667,
    }
    assert report["near_misses"] == {"total": 2, "clean": 1}
    assert {(m["kind"], m["item"]) for m in report["mistakes"]} == {
        ("miss", "b"),
        ("false alarm", "c"),
    }


@pytest.mark.parametrize(
    ("options", "code", "said"),
    [
        (["--min-precision", "0.6", "--min-recall", "0.6"], 0, None),
        (["--min-precision", "0.7"], 1, "precision 0.667 < 0.7"),
        (["--min-recall", "0.9"], 1, "recall 0.667 < 0.9"),
        (["--indicator", "nope"], 2, "--indicator: no indicator 'nope'"),
    ],
)
def test_eval_command_exit_codes(labelled, options, code, said):
    args = ["eval", str(labelled), "--config", str(SMALL_TRACKER), *options]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.output
    if said:
        assert said in result.output


def test_eval_command_bad_file_exits_2_with_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "t", "labels": []}\n{oops\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(path), "--config", str(SMALL_TRACKER)])
    assert result.exit_code == 2
    assert f"{path}:2: not JSON" in result.output


# ---------------------------------------------------------------- the development set

TARGET_PRECISION, TARGET_RECALL, TARGET_F1, TARGET_CLEAN = 0.95, 0.92, 0.85, 0.95


@pytest.mark.skipif(not DEVSET.exists(), reason="../shared/devset is not beside the repository")
def test_shipped_rules_reach_the_targets_on_the_development_set():
    result = evaluate(load_config(SHIPPED_TRACKER), read_labelled(DEVSET))
    assert result.micro.precision >= TARGET_PRECISION, result.micro
    assert result.micro.recall >= TARGET_RECALL, result.micro
    weak = {s.indicator: round(s.f1, 3) for s in result.scores if s.f1 < TARGET_F1}
    assert weak == {}
    assert result.near_misses_clean >= TARGET_CLEAN * result.near_misses


@pytest.mark.skipif(not DEVSET.exists(), reason="../shared/devset is not beside the repository")
def test_eval_command_passes_its_thresholds_on_the_development_set():
    args = ["eval", str(DEVSET), "--config", str(SHIPPED_TRACKER)]
    thresholds = ["--min-precision", str(TARGET_PRECISION), "--min-recall", str(TARGET_RECALL)]
    result = CliRunner().invoke(app, args + thresholds)
    assert result.exit_code == 0, result.output[-2000:]


@pytest.mark.skipif(not DEVSET.exists(), reason="../shared/devset is not beside the repository")
def test_shipped_examples_are_not_development_items():
    """The tracker's examples are the project's own words, not copies of the devset."""
    devset = [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines()]
    texts = {row["title"].casefold() for row in devset} | {
        row["summary"].casefold() for row in devset if row.get("summary")
    }
    for indicator in load_config(SHIPPED_TRACKER).indicators:
        for example in [*indicator.examples.match, *indicator.examples.no_match]:
            assert example.casefold() not in texts, example
