"""Email over real SMTP: one multipart/alternative mail (text + HTML) per message.

The connection comes from one URL: ``smtp://host:25`` (plain), ``smtp://user:pass@host:587
?starttls=1`` (STARTTLS, then login) or ``smtps://user:pass@host:465`` (TLS from the first
byte). The Message-ID is derived from the message key, so a receiving server or client
that deduplicates on it sees a retry as the same mail. SMTP errors map onto the delivery
tree by reply code: 4xx, dropped connections and timeouts are retryable; 5xx (auth refused,
recipient refused) are permanent. The password never appears in errors, logs or repr.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import parse_qsl, unquote, urlsplit

from jinja2 import Environment

from watch.alerts.channels.message import (
    Message,
    agreement,
    format_p,
    format_time,
    more,
    one_line,
    render_text,
    state_change,
    tally_text,
    text_fits,
    web_link,
)
from watch.alerts.channels.redaction import redact
from watch.errors import (
    DeliveryError,
    InvalidChannelSettings,
    PermanentDelivery,
    RetryableDelivery,
)

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"plain": 25, "starttls": 587, "ssl": 465}
# Well under what mail servers accept (10 MB and up) and what readers open comfortably.
MAX_MAIL_BYTES = 1_000_000
HEADERS_BYTES = 4_000  # headers and MIME boundaries, generously
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SMTPSettings:
    """What an SMTP URL says; the password is kept out of repr."""

    host: str
    port: int
    security: str  # "plain" | "starttls" | "ssl"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> SMTPSettings:
        """Parse `smtp[s]://[user[:pass]@]host[:port][?starttls=1]`; ValueError if malformed."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise InvalidChannelSettings("WATCH_SMTP_URL is not a valid URL") from None
        if parts.scheme not in ("smtp", "smtps"):
            raise InvalidChannelSettings(
                f"WATCH_SMTP_URL must start smtp:// or smtps://, not {parts.scheme!r}"
            )
        if not parts.hostname:
            raise InvalidChannelSettings("WATCH_SMTP_URL has no host")
        if parts.path not in ("", "/") or parts.fragment:
            raise InvalidChannelSettings(
                "WATCH_SMTP_URL has a path or fragment: percent-encode / # ? @ : in the user"
                " name and password (e.g. / as %2F)"
            )
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - {"starttls"})
        if unknown:
            raise InvalidChannelSettings(
                f"WATCH_SMTP_URL: unknown option(s) {unknown} (known: starttls)"
            )
        starttls = options.get("starttls", "0").lower()
        if starttls not in _TRUE | _FALSE:
            raise InvalidChannelSettings(f"WATCH_SMTP_URL: starttls={starttls!r}, expected 1 or 0")
        if parts.scheme == "smtps":
            if starttls in _TRUE:
                raise InvalidChannelSettings(
                    "WATCH_SMTP_URL: smtps:// is TLS already; drop starttls=1"
                )
            security = "ssl"
        else:
            security = "starttls" if starttls in _TRUE else "plain"
        return cls(
            host=parts.hostname,
            port=port or DEFAULT_PORTS[security],
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )

    def display(self) -> str:
        """'smtp://user:***@host:587?starttls=1': what logs and errors may show."""
        scheme = "smtps" if self.security == "ssl" else "smtp"
        user = (
            f"{self.username}:***@"
            if self.password
            else f"{self.username}@"
            if self.username
            else ""
        )
        tls = "?starttls=1" if self.security == "starttls" else ""
        return f"{scheme}://{user}{self.host}:{self.port}{tls}"


