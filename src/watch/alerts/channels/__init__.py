"""Alert channels: every one has `name` and `send(message)`, which raises RetryableDelivery or
PermanentDelivery; retries, backoff and the record of what was sent live in the outbox.

Channels are configured from the environment only (secrets never sit in the YAML):

    WATCH_SMTP_URL            smtp://user:pass@host:587?starttls=1 | smtps://user:pass@host:465
                              | smtp://host:25
    WATCH_MAIL_FROM           the From address (else the `sender` passed in)
    WATCH_SLACK_WEBHOOK_URL   https://hooks.slack.com/services/…
    WATCH_APPRISE_URLS        Apprise URLs separated by commas or whitespace; one channel each
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from email.utils import parseaddr
from importlib import import_module
from typing import TYPE_CHECKING, Any

from watch.alerts.channels.message import Change, Channel, EvidenceLine, Message
from watch.alerts.channels.redaction import redact
from watch.errors import InvalidChannelSettings

if TYPE_CHECKING:
    from watch.alerts.channels.apprise import AppriseChannel
    from watch.alerts.channels.email import EmailChannel
    from watch.alerts.channels.slack import SlackChannel
    from watch.config import Config

__all__ = [
    "AppriseChannel",
    "Change",
    "Channel",
    "EmailChannel",
    "EvidenceLine",
    "Message",
    "SlackChannel",
    "channels_from_env",
    "configured_channels",
    "redact",
]

# The channel classes load on first use: apprise and httpx are slow to import and most
# commands never send anything.
_LAZY = {
    "AppriseChannel": "watch.alerts.channels.apprise",
    "EmailChannel": "watch.alerts.channels.email",
    "SlackChannel": "watch.alerts.channels.slack",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ENV_VARS = ("WATCH_SMTP_URL", "WATCH_MAIL_FROM", "WATCH_SLACK_WEBHOOK_URL", "WATCH_APPRISE_URLS")


def channels_from_env(
    env: Mapping[str, str], recipients: Sequence[str], sender: str | None
) -> list[Channel]:
    """The channels the environment configures, in a stable order: email, slack, apprise:*.

    Raises InvalidChannelSettings (with no secret in its message) when a variable is malformed
    or email is configured without recipients or a From address.
    """
    channels: list[Channel] = []
    smtp_url = env.get("WATCH_SMTP_URL", "").strip()
    if smtp_url:
        from watch.alerts.channels.email import SMTPSettings

        from_address = env.get("WATCH_MAIL_FROM", "").strip() or sender
        if not from_address:
            username = SMTPSettings.from_url(smtp_url).username or ""
            from_address = username if "@" in parseaddr(username)[1] else None
        if not from_address:
            raise InvalidChannelSettings(
                "WATCH_SMTP_URL is set: set WATCH_MAIL_FROM (the From address) too"
            )
        if not recipients:
            raise InvalidChannelSettings(
                "WATCH_SMTP_URL is set but the configuration names no recipients"
            )
        from watch.alerts.channels.email import EmailChannel

        channels.append(EmailChannel(smtp_url, from_address, list(recipients)))

    webhook = env.get("WATCH_SLACK_WEBHOOK_URL", "").strip()
    if webhook:
        from watch.alerts.channels.slack import SlackChannel

        channels.append(SlackChannel(webhook))

    apprise_urls = env.get("WATCH_APPRISE_URLS", "").strip()
    if apprise_urls:
        from watch.alerts.channels.apprise import AppriseChannel, split_urls

        # One channel per URL: each target is delivered (and retried) on its own.
        channels.extend(AppriseChannel([url]) for url in split_urls(apprise_urls))
    return channels


def configured_channels(config: Config, env: Mapping[str, str] | None = None) -> list[Channel]:
    """The channels the environment (default: os.environ) sets up, minus those the YAML
    turns off."""
    found = channels_from_env(
        os.environ if env is None else env, config.alerts.recipients, config.alerts.sender
    )
    return [c for c in found if config.alerts.policy(c.name).enabled]
