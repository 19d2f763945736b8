"""AppriseChannel delivering for real over loopback with Apprise's json:// and form:// URLs."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from watch.alerts.channels import channels_from_env
from watch.alerts.channels.apprise import AppriseChannel, channel_name, split_urls
from watch.alerts.channels.message import Change, EvidenceLine, Message
from watch.errors import RetryableDelivery

TOKEN = "ntfytopic7Hq2secret"


@dataclass
class Receiver:
    """A tiny HTTP endpoint that records what Apprise posts and answers `status`."""

    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def url(self, scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/hooks/{TOKEN}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                payload = json.loads(body)
            else:
                payload = {k: v[0] for k, v in parse_qs(body).items()}
            payload["_path"] = self.path
            if state.status == 200:
                state.received.append(payload)
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def message() -> Message:
    evidence = EvidenceLine("Putin & Kim <meet> in Vladivostok", "TASS", None, "https://e.org/1")
    change = Change(
        indicator_id="kim-putin-summit",
        indicator_title="Kim–Putin summit",
        old_state="quiet",
        new_state="signalled",
        forecasts={"orchard-2018": 0.20, "bosack-2019": 0.85},
        agrees={"orchard-2018": None, "bosack-2019": None},
        evidence=[evidence],
    )
    return Message.for_changes("alert-3", [change], tally={"bosack-2019": 0.6, "orchard-2018": 0.4})


@pytest.mark.parametrize("scheme", ["json", "form"])
def test_apprise_delivers_subject_and_plain_text_body(receiver, scheme):
    channel = AppriseChannel([receiver.url(scheme)], timeout=30)
    channel.send(message())

    [payload] = receiver.received
    assert payload["_path"] == f"/hooks/{TOKEN}"
    assert payload["title"] == "kim-putin-summit → signalled"
    assert "quiet → signalled" in payload["message"]
    assert "Putin & Kim <meet> in Vladivostok — TASS" in payload["message"]
    assert "Current tally: bosack-2019 0.60 · orchard-2018 0.40" in payload["message"]
    assert channel.name == channel_name(receiver.url(scheme))


def test_apprise_failure_is_retryable_and_hides_the_url_token(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.status = 500
    channel = AppriseChannel([receiver.url()], timeout=30)

    with pytest.raises(RetryableDelivery) as caught:
        channel.send(message())

    assert "FAILURE" in str(caught.value)
    for text in (str(caught.value), repr(channel), caplog.text):
        assert TOKEN not in text


def test_apprise_unreachable_target_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = AppriseChannel([f"json://127.0.0.1:{port}/hooks/{TOKEN}?cto=1&rto=1"], timeout=5)

    with pytest.raises(RetryableDelivery) as caught:
        channel.send(message())
    assert TOKEN not in str(caught.value)


def test_apprise_rejects_an_unknown_url_without_showing_it():
    with pytest.raises(ValueError, match="not a usable Apprise URL") as caught:
        AppriseChannel([f"nosuchservice://{TOKEN}@example.org/{TOKEN}"])
    assert TOKEN not in str(caught.value)


def test_apprise_urls_split_on_commas_and_whitespace():
    text = f" json://h:1/{TOKEN},form://h:2/x \n ntfy://topic  "
    assert split_urls(text) == [f"json://h:1/{TOKEN}", "form://h:2/x", "ntfy://topic"]


def test_env_apprise_urls_make_one_channel_per_url(receiver):
    env = {"WATCH_APPRISE_URLS": f"{receiver.url('json')}, {receiver.url('form')}"}
    channels = channels_from_env(env, recipients=[], sender=None)

    assert [type(c) for c in channels] == [AppriseChannel, AppriseChannel]
    assert [c.name for c in channels] == [
        channel_name(receiver.url("json")),
        channel_name(receiver.url("form")),
    ]
    assert all(c.name.startswith(("apprise:json:", "apprise:form:")) for c in channels)
    for channel in channels:
        channel.send(message())
    assert len(receiver.received) == 2


def test_env_without_channel_variables_gives_no_channels():
    env = {"WATCH_SLACK_WEBHOOK_URL": " ", "WATCH_APPRISE_URLS": "", "HOME": "/root"}
    assert channels_from_env(env, recipients=["a@example.org"], sender="w@example.org") == []


def test_apprise_fits_within_the_smallest_body_limit_of_its_targets(receiver):
    """Discord takes 2,000 characters a message; the JSON target 32,768."""
    discord = AppriseChannel(["discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"])
    assert discord.max_length == 2000
    json_target = AppriseChannel([receiver.url()])
    assert json_target.max_length == 32768
    long = Message.for_changes("k", [message().changes[0]] * 12)
    assert json_target.fits(long) and not discord.fits(long)
    assert discord.fits(message())
    assert not json_target.fits(Message.for_changes("k", [message().changes[0]] * 26))