class EmailChannel:
    """Sends each message as one mail to all recipients over SMTP."""

    def __init__(
        self,
        smtp_url: str,
        sender: str,
        recipients: list[str],
        timeout: float = 30.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        subject_prefix: str = "[watch] ",
        max_changes: int = 25,
        max_bytes: int = MAX_MAIL_BYTES,
        local_hostname: str | None = None,
        name: str = "email",
    ) -> None:
        self.settings = SMTPSettings.from_url(smtp_url)
        if "@" not in parseaddr(sender)[1]:
            raise InvalidChannelSettings(
                f"WATCH_MAIL_FROM / sender is not a mail address: {sender!r}"
            )
        if not recipients:
            raise InvalidChannelSettings("email needs at least one recipient")
        bad = [r for r in recipients if "@" not in parseaddr(r)[1]]
        if bad:
            raise InvalidChannelSettings(f"not mail addresses: {bad}")
        self.name = name
        self.sender = sender
        self.recipients = list(recipients)
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.subject_prefix = subject_prefix
        self.max_changes = max_changes
        self.max_bytes = max_bytes
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        return f"EmailChannel({self.settings.display()}, {len(self.recipients)} recipient(s))"

    def close(self) -> None:
        """Nothing to release: each send opens and closes its own connection."""

    # -------------------------------------------------------------- rendering

    def render(self, message: Message) -> EmailMessage:
        """The mail for `message`: headers, a text part and an HTML part."""
        mail = EmailMessage()
        mail["Subject"] = one_line(f"{self.subject_prefix}{message.subject}")[:250]
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = message_id(message.key, self.sender)
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: autoresponders stay quiet
        mail.set_content(render_text(message, max_changes=self.max_changes))
        html = message.html or render_html(message, max_changes=self.max_changes)
        mail.add_alternative(html, subtype="html")
        return mail

    def fits(self, message: Message) -> bool:
        """At most `max_changes` changes, every line, and a mail under `max_bytes` (its two
        parts counted as transfer-encoded, which grows them by a third at most)."""
        if not text_fits(message, self.max_changes):
            return False
        text = render_text(message, max_changes=self.max_changes)
        html = message.html or render_html(message, max_changes=self.max_changes)
        parts = len(text.encode()) + len(html.encode())
        return 4 * parts // 3 + HEADERS_BYTES <= self.max_bytes

    # -------------------------------------------------------------- sending

    def send(self, message: Message) -> None:
        mail = self.render(message)
        try:
            self._deliver(mail)
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._refused(exc.recipients, everyone=True) from None
        except smtplib.SMTPResponseException as exc:
            raise self._by_code(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPServerDisconnected as exc:
            raise RetryableDelivery(self._reason(f"connection dropped: {exc}")) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentDelivery(self._reason(f"server does not support it: {exc}")) from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentDelivery(self._reason(f"TLS certificate rejected: {exc}")) from None
        except smtplib.SMTPException as exc:
            raise PermanentDelivery(self._reason(str(exc))) from None
        except TimeoutError:
            raise RetryableDelivery(self._reason(f"timed out after {self.timeout:g}s")) from None
        except OSError as exc:  # refused connection, DNS, TLS handshake, reset
            raise RetryableDelivery(self._reason(f"cannot connect: {exc}")) from None
        log.debug(
            "email sent key=%s to=%d server=%s",
            message.key,
            len(self.recipients),
            self.settings.host,
        )

    def _deliver(self, mail: EmailMessage) -> None:
        s = self.settings
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                s.host,
                s.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                s.host, s.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        with smtp:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username is not None:
                smtp.login(s.username, s.password or "")
            refused = smtp.send_message(
                mail, from_addr=parseaddr(self.sender)[1], to_addrs=self.recipients
            )
        if refused:
            # Some recipients got it: retrying would send it to them twice.
            raise self._refused(refused, everyone=False)

    def _refused(self, refused: dict[str, tuple[int, bytes]], everyone: bool) -> DeliveryError:
        codes = {code for code, _ in refused.values()}
        who = ", ".join(f"{addr} ({code})" for addr, (code, _) in sorted(refused.items()))
        if everyone:
            reason = self._reason(f"all recipients refused: {who}")
            temporary = all(400 <= code < 500 for code in codes)
            return RetryableDelivery(reason) if temporary else PermanentDelivery(reason)
        return PermanentDelivery(self._reason(f"delivered to the others, refused: {who}"))

    def _by_code(self, code: int, text: bytes | str) -> DeliveryError:
        said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        reason = self._reason(f"{code} {one_line(said)}")
        if 400 <= code < 500:
            return RetryableDelivery(reason)
        return PermanentDelivery(reason)

    def _reason(self, text: str) -> str:
        secrets = [self.settings.password] if self.settings.password else []
        return redact(f"SMTP {self.settings.host}:{self.settings.port}: {text}", secrets)


def message_id(key: str, sender: str) -> str:
    """A Message-ID that is the same for every retry of the same message."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "watch.invalid"
    return f"<watch.{digest}@{domain}>"


# ---------------------------------------------------------------- HTML part

_HTML = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """\
<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.4">
<h2 style="font-size: 1.1em">{{ subject }}</h2>
{% for change in changes %}
<div style="margin: 0 0 1.2em 0">
<p style="margin: 0"><strong>{{ change.title }}</strong> <code>{{ change.id }}</code><br>
{{ change.move }} <span style="color: #666">(cause: {{ change.cause }})</span></p>
<table style="border-collapse: collapse; margin: .3em 0">
{% for f in change.forecasts %}
<tr><td style="padding-right: 1em">{{ f.reading }}</td>\
<td style="padding-right: 1em">{{ f.p }}</td><td>{{ f.agreement }}</td></tr>
{% endfor %}
</table>
{% if change.evidence %}
<ul style="margin: .3em 0">
{% for e in change.evidence %}
<li>{% if e.link %}<a href="{{ e.link }}">{{ e.title }}</a>{% else %}{{ e.title }}{% endif %} \
<span style="color: #666">— {{ e.source }}, {{ e.time }}</span></li>
{% endfor %}
{% if change.more_evidence %}<li>{{ change.more_evidence }}</li>{% endif %}
</ul>
{% endif %}
</div>
{% endfor %}
{% if more_changes %}<p>{{ more_changes }}</p>{% endif %}
{% if tally %}<p><strong>Current tally:</strong> {{ tally }}</p>{% endif %}
{% if lines %}<p>{% for line in lines %}{{ line }}<br>{% endfor %}</p>{% endif %}
{% if url %}<p><a href="{{ url }}">{{ url }}</a></p>{% endif %}
</body></html>
"""
)


def render_html(
    message: Message, *, max_changes: int = 25, max_evidence: int = 5, max_lines: int = 200
) -> str:
    """The HTML part: every piece of feed text escaped (Jinja autoescape), links http(s) only."""
    shown = message.changes[:max_changes]
    changes = [
        {
            "title": one_line(c.indicator_title),
            "id": c.indicator_id,
            "move": state_change(c),
            "cause": one_line(c.cause),
            "forecasts": [
                {"reading": r, "p": format_p(p), "agreement": agreement(c.agrees.get(r))}
                for r, p in c.forecasts.items()
            ],
            "evidence": [
                {
                    "title": one_line(e.title),
                    "source": one_line(e.source),
                    "time": format_time(e.published),
                    "link": web_link(e.link),
                }
                for e in c.evidence[:max_evidence]
            ],
            "more_evidence": more(len(c.evidence) - max_evidence, "pieces of evidence")
            if len(c.evidence) > max_evidence
            else None,
        }
        for c in shown
    ]
    lines = list(message.lines)
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], more(len(lines) - max_lines, "lines")]
    return _HTML.render(
        subject=message.subject,
        changes=changes,
        more_changes=more(len(message.changes) - len(shown), "changes")
        if len(message.changes) > len(shown)
        else None,
        tally=tally_text(message.tally) if message.tally else None,
        lines=lines,
        url=web_link(message.url),
    )
