"""SlackChannel against a local stand-in for a Slack incoming webhook (tests/slack_receiver.py)."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.slack_receiver import WEBHOOK_PATH
from watch.alerts.channels import channels_from_env
from watch.alerts.channels.message import Change, EvidenceLine, Message
from watch.alerts.channels.slack import SlackChannel, retry_after_seconds
from watch.errors import DeliveryError, PermanentDelivery, RetryableDelivery

TOKEN = WEBHOOK_PATH.rsplit("/", 1)[1]
HEADLINE = "Sohae <script>alert(1)</script> & rebuilding <!channel> <@U123> >quote"
PUBLISHED = datetime(2019, 3, 7, 14, 5, tzinfo=UTC)


class FakeClock:
    """A monotonic clock that only moves when the channel sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def change(indicator_id: str = "sohae-construction", evidence: int = 2) -> Change:
    lines = [
        EvidenceLine(HEADLINE, "38 North & Co", PUBLISHED, "https://example.org/a?b=1&c=2"),
        EvidenceLine("Quiet week", "Yonhap <wire>", None, "javascript:alert(1)"),
    ]
    lines += [
        EvidenceLine(f"Report {i}: " + "word " * 60, f"source-{i}", PUBLISHED, f"https://e.org/{i}")
        for i in range(max(0, evidence - 2))
    ]
    return Change(
        indicator_id=indicator_id,
        indicator_title="Construction at the Sohae launch site",
        old_state="quiet",
        new_state="confirmed",
        forecasts={"orchard-2018": 0.35, "bosack-2019": 0.80},
        agrees={"orchard-2018": False, "bosack-2019": True},
        evidence=lines[:evidence],
        cause="evidence",
    )


