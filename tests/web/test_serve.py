"""`watch serve` as a user runs it: a real process on a loopback port, stopped by SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.paths import SMALL_TRACKER
from watch.config import load_config
from watch.db import make_engine
from watch.web.app import create_app
from watch.web.server import WebServer

WATCH = str(Path(sys.executable).parent / "watch")  # the installed command


def start(tmp_path, *args: str, token: str | None = None) -> tuple[subprocess.Popen, str]:
    env = {"WATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "PATH": "/usr/bin:/bin"}
    if token:
        env["WATCH_WEB_TOKEN"] = token
    process = subprocess.Popen(
        [WATCH, "serve", "--config", str(SMALL_TRACKER), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    found = re.search(r"on (http://\S+)/ ", line)
    assert found, line + process.stderr.read()
    return process, found.group(1)


def stop(process: subprocess.Popen) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out, err


def test_serve_answers_on_loopback_read_only_without_a_token_and_stops_on_sigterm(tmp_path):
    process, url = start(tmp_path, "--port", "0")
    try:
        assert url.startswith("http://127.0.0.1:")
        page = httpx.get(url + "/indicators", timeout=30)
        assert page.status_code == 200 and "rocket-site-work" in page.text
        refused = httpx.post(url + "/indicators/summit/resolve", data={"outcome": "yes"})
        assert refused.status_code == 403 and "read-only" in refused.text
    finally:
        _out, err = stop(process)
    assert "not loopback" not in err


def test_serve_on_another_address_warns(tmp_path):
    process, url = start(tmp_path, "--host", "0.0.0.0", "--port", "0", token="t")
    try:
        assert httpx.get(url.replace("0.0.0.0", "127.0.0.1") + "/", timeout=30).status_code == 200
    finally:
        _out, err = stop(process)
    assert "not loopback" in err


def test_serve_on_a_taken_port_fails_with_one_line(tmp_path):
    process, url = start(tmp_path, "--port", "0")
    try:
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [WATCH, "serve", "--config", str(SMALL_TRACKER), "--port", port],
            env={"WATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert second.stderr.startswith(f"watch: cannot listen on 127.0.0.1:{port}:")
    finally:
        stop(process)


def test_a_database_that_cannot_answer_gets_a_one_line_503(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated: no tables
    server = WebServer(create_app(load_config(SMALL_TRACKER), engine, lambda: None, None), port=0)
    server.start()
    try:
        page = httpx.get(server.url + "/feeds", timeout=30)
    finally:
        server.stop()
        engine.dispose()
    assert page.status_code == 503
    assert "database error: OperationalError: no such table" in page.text
    assert "Traceback" not in page.text
