"""Slack through an incoming webhook: one Block Kit message per alert message.

Layout: a header (the subject), the current tally, then per change a section (indicator,
move, one field per reading with its forecast and whether the move agrees), a section of
evidence links and a context line (sources, latest time, cause); free-text lines follow,
then the link to watch. A top-level `text` carries the same news for notifications.

Slack's rules: `&`, `<`, `>` in any text we did not write are escaped; at most 50 blocks,
3,000 characters a section text, 2,000 a field, 150 the header. `fits` says whether a
message shows in full (every change, reading, piece of evidence and line, and every change
named in the notification text); the delivery chain splits a batch until it does, so the
"… N more" cut is only a guard for a single alert too big for one message.

At most one message per `min_interval` seconds per webhook. A 429 raises RetryableDelivery
carrying Retry-After, and until that time has passed the channel refuses to call Slack
again (raising the same error with the time left), so a retrying caller cannot hammer it.
The webhook URL never appears in errors or logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from watch.alerts.channels.message import (
    Change,
    Message,
    agreement,
    format_p,
    format_time,
    more,
    one_line,
    state_change,
    tally_text,
    web_link,
)
from watch.alerts.channels.redaction import protect_logs, redact, redacted_url, url_secrets
from watch.errors import InvalidChannelSettings, PermanentDelivery, RetryableDelivery

log = logging.getLogger(__name__)

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 3000
MAX_EVIDENCE_LINES = 10
MAX_FALLBACK_CHANGES = 10


def escape(text: str) -> str:
    """Slack's escaping: only `&`, `<` and `>`, as HTML entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int) -> str:
    """`text` escaped, cut to `limit` characters (with "…") without breaking an entity."""
    out, size = [], 0
    pieces = [escape(ch) for ch in text]
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    for piece in pieces:
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"


def link(url: str | None, label: str) -> str:
    """A mrkdwn link `<url|label>` (label escaped), or just the label for non-web URLs."""
    target = web_link(url)
    if not target or len(target) > 1000:
        return escape(label)
    target = escape(target).replace("|", "%7C").replace(" ", "%20")
    return f"<{target}|{escape(label)}>"


def join_within(lines: Sequence[str], limit: int, noun: str, max_items: int) -> str:
    """Lines joined by newlines within `limit` characters and `max_items` lines, the rest
    summed up as "… N more <noun>"."""
    reserve = len(more(len(lines), noun)) + 1
    kept: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        room = limit - (0 if last else reserve)
        add = len(line) + (1 if kept else 0)
        if i >= max_items or size + add > room:
            return "\n".join([*kept, more(len(lines) - i, noun)])
        kept.append(line)
        size += add
    return "\n".join(kept)


def section(text: str, fields: Sequence[str] = ()) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if fields:
        block["fields"] = [{"type": "mrkdwn", "text": f} for f in fields]
    return block


def context(*elements: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": e} for e in elements[:MAX_CONTEXT_ELEMENTS]],
    }


def change_blocks(change: Change) -> list[dict[str, Any]]:
    """The blocks for one change: what moved, each reading's forecast, evidence, context."""
    fields = [
        f"*{fit(reading, 80)}*\nforecast {format_p(p)}: {agreement(change.agrees.get(reading))}"
        for reading, p in change.forecasts.items()
    ]
    head = f"*{fit(one_line(change.indicator_title), 500)}* (`{fit(change.indicator_id, 100)}`)\n"
    head += escape(f"{change.old_state} → " if change.old_state else "→ ")
    head += f"*{escape(change.new_state)}*"
    if len(fields) > MAX_FIELDS:
        head += "\n" + more(len(fields) - MAX_FIELDS, "readings")
    blocks = [section(head, fields[:MAX_FIELDS])]
    evidence = change.evidence
    if evidence:
        lines = _evidence_lines(change)
        blocks.append(
            section(join_within(lines, MAX_SECTION_TEXT, "pieces of evidence", MAX_EVIDENCE_LINES))
        )
    sources = sorted({one_line(e.source) for e in evidence})
    times = [e.published for e in evidence if e.published is not None]
    elements = []
    if sources:
        elements.append(fit("source: " + ", ".join(sources), 300))
    if times:
        elements.append(f"latest {format_time(max(times))}")
    elements.append(fit(f"cause: {one_line(change.cause)}", 300))
    blocks.append(context(*elements))
    return blocks


def render_blocks(message: Message) -> list[dict[str, Any]]:
    """The message as at most 50 Block Kit blocks; whatever does not fit becomes "N more"."""
    return _layout(message)[0]


def shows_everything(message: Message) -> bool:
    """Whether the payload of `message` leaves nothing out (no "… N more" anywhere)."""
    if len(message.changes) > MAX_FALLBACK_CHANGES:
        return False
    if not all(_change_whole(change) for change in message.changes):
        return False
    return _layout(message)[1]


def _change_whole(change: Change) -> bool:
    if len(change.forecasts) > MAX_FIELDS or len(change.evidence) > MAX_EVIDENCE_LINES:
        return False
    return len("\n".join(_evidence_lines(change))) <= MAX_SECTION_TEXT


