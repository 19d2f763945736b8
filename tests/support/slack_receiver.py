"""Fixture module: slack_receiver, a stand-in for a Slack incoming webhook on loopback.

It checks every POST the way Slack does (JSON body, a `text`, `blocks` a list of at most 50
blocks of known types, section text at most 3,000 characters, at most 10 fields of 2,000,
header plain_text at most 150) and answers 400 `invalid_blocks` to a payload that breaks a
rule. Replies can be scripted: `slack_receiver.script(500, (429, 7), "hang", 200)` makes the
next POSTs answer 500, then 429 with `Retry-After: 7`, then stall past any client timeout,
then 200; once the script is used up every POST gets 200 `ok`. Only payloads answered 200
count as delivered (`delivered`); every POST is kept in `attempts`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

HOST = "127.0.0.1"
WEBHOOK_PATH = "/services/T0WATCH01/B0WATCH01/xoxsecretwebhooktoken0001"
BLOCK_TYPES = {
    "actions", "context", "divider", "file", "header", "image", "input", "markdown",
    "rich_text", "section", "video",
}  # fmt: skip
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10

Reply = int | tuple[int, float] | str  # status | (429, retry_after) | "hang"


def block_kit_problems(payload: Any) -> list[str]:
    """What Slack would reject in this payload; empty when it is valid."""
    if not isinstance(payload, dict):
        return ["payload is not a JSON object"]
    problems = []
    if not isinstance(payload.get("text"), str) or not payload["text"].strip():
        problems.append("no top-level text")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list):
        return [*problems, "blocks is not a list"]
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    for i, block in enumerate(blocks):
        problems.extend(f"blocks[{i}]: {p}" for p in _block_problems(block))
    return problems


def _text_problems(obj: Any, limit: int, types: set[str]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in types:
        return [f"text object must be one of {sorted(types)}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return ["empty text"]
    if len(text) > limit:
        return [f"text is {len(text)} characters > {limit}"]
    return []


def _block_problems(block: Any) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        return [f"unknown block {block!r:.60}"]
    kind = block["type"]
    if kind == "header":
        return _text_problems(block.get("text"), MAX_HEADER_TEXT, {"plain_text"})
    if kind == "section":
        problems = []
        if "text" in block:
            problems += _text_problems(block["text"], MAX_SECTION_TEXT, {"mrkdwn", "plain_text"})
        fields = block.get("fields", [])
        if "text" not in block and not fields:
            problems.append("section needs text or fields")
        if len(fields) > MAX_FIELDS:
            problems.append(f"{len(fields)} fields > {MAX_FIELDS}")
        for f in fields:
            problems += _text_problems(f, MAX_FIELD_TEXT, {"mrkdwn", "plain_text"})
        return problems
    if kind == "context":
        elements = block.get("elements", [])
        if not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
            return [f"context has {len(elements)} elements"]
        return [p for e in elements for p in _text_problems(e, 3000, {"mrkdwn", "plain_text"})]
    return []


@dataclass
class SlackReceiver:
    port: int = 0
    delivered: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[Any] = field(default_factory=list)
    rejected: list[list[str]] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    hang_seconds: float = 60.0  # past any client timeout; stop() ends it early
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def webhook_url(self) -> str:
        return f"http://{HOST}:{self.port}{WEBHOOK_PATH}"

    def script(self, *replies: Reply) -> None:
        """Answer the next POSTs with these replies, in order, then 200 again."""
        with self._lock:
            self.replies.extend(replies)

    def next_reply(self) -> Reply:
        with self._lock:
            return self.replies.pop(0) if self.replies else 200

    def start(self) -> None:
        self._server = _Server((HOST, 0), _handler_for(self))
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes any stalled ("hang") request
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out hang up mid-reply: that is the test, not an error."""


def _handler_for(receiver: SlackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != WEBHOOK_PATH:
                return self._answer(404, "no_service")
            try:
                payload = json.loads(body)
            except ValueError:
                receiver.attempts.append(body)
                return self._answer(400, "invalid_payload")
            receiver.attempts.append(payload)
            reply = receiver.next_reply()
            if reply == "hang":
                receiver._stopping.wait(receiver.hang_seconds)
                return None
            if isinstance(reply, tuple):
                return self._answer(reply[0], "rate_limited", {"Retry-After": f"{reply[1]:g}"})
            if reply != 200:
                assert isinstance(reply, int)
                return self._answer(reply, "server_error" if reply >= 500 else "error")
            if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                return self._answer(400, "invalid_payload")
            problems = block_kit_problems(payload)
            if problems:
                receiver.rejected.append(problems)
                return self._answer(400, "invalid_blocks")
            receiver.delivered.append(payload)
            return self._answer(200, "ok")

        def _answer(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def slack_receiver() -> Iterator[SlackReceiver]:
    """A Slack incoming-webhook stand-in on loopback; see the module docstring."""
    receiver = SlackReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
