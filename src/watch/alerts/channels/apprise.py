"""Any other target (ntfy, Teams, Discord, Telegram, …) through Apprise URLs.

The message goes out as plain text (the same rendering as the email's text part) with the
subject as title. Apprise reports success or failure per service but not why in a form we
can map onto retryable / permanent, so any failure is retryable; the delivery worker's age
limit is what ends a hopeless one. A message fits when its text is within the smallest body
limit of the targets (Discord 2,000 characters, ntfy 7,800, most 32,768). Apprise URLs carry
tokens in their paths: they are redacted from errors. Apprise's own log lines stay in
Apprise (they are read back from its result for the error): watch says one line per failure.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from urllib.parse import urlsplit

import apprise

from watch.alerts.channels.message import Message, one_line, render_text, text_fits
from watch.alerts.channels.redaction import protect_logs, redact, redacted_url, url_secrets
from watch.errors import InvalidChannelSettings, RetryableDelivery

log = logging.getLogger(__name__)

# Apprise logs every failure at ERROR itself; its result carries the same words, which the
# delivery log line quotes, so its records stop at its own logger (where it captures them).
logging.getLogger("apprise").propagate = False


def split_urls(text: str) -> list[str]:
    """Apprise URLs from one string, separated by commas, semicolons or whitespace."""
    from apprise.utils.parse import parse_urls

    return [url for url in parse_urls(text) if url.strip()]


def channel_name(url: str) -> str:
    """A stable, secret-free name for one URL: 'apprise:ntfy:3fa2c1'."""
    scheme = urlsplit(url).scheme or "url"
    return f"apprise:{scheme}:{hashlib.sha256(url.encode()).hexdigest()[:6]}"


class AppriseChannel:
    """Sends each message to every Apprise URL it was given.

    Give it one URL per channel when delivery must be once per target: a failure of one
    URL in a list makes the whole send retryable, and the retry reaches the others again.
    """

    def __init__(
        self, urls: Sequence[str], *, name: str | None = None, timeout: float = 30.0
    ) -> None:
        urls = [u.strip() for u in urls if u.strip()]
        if not urls:
            raise InvalidChannelSettings("Apprise needs at least one URL")
        self._secrets = [s for url in urls for s in url_secrets(url)]
        protect_logs(self._secrets)
        self.name = name or (channel_name(urls[0]) if len(urls) == 1 else "apprise")
        self.timeout = timeout
        self._urls = urls
        asset = apprise.AppriseAsset(storage_mode="memory")
        self._apprise = apprise.Apprise(asset=asset)
        with warnings.catch_warnings():
            # Apprise loads its plugins on first use; one imports the deprecated stdlib
            # imghdr, which is Apprise's to fix and must not fail a run under -W error.
            warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
            for url in urls:
                if not self._apprise.add(url):
                    raise InvalidChannelSettings(f"not a usable Apprise URL: {redacted_url(url)}")

    def __repr__(self) -> str:
        return f"AppriseChannel({', '.join(redacted_url(u) for u in self._urls)})"

    def close(self) -> None:
        self._apprise.clear()

    @property
    def max_length(self) -> int:
        """The smallest body limit among the targets (Apprise's `body_maxlen`)."""
        limits = [server.body_maxlen for server in self._apprise if server.body_maxlen > 0]
        return min(limits, default=32768)

    def fits(self, message: Message) -> bool:
        return text_fits(message) and len(render_text(message)) <= self.max_length

    def send(self, message: Message) -> None:
        try:
            result = self._apprise.notify(
                body=render_text(message),
                title=one_line(message.subject),
                body_format=apprise.NotifyFormat.TEXT,
                timeout=self.timeout,
            )
        except Exception as exc:  # a plugin bug must not take the delivery worker down
            raise RetryableDelivery(self._reason(f"{type(exc).__name__}: {exc}")) from None
        if not result:
            failed = [r for r in result.results if not r]
            said = (
                "; ".join(f"{r.name} {r.status.name}: {self._last_log(r)}" for r in failed)
                or result.status.name
            )
            raise RetryableDelivery(self._reason(said))
        log.debug("apprise sent key=%s services=%d", message.key, len(result.results))

    @staticmethod
    def _last_log(result: apprise.NotifyResult) -> str:
        """The last thing Apprise logged for a failed service: its reason, in its words."""
        entries = list(result.logs())
        return one_line(entries[-1].message)[:200] if entries else "no detail"

    def _reason(self, text: str) -> str:
        return redact(f"Apprise: {text}", self._secrets)
