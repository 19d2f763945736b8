"""Keep channel secrets (SMTP passwords, webhook URLs, Apprise tokens) out of text and logs.

Every error message a channel raises goes through `redact`, and the third-party loggers that
print request URLs (httpx, apprise) get a filter that rewrites their records the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
# Loggers of libraries that log request URLs: httpx at INFO; apprise and urllib3 (which
# apprise's plugins use through requests) at DEBUG. A filter only sees records logged on
# its own logger, so these are the exact names, not parents.
LEAKY_LOGGERS = ("httpx", "apprise", "urllib3.connectionpool")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret, raw or URL-quoted, replaced by ***."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms.update({secret, quote(secret, safe=""), quote(secret), unquote(secret)})
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def url_secrets(url: str) -> list[str]:
    """The parts of a URL worth hiding: all of it, its password, and its path and query.

    Webhook URLs (Slack, Discord, ntfy topics…) carry their token in the path, so the path
    is a secret too; the host is not, which keeps errors readable.
    """
    parts = urlsplit(url)
    secrets = [url, parts.password or "", parts.query]
    secrets += [segment for segment in parts.path.split("/") if len(segment) >= 6]
    if parts.path not in ("", "/"):
        secrets.append(parts.path)
    return [s for s in secrets if s]


def redacted_url(url: str) -> str:
    """'smtp://user:***@host:587' or 'https://hooks.slack.com/***': safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:{MASK}@" if parts.password else ""
    path = f"/{MASK}" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{user}{host}{path}"


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message when it contains a registered secret."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            cleaned = redact(text, self.secrets)
            if cleaned != text:
                record.msg, record.args = cleaned, ()
        return True


_FILTERS: dict[str, _RedactingFilter] = {}


def protect_logs(secrets: Iterable[str], loggers: Iterable[str] = LEAKY_LOGGERS) -> None:
    """Redact `secrets` from everything the named loggers emit, from now on."""
    for name in loggers:
        if name not in _FILTERS:
            _FILTERS[name] = _RedactingFilter()
            logging.getLogger(name).addFilter(_FILTERS[name])
        _FILTERS[name].secrets.update(s for s in secrets if s)
