"""The CLI as a user meets it: exit codes, JSON contracts, errors that say where."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tests.support.paths import ROOT, SMALL_TRACKER
from tests.support.rss import item, rss
from watch.cli import app

SHIPPED = ROOT / "indicators.yaml"
SMALL = SMALL_TRACKER


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("WATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("WATCH_CONFIG", raising=False)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return run


def test_validate_accepts_the_shipped_tracker(cli):
    result = cli("validate", str(SHIPPED))
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "indicators" in result.output


def test_validate_names_file_line_and_field_and_exits_2(cli, tmp_path):
    broken = tmp_path / "broken.yaml"
    text = SMALL.read_text().replace("hawk: {p: 0.8", "hawk: {p: 1.8", 1)
    broken.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "p: 1.8" in row)
    result = cli("validate", str(broken))
    assert result.exit_code == 2
    assert f"broken.yaml:{line}: indicators[0].forecasts.hawk.p" in result.output


def test_validate_reports_yaml_syntax_errors_with_their_line(cli, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("tracker:\n  id: x\n  title: [unclosed\nreadings: []\n")
    result = cli("validate", str(broken))
    assert result.exit_code == 2
    assert "broken.yaml:" in result.output and "YAML syntax" in result.output


def test_poll_a_local_feed_moves_the_right_indicators(cli, feed_server):
    when = datetime(2019, 4, 20, tzinfo=UTC)
    feed_server.route(
        "/wire.xml",
        rss(
            item(
                "Kim Jong Un arrives in Vladivostok for first summit with Putin",
                link="https://wire.example/kim-putin",
                published=when,
            ),
            item(
                "North Korea rebuilding Sohae rocket launch site, satellite images show",
                link="https://wire.example/sohae",
                published=when,
            ),
            item(
                "Seoul stock market closes higher",
                link="https://wire.example/stocks",
                published=when,
            ),
            title="Wire",
        ),
    )
    feed_server.route(
        "/other.xml",
        rss(
            item(
                "Putin and Kim meet in Russia's Far East for talks",
                link="https://other.example/summit",
                published=when,
            ),
            title="Other wire",
        ),
    )

    result = cli(
        "poll",
        "--config",
        str(SHIPPED),
        "--feed",
        feed_server.url("/wire.xml"),
        "--feed",
        feed_server.url("/other.xml"),
    )
    assert result.exit_code == 0, result.output
    assert "2 ok" in result.output and "4 new entries" in result.output

    status = json.loads(cli("status", "--config", str(SHIPPED), "--json").output)
    by_id = {row["id"]: row for row in status}
    assert by_id["kim-putin-summit"]["state"] == "confirmed"
    assert by_id["kim-putin-summit"]["sources"] == 2
    assert by_id["sohae-construction"]["state"] == "signalled"
    assert by_id["missile-test-freeze"]["state"] == "holding"
    assert set(by_id["kim-putin-summit"]["readings"]) == {"orchard-2018", "bosack-2019"}
    assert set(by_id["kim-putin-summit"]) >= {
        "id",
        "kind",
        "state",
        "evidence_count",
        "sources",
        "last_evidence_at",
        "readings",
    }

    rows = json.loads(
        cli("evidence", "kim-putin-summit", "--config", str(SHIPPED), "--json").output
    )
    assert len(rows) == 2
    assert set(rows[0]) >= {"indicator", "feed", "link", "title", "published", "matched"}
    assert rows[0]["published"] == "2019-04-20T00:00:00Z"


def test_poll_exits_1_when_a_feed_fails_and_says_why(cli, feed_server):
    feed_server.route("/gone.xml", "gone", status=404)
    result = cli("poll", "--config", str(SMALL), "--feed", feed_server.url("/gone.xml"))
    assert result.exit_code == 1
    assert "404" in result.output and "1 failed" in result.output
    feeds = json.loads(cli("feeds", "--config", str(SMALL), "--json").output)
    gone = next(f for f in feeds if f["url"].endswith("/gone.xml"))
    assert gone["result"] == "failed" and gone["http_status"] == 404
    assert gone["consecutive_failures"] == 1
    configured = next(f for f in feeds if f["name"] == "Wire A")
    assert configured["result"] is None  # configured but never polled: listed all the same


def test_rematch_dry_run_changes_nothing(cli, feed_server):
    feed_server.route(
        "/f.xml",
        rss(
            item(
                "Construction at Sohae resumes",
                guid="1",
                published=datetime(2019, 3, 1, tzinfo=UTC),
            )
        ),
    )
    cli("poll", "--config", str(SMALL), "--feed", feed_server.url("/f.xml"))
    result = cli("rematch", "--config", str(SMALL), "--dry-run", "--json")
    report = json.loads(result.output)
    assert report["applied"] is False and report["entries"] == 1
    assert report["appeared"] == [] and report["disappeared"] == []


def test_every_command_has_help_and_a_readme_section():
    readme = (ROOT / "README.md").read_text()
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    groups = [g.name for g in app.registered_groups]
    assert {"validate", "poll", "status", "evidence", "feeds", "rematch"} <= set(commands)
    for name in commands + groups:
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert len(result.output.strip().splitlines()) > 3, name
        assert f"watch {name}" in readme, f"README does not document `watch {name}`"


def test_help_does_not_import_the_heavy_modules():
    code = (
        "import sys, watch.cli; "
        "print(sorted(m for m in ('sqlalchemy', 'feedparser', 'httpx', 'sqlmodel') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_read_commands_answer_without_importing_sqlalchemy(cli, feed_server, tmp_path):
    """The read commands (status, evidence, feeds, alerts, history, scorecard) use plain SQL:
    they start in a blink."""
    feed_server.route(
        "/wire.xml",
        rss(item("North Korea rebuilding Sohae rocket launch site", link="https://w.example/s")),
    )
    assert (
        cli("poll", "--config", str(SHIPPED), "--feed", feed_server.url("/wire.xml")).exit_code == 0
    )
    code = (
        "import sys; from watch.cli import app\n"
        "try: app(sys.argv[1:], standalone_mode=False)\n"
        "finally: print('heavy:', [m for m in ('sqlalchemy', 'sqlmodel') if m in sys.modules])"
    )
    env = {"WATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}
    reads = [["status"], ["evidence"], ["feeds", "--json"], ["alerts", "--json"]]
    for command in [
        *reads,
        ["history", "sohae-construction"],
        ["scorecard", "--as-of", "2019-06-01"],
    ]:
        out = subprocess.run(
            [sys.executable, "-c", code, *command, "--config", str(SHIPPED)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        assert out.stdout.rstrip().endswith("heavy: []"), (command, out.stdout, out.stderr)
        if command == ["evidence"]:
            assert "sohae-construction" in out.stdout and "w.example/s" in out.stdout
        if command[0] == "scorecard":
            assert "scorecard as of 2019-06-01" in out.stdout
        if command[0] == "history":
            assert "quiet" in out.stdout and "signalled" in out.stdout
        if command[0] == "feeds":
            polled = json.loads(out.stdout.rpartition("heavy:")[0])
            assert {f["url"]: f["result"] for f in polled}[feed_server.url("/wire.xml")] == "ok"


def test_readme_alerts_example_is_a_valid_tracker_section(cli, tmp_path):
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```yaml\nalerts:") + len("```yaml\n")
    example = readme[start : readme.index("```", start)]
    tracker = tmp_path / "with-alerts.yaml"
    tracker.write_text(SHIPPED.read_text() + "\n" + example)
    result = cli("validate", str(tracker))
    assert result.exit_code == 0, result.output


def test_poll_refuses_a_bad_feed_url_and_feeds_remove_forgets_one(cli, feed_server):
    for bad in ("not a url", "http://", "file:///etc/passwd"):
        result = cli("poll", "--config", str(SMALL), "--feed", bad)
        assert result.exit_code == 2
        assert "not a feed URL" in result.output
    feed_server.route("/gone.xml", "gone", status=404)
    gone = feed_server.url("/gone.xml")
    assert cli("poll", "--config", str(SMALL), "--feed", gone).exit_code == 1
    listed = [f["url"] for f in json.loads(cli("feeds", "--config", str(SMALL), "--json").output)]
    assert gone in listed and not any("not a url" in u or u == "http://" for u in listed)

    result = cli("feeds", "--remove", gone, "--config", str(SMALL))
    assert result.exit_code == 0, result.output
    listed = [f["url"] for f in json.loads(cli("feeds", "--config", str(SMALL), "--json").output)]
    assert gone not in listed
    again = cli("feeds", "--remove", gone, "--config", str(SMALL))
    assert again.exit_code == 2 and "no stored feed" in again.output


def test_validate_warns_of_an_interval_under_five_minutes_with_its_line(cli, tmp_path):
    text = SMALL.read_text().replace("  interval: 10m", "  interval: 90s", 1)
    tracker = tmp_path / "fast.yaml"
    tracker.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "interval: 90s" in row)
    result = cli("validate", str(tracker))
    assert result.exit_code == 0, result.output
    assert f"{tracker}:{line}: defaults.interval: warning: 90s is under the 5-minute" in (
        result.output
    )
    assert "polled every 5 minutes" in result.output
    assert "ok" in result.output


def test_validate_is_silent_about_intervals_of_five_minutes_or_more(cli):
    result = cli("validate", str(SMALL))
    assert result.exit_code == 0 and "warning" not in result.output


@pytest.mark.parametrize("width", [80, 120])
def test_status_fits_the_terminal_and_never_breaks_an_id_or_date(
    cli, feed_server, monkeypatch, width
):
    when = datetime(2019, 4, 20, 6, 15, tzinfo=UTC)
    feed_server.route(
        "/wire.xml",
        rss(item("Kim Jong Un meets Putin for summit talks", link="https://w/1", published=when)),
    )
    cli("poll", "--config", str(SHIPPED), "--feed", feed_server.url("/wire.xml"))
    monkeypatch.setenv("COLUMNS", str(width))
    lines = cli("status", "--config", str(SHIPPED)).output.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), "\n".join(lines)
    for indicator in ("inter-korean-talks-skipped", "short-range-missile-test"):
        assert any(indicator in line for line in lines), "\n".join(lines)
    assert any("2019-04-20 06:15" in line for line in lines), "\n".join(lines)
