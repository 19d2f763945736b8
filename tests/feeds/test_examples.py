"""Examples in the tracker: `watch validate` runs them through the real matcher and names the
line of each one that fails; the shipped tracker's own examples all pass."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.support.paths import SHIPPED_TRACKER, SMALL_TRACKER
from watch.cli import app
from watch.config import load_config
from watch.feeds.examples import failing_examples

EXAMPLES = """\
    examples:
      match:
        - "Sohae rebuilding seen from space"
        - "Cranes at Tongchang-ri"
      no_match:
        - "Sohae construction resumes"
        - "Sohae gantry dismantled"
"""


def with_examples(tmp_path):
    """The small tracker with examples on its first indicator: two pass, two fail."""
    text = SMALL_TRACKER.read_text()
    anchor = "        none: [dismantl*]\n"
    assert text.count(anchor) == 1
    path = tmp_path / "tracker.yaml"
    path.write_text(text.replace(anchor, anchor + EXAMPLES), encoding="utf-8")
    lines = path.read_text().splitlines()
    return path, {
        row.strip(' -"'): n for n, row in enumerate(lines, 1) if row.startswith("        - ")
    }


def test_failing_examples_name_their_line_and_what_fired(tmp_path):
    path, line = with_examples(tmp_path)
    problems = failing_examples(load_config(path))
    rendered = [p.render(path) for p in problems]
    assert rendered == [
        f"{path}:{line['Cranes at Tongchang-ri']}: examples: rocket-site-work should match "
        "but does not: “Cranes at Tongchang-ri”",
        f"{path}:{line['Sohae construction resumes']}: examples: rocket-site-work should not "
        "match but rule site-work matched “Sohae” in “Sohae construction resumes”",
    ]


def test_validate_runs_the_examples_and_exits_2(tmp_path):
    path, line = with_examples(tmp_path)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"tracker.yaml:{line['Cranes at Tongchang-ri']}: examples: " in result.output


def test_examples_are_optional_and_counted(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(SMALL_TRACKER)])
    assert result.exit_code == 0, result.output
    assert "0 examples" in result.output


def test_unknown_example_key_is_a_schema_error(tmp_path):
    text = SMALL_TRACKER.read_text().replace(
        "        none: [dismantl*]\n",
        "        none: [dismantl*]\n    examples: {matches: [x]}\n",
        1,
    )
    path = tmp_path / "tracker.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "examples.matches: unknown key 'matches'" in result.output


def test_shipped_examples_pass_and_cover_every_indicator():
    config = load_config(SHIPPED_TRACKER)
    assert failing_examples(config) == []
    for indicator in config.indicators:
        assert len(indicator.examples.match) >= 10, indicator.id
        assert len(indicator.examples.no_match) >= 5, indicator.id  # the near misses