def _evidence_lines(change: Change) -> list[str]:
    return [
        "• " + link(e.link, one_line(e.title)[:300]) + " — " + fit(one_line(e.source), 100)
        for e in change.evidence
    ]


def _layout(message: Message) -> tuple[list[dict[str, Any]], bool]:
    """The blocks, and whether every change and line is among them."""
    whole = True
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": fit(one_line(message.subject), MAX_HEADER_TEXT)},
        }
    ]
    if message.tally:
        blocks.append(section(f"*Current tally:* {escape(tally_text(message.tally))}"))
    trailer = []
    url = web_link(message.url)
    if url:
        trailer.append(section(link(url, "Open in watch")))
    budget = MAX_BLOCKS - len(trailer) - 1  # one block kept for a "… N more" note

    for i, change in enumerate(message.changes):
        candidate = [{"type": "divider"}, *change_blocks(change)]
        if len(blocks) + len(candidate) > budget:
            blocks.append(section(more(len(message.changes) - i, "changes")))
            whole = False
            break
        blocks.extend(candidate)

    lines, start = list(message.lines), 0
    while start < len(lines):
        if len(blocks) >= budget:
            blocks.append(section(more(len(lines) - start, "lines")))
            whole = False
            break
        text, used = _take_lines(lines, start, MAX_SECTION_TEXT)
        if text.strip():
            blocks.append(section(text))
        start += used
    return blocks + trailer, whole


def _take_lines(lines: Sequence[str], start: int, limit: int) -> tuple[str, int]:
    """Escaped whole lines from `start` that fit in `limit` characters (at least one, cut
    to fit if it must be), and how many were taken."""
    taken: list[str] = []
    size = 0
    for line in lines[start:]:
        text = fit(line, limit)
        if taken and size + 1 + len(text) > limit:
            break
        size += len(text) + (1 if taken else 0)
        taken.append(text)
    return "\n".join(taken), len(taken)


def fallback_text(message: Message) -> str:
    """The top-level `text`: what a phone notification shows."""
    parts = [one_line(message.subject)]
    for change in message.changes[:MAX_FALLBACK_CHANGES]:
        parts.append(f"{change.indicator_id} {state_change(change)}")
    if len(message.changes) > MAX_FALLBACK_CHANGES:
        parts.append(more(len(message.changes) - MAX_FALLBACK_CHANGES, "changes"))
    return fit("\n".join(parts), MAX_FALLBACK_TEXT)


def payload(message: Message) -> dict[str, Any]:
    return {"text": fallback_text(message), "blocks": render_blocks(message)}


class SlackChannel:
    """Posts messages to one Slack incoming webhook."""

    def __init__(
        self,
        webhook_url: str,
        client: httpx.Client | None = None,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        timeout: float = 10.0,
        name: str = "slack",
    ) -> None:
        if not webhook_url.lower().startswith(("https://", "http://")):
            raise InvalidChannelSettings("WATCH_SLACK_WEBHOOK_URL must be an http(s) URL")
        self.name = name
        self._url = webhook_url
        self._secrets = url_secrets(webhook_url)
        protect_logs(self._secrets)
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_post: float | None = None
        self._blocked_until: float | None = None

    def __repr__(self) -> str:
        return f"SlackChannel({redacted_url(self._url)})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SlackChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fits(self, message: Message) -> bool:
        return shows_everything(message)

    def send(self, message: Message) -> None:
        body = payload(message)
        with self._lock:
            self._wait_for_turn()
            try:
                response = self._client.post(self._url, json=body)
            except httpx.TimeoutException:
                raise RetryableDelivery(self._reason("timed out")) from None
            except httpx.TransportError as exc:
                raise RetryableDelivery(
                    self._reason(f"cannot connect: {type(exc).__name__} {exc}")
                ) from None
            finally:
                self._last_post = self._clock()
            self._check(response)
        log.debug("slack sent key=%s blocks=%d", message.key, len(body["blocks"]))

    def _wait_for_turn(self) -> None:
        now = self._clock()
        if self._blocked_until is not None and now < self._blocked_until:
            left = self._blocked_until - now
            raise RetryableDelivery(
                self._reason(f"rate limited for {left:.1f}s more"), retry_after_seconds=left
            )
        if self._last_post is not None:
            wait = self._last_post + self.min_interval - now
            if wait > 0:
                self._sleep(wait)

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        said = one_line(response.text)[:200]
        if status == 429:
            retry_after = retry_after_seconds(response)
            if retry_after is not None:
                self._blocked_until = self._clock() + retry_after
            raise RetryableDelivery(
                self._reason(f"429 rate limited {said}"), retry_after_seconds=retry_after
            )
        if status >= 500 or status == 408:
            raise RetryableDelivery(
                self._reason(f"{status} {said}"), retry_after_seconds=retry_after_seconds(response)
            )
        raise PermanentDelivery(self._reason(f"{status} {said}"))

    def _reason(self, text: str) -> str:
        return redact(f"Slack webhook: {text}".strip(), self._secrets)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date taken against the response's Date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers["date"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (when - sent).total_seconds())
