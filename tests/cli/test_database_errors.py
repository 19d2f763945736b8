"""Database trouble as a user meets it: one line, exit 3, read commands that never write."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.support.paths import SMALL_TRACKER
from watch.cli import app
from watch.db import make_engine, open_database, schema_version

READ_COMMANDS = [
    ["status"],
    ["evidence"],
    ["feeds"],
    ["history", "rocket-site-work"],
    ["alerts"],
    ["scorecard"],
]


def watch(url: str, *args: str):
    """The real console entry point in a subprocess (its exception handler included)."""
    env = {"WATCH_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    code = "import sys; from watch.cli import main; sys.argv[0] = 'watch'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args, "--config", str(SMALL_TRACKER)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def assert_one_line_database_error(result, *needles: str) -> None:
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("watch: ")
    assert "Traceback" not in result.stderr and "sqlalche.me" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("url", "needles"),
    [
        ("mysql://user:hunter2@localhost/watch", ["unsupported database 'mysql'"]),
        ("postgresql://user:hunter2@127.0.0.1:1/watch", ["connection", "port 1"]),
        ("postgresql://user:hunter2@127.0.0.1:notaport/watch", ["not a database URL"]),
    ],
    ids=["mysql-without-driver", "refused-port", "bad-port"],
)
def test_bad_database_url_is_one_line_and_exit_3(url, needles):
    for command in (["poll", "--feed", "http://127.0.0.1:1/x.xml"], ["status"]):
        result = watch(url, *command)
        assert_one_line_database_error(result, *needles)
        assert "hunter2" not in result.stderr


def test_postgres_scheme_is_read_as_postgresql(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the postgres:// spelling is PostgreSQL's")
    spelled = "postgres://" + database_url.split("://", 1)[1]
    assert watch(spelled, "migrate").returncode == 0
    result = watch(spelled, "status", "--json")
    assert result.returncode == 0, result.stderr
    assert '"state"' in result.stdout


def test_error_while_working_is_one_line_and_exit_3(database_url):
    engine = open_database(database_url)
    with engine.begin() as connection:
        cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
        connection.execute(text(f"DROP TABLE evidence{cascade}"))
    engine.dispose()
    result = watch(database_url, "evidence")
    assert_one_line_database_error(result, "database error")


def test_mistyped_folder_does_not_create_a_database(tmp_path):
    target = tmp_path / "no" / "such" / "watch.db"
    result = watch(f"sqlite:///{target}", "poll", "--feed", "http://127.0.0.1:1/x.xml")
    assert_one_line_database_error(result, "does not exist")
    assert not (tmp_path / "no").exists()


def test_default_db_folder_is_still_created(tmp_path, monkeypatch):
    tracker = tmp_path / "tracker.yaml"
    tracker.write_text(SMALL_TRACKER.read_text())
    monkeypatch.delenv("WATCH_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["migrate", "--config", str(tracker)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "db" / "watch.db").is_file()


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_read_command_on_a_new_database_writes_nothing(tmp_path, command):
    target = tmp_path / "watch.db"
    result = watch(f"sqlite:///{target}", *command)
    assert_one_line_database_error(result, "watch migrate")
    assert not target.exists()


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_read_command_on_an_old_schema_does_not_migrate(database_url, command):
    engine = open_database(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    result = watch(database_url, *command)
    assert_one_line_database_error(result, "schema 0003", "watch migrate")
    assert schema_version(engine) == "0003"
    engine.dispose()


def test_read_commands_work_on_a_current_database(database_url):
    open_database(database_url).dispose()
    for command in READ_COMMANDS:
        result = watch(database_url, *command)
        assert result.returncode == 0, (command, result.stderr)


def test_status_reads_a_sqlite_file_opened_read_only(tmp_path):
    target = tmp_path / "watch.db"
    open_database(f"sqlite:///{target}").dispose()
    before = target.read_bytes()
    result = watch(f"sqlite:///{target}", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == before
    engine = make_engine(f"sqlite:///{target}")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM indicatorstate")).scalar() == 0
    engine.dispose()