def message(*changes: Change, key: str = "alert-1", **kwargs: Any) -> Message:
    return Message.for_changes(
        key,
        list(changes) or [change()],
        tally={"orchard-2018": 0.27, "bosack-2019": 0.73},
        url="https://watch.example.org/indicators/sohae-construction",
        **kwargs,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # a "hang" costs this long; a reply later than it would be sent again (a duplicate)
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def slack(slack_receiver, client, clock) -> SlackChannel:
    return SlackChannel(slack_receiver.webhook_url, client=client, clock=clock, sleep=clock.sleep)


def texts(node: Any) -> Iterator[str]:
    """Every "text" string in a payload, nested ones included."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from texts(item)


LINK = re.compile(r"<https?://[^|<>\s]+\|[^<>]*>")


def test_slack_payload_is_valid_block_kit_with_fallback_text(slack, slack_receiver):
    slack.send(message(change(), change("kim-putin-summit")))

    assert slack_receiver.rejected == []
    [payload] = slack_receiver.delivered
    assert payload["text"].startswith("sohae-construction → confirmed (+1 more)")
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "sohae-construction → confirmed (+1 more)"},
    }
    assert [b["type"] for b in blocks].count("divider") == 2
    section = blocks[3]
    assert section["text"]["text"].startswith("*Construction at the Sohae launch site*")
    assert section["fields"][1]["text"] == "*bosack-2019*\nforecast 0.80: agrees"
    assert "<https://example.org/a?b=1&amp;c=2|" in blocks[4]["text"]["text"]
    context = [e["text"] for e in blocks[5]["elements"]]
    assert context == [
        "source: 38 North &amp; Co, Yonhap &lt;wire&gt;",
        "latest 2019-03-07 14:05 UTC",
        "cause: evidence",
    ]
    assert blocks[-1]["text"]["text"] == (
        "<https://watch.example.org/indicators/sohae-construction|Open in watch>"
    )


def test_slack_escapes_ampersand_and_angle_brackets_in_feed_text(slack, slack_receiver):
    slack.send(message())

    [payload] = slack_receiver.delivered
    dumped = json.dumps(payload)
    for raw in ("<script>", "<!channel>", "<@U123>", "javascript:"):
        assert raw not in dumped
    assert "Sohae &lt;script&gt;alert(1)&lt;/script&gt; &amp; rebuilding &lt;!channel&gt;" in dumped
    for text in texts(payload):
        bare = LINK.sub("", text)
        assert "<" not in bare and ">" not in bare, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", bare), text


def test_slack_60_changes_fit_in_50_blocks_with_n_more(slack, slack_receiver):
    changes = [change(f"indicator-{i}") for i in range(60)]
    slack.send(message(*changes))

    assert slack_receiver.rejected == []
    [payload] = slack_receiver.delivered
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    shown = sum(1 for b in blocks if b["type"] == "divider")
    assert 0 < shown < 60
    assert blocks[-2]["text"]["text"] == f"… {60 - shown} more changes"


def test_slack_long_evidence_list_stays_within_a_section(slack, slack_receiver):
    slack.send(message(change(evidence=400)))

    assert slack_receiver.rejected == []
    [payload] = slack_receiver.delivered
    evidence = payload["blocks"][4]["text"]["text"]
    assert len(evidence) <= 3000
    assert re.search(r"… \d+ more pieces of evidence$", evidence)


def test_slack_long_header_and_many_lines_are_truncated(slack, slack_receiver):
    health = Message(
        key="feed-health-1",
        subject="feed failing: " + "Very & long <feed> name " * 20,
        kind="feed-health",
        lines=[f"poll {i}: HTTP 503 from the <feed> & co " + "x" * 80 for i in range(5000)],
    )
    slack.send(health)

    assert slack_receiver.rejected == []
    [payload] = slack_receiver.delivered
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    assert not re.search(r"&(?!amp;|lt;|gt;)", header)
    assert len(payload["blocks"]) <= 50
    assert re.fullmatch(r"… \d+ more lines", payload["blocks"][-1]["text"]["text"])


def test_slack_one_huge_line_is_cut_without_breaking_an_entity(slack, slack_receiver):
    reminder = Message(key="r-1", subject="reminder", kind="reminder", lines=["", "&<" * 3000])
    slack.send(reminder)

    assert slack_receiver.rejected == []
    [payload] = slack_receiver.delivered
    text = payload["blocks"][1]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("…")
    assert re.fullmatch(r"\n(&amp;&lt;)+…", text)


@pytest.mark.parametrize(
    ("reply", "error", "retry_after"),
    [
        (500, RetryableDelivery, None),
        (503, RetryableDelivery, None),
        ((429, 7), RetryableDelivery, 7.0),
        (400, PermanentDelivery, None),
        (403, PermanentDelivery, None),
        (404, PermanentDelivery, None),
        (410, PermanentDelivery, None),
        ("hang", RetryableDelivery, None),
    ],
    ids=["500", "503", "429", "400", "403", "404", "410", "hang"],
)
def test_slack_error_replies_map_to_retryable_or_permanent(
    slack, slack_receiver, reply, error, retry_after
):
    slack_receiver.script(reply)

    with pytest.raises(DeliveryError) as caught:
        slack.send(message())

    assert type(caught.value) is error
    assert caught.value.retry_after_seconds == retry_after
    assert slack_receiver.delivered == []


def test_slack_unreachable_webhook_is_retryable(client, clock):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    slack = SlackChannel(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", client=client, clock=clock)

    with pytest.raises(RetryableDelivery, match="cannot connect") as caught:
        slack.send(message())
    assert TOKEN not in str(caught.value)


def test_slack_429_holds_further_sends_until_retry_after(slack, slack_receiver, clock):
    slack_receiver.script((429, 30))
    with pytest.raises(RetryableDelivery):
        slack.send(message(key="a"))
    attempts = len(slack_receiver.attempts)

    clock.now += 10
    with pytest.raises(RetryableDelivery) as caught:
        slack.send(message(key="a"))
    assert caught.value.retry_after_seconds == pytest.approx(20)
    assert len(slack_receiver.attempts) == attempts  # Slack was not called again

    clock.now += 20
    slack.send(message(key="a"))
    assert len(slack_receiver.delivered) == 1


def test_slack_sends_at_most_one_message_per_interval(slack, slack_receiver, clock):
    for i in range(3):
        slack.send(message(key=f"k{i}"))
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0)]

    clock.now += 5  # a quiet spell: the next one goes straight out
    slack.send(message(key="k3"))
    assert len(clock.sleeps) == 2
    assert len(slack_receiver.delivered) == 4


def test_slack_every_message_arrives_exactly_once_through_500_429_and_a_hang(
    slack, slack_receiver, clock
):
    """A retry loop like the delivery worker's, with the receiver failing in every way."""
    slack_receiver.script(500, (429, 3), "hang", 500, "hang", (429, 1))
    indicators = [f"indicator-{i}" for i in range(5)]
    tries = 0
    for indicator in indicators:
        while True:
            tries += 1
            try:
                slack.send(message(change(indicator), key=indicator))
                break
            except RetryableDelivery as error:
                clock.now += error.retry_after_seconds or 1.0

    arrived = [p["text"].split(" ")[0] for p in slack_receiver.delivered]
    assert arrived == indicators
    assert tries == len(indicators) + 6
    assert slack_receiver.rejected == []


def test_slack_webhook_url_never_in_errors_or_logs(slack, slack_receiver, caplog):
    caplog.set_level(logging.DEBUG)
    slack_receiver.script(500, 403)
    errors = []
    for _ in range(3):
        try:
            slack.send(message())
        except DeliveryError as error:
            errors.append(error)

    assert len(errors) == 2 and len(slack_receiver.delivered) == 1
    assert "HTTP Request" in caplog.text  # httpx did log the request: redacted
    shown = [caplog.text, repr(slack), *(str(e) for e in errors), *(repr(e) for e in errors)]
    for text in shown:
        assert TOKEN not in text
        assert WEBHOOK_PATH not in text


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "-3"}, 0.0),
        (
            {
                "Retry-After": "Thu, 07 Mar 2019 14:06:00 GMT",
                "Date": "Thu, 07 Mar 2019 14:05:30 GMT",
            },
            30.0,
        ),
        ({"Retry-After": "Thu, 07 Mar 2019 14:06:00 GMT"}, None),  # no Date to measure from
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds_reads_numbers_and_dates(headers, seconds):
    response = httpx.Response(429, headers=headers)
    assert retry_after_seconds(response) == seconds


def test_env_slack_webhook_makes_a_slack_channel_that_delivers(slack_receiver):
    env = {"WATCH_SLACK_WEBHOOK_URL": f" {slack_receiver.webhook_url} "}
    [slack] = channels_from_env(env, recipients=[], sender=None)
    with slack:
        assert isinstance(slack, SlackChannel) and slack.name == "slack"
        slack.send(message())
    assert len(slack_receiver.delivered) == 1


def test_env_slack_webhook_must_be_a_web_url():
    with pytest.raises(ValueError, match="http"):
        channels_from_env({"WATCH_SLACK_WEBHOOK_URL": "hooks.slack.com/x"}, [], None)
