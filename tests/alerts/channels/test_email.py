"""EmailChannel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from watch.alerts.channels import channels_from_env
from watch.alerts.channels.email import EmailChannel, SMTPSettings, message_id
from watch.alerts.channels.message import Change, EvidenceLine, Message
from watch.errors import PermanentDelivery, RetryableDelivery

SENDER = "watch@example.org"
RECIPIENTS = ["analyst@example.org", "desk@example.org"]
PASSWORD = "s3cr3t p@ss/w:rd%"
PUBLISHED = datetime(2019, 3, 7, 14, 5, tzinfo=UTC)
HEADLINE = "Sohae <script>alert('x')</script> & launch pad work resumes"


def change(indicator_id: str = "sohae-construction", headline: str = HEADLINE) -> Change:
    return Change(
        indicator_id=indicator_id,
        indicator_title="Construction at the Sohae launch site",
        old_state="signalled",
        new_state="confirmed",
        forecasts={"orchard-2018": 0.35, "bosack-2019": 0.80},
        agrees={"orchard-2018": False, "bosack-2019": True},
        evidence=[
            EvidenceLine(headline, "38 North", PUBLISHED, "https://example.org/a?b=1&c=2"),
            EvidenceLine("Second source sees it too", "Yonhap", None, "javascript:alert(1)"),
        ],
        cause="evidence",
    )


def message(*changes: Change, key: str = "alert-1") -> Message:
    return Message.for_changes(
        key,
        list(changes) or [change(), change("kim-putin-summit")],
        tally={"orchard-2018": 0.27, "bosack-2019": 0.73},
        url="https://watch.example.org/indicators/sohae-construction",
    )


def channel(url: str, **kwargs: object) -> EmailChannel:
    return EmailChannel(url, SENDER, RECIPIENTS, timeout=30.0, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections (backlog) but never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_email_arrives_with_recipients_subject_both_parts_and_escaped_feed_text(smtp_server):
    channel(smtp_server.url()).send(message())

    [mail] = smtp_server.received
    assert mail.mail_from == SENDER
    assert mail.rcpt_tos == RECIPIENTS
    assert mail.message["Subject"] == "[watch] sohae-construction → confirmed (+1 more)"
    assert mail.message["Message-ID"] == message_id("alert-1", SENDER)
    assert mail.message.get_content_type() == "multipart/alternative"
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert HEADLINE in text
    assert "signalled → confirmed" in text
    assert "bosack-2019 forecast 0.80: agrees" in text
    assert "Current tally: bosack-2019 0.73 · orchard-2018 0.27" in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; launch pad" in html
    assert "<script>" not in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
    assert "javascript:" not in html


def test_email_retry_of_the_same_message_has_the_same_message_id(smtp_server):
    email = channel(smtp_server.url())
    email.send(message(key="alert-7"))
    email.send(message(key="alert-7"))
    email.send(message(key="alert-8"))

    ids = [mail.message["Message-ID"] for mail in smtp_server.received]
    assert ids[0] == ids[1] != ids[2]


def test_email_many_changes_go_in_one_mail_truncated_with_n_more(smtp_server):
    changes = [change(f"indicator-{i}") for i in range(60)]
    channel(smtp_server.url(), max_changes=25).send(message(*changes))

    [mail] = smtp_server.received
    assert "(+59 more)" in mail.message["Subject"]
    for part in ("text/plain", "text/html"):
        body = mail.part(part)
        assert "… 35 more changes" in body
        assert "indicator-24" in body
        assert "indicator-25" not in body


def test_email_sends_prerendered_html_and_free_text_lines(smtp_server):
    scorecard = Message(
        key="scorecard-2019-w12",
        subject="weekly scorecard",
        kind="scorecard",
        lines=["bosack-2019 Brier 0.12", "orchard-2018 Brier 0.31"],
        html="<html><body><h1>Scorecard</h1></body></html>",
    )
    channel(smtp_server.url()).send(scorecard)

    [mail] = smtp_server.received
    assert mail.message["Subject"] == "[watch] weekly scorecard"
    assert "bosack-2019 Brier 0.12\norchard-2018 Brier 0.31" in mail.part("text/plain")
    assert "<h1>Scorecard</h1>" in mail.part("text/html")


def test_email_logs_in_when_the_url_has_credentials(make_smtp_server):
    server = make_smtp_server(auth=("watch", PASSWORD))
    channel(server.url()).send(message())

    assert server.auth_attempts == ["watch"]
    assert len(server.received) == 1


def test_email_auth_refused_is_permanent_and_never_shows_the_password(make_smtp_server, caplog):
    caplog.set_level(logging.DEBUG)
    server = make_smtp_server(auth=("watch", "the-right-one"))
    email = channel(server.url(password=PASSWORD))

    with pytest.raises(PermanentDelivery) as caught:
        email.send(message())

    assert "535" in str(caught.value)
    shown = [
        str(caught.value),
        repr(caught.value),
        "".join(traceback.format_exception(caught.value)),
        repr(email),
        repr(email.settings),
        caplog.text,
    ]
    for text in shown:
        assert PASSWORD not in text
        assert quote(PASSWORD, safe="") not in text
    assert server.received == []


def test_email_server_down_is_retryable(closed_port):
    with pytest.raises(RetryableDelivery, match="cannot connect"):
        channel(f"smtp://watch:{quote(PASSWORD, safe='')}@127.0.0.1:{closed_port}").send(message())


def test_email_silent_server_times_out_as_retryable(silent_server):
    email = EmailChannel(f"smtp://127.0.0.1:{silent_server}", SENDER, RECIPIENTS, timeout=0.3)
    with pytest.raises(RetryableDelivery, match="timed out"):
        email.send(message())


@pytest.mark.parametrize(
    ("data_reply", "refuse", "error"),
    [
        ("451 4.3.0 Try again later", {}, RetryableDelivery),
        ("452 4.3.1 Insufficient system storage", {}, RetryableDelivery),
        ("554 5.6.0 Message rejected", {}, PermanentDelivery),
        (None, {r: "550 5.1.1 No such user" for r in RECIPIENTS}, PermanentDelivery),
        (None, {r: "450 4.2.1 Mailbox busy" for r in RECIPIENTS}, RetryableDelivery),
    ],
    ids=["451-data", "452-data", "554-data", "550-all-rcpt", "450-all-rcpt"],
)
def test_email_smtp_reply_code_decides_retryable_or_permanent(
    smtp_server, data_reply, refuse, error
):
    smtp_server.data_reply = data_reply
    smtp_server.refuse.update(refuse)

    with pytest.raises(error):
        channel(smtp_server.url()).send(message())
    assert smtp_server.received == []


def test_email_refused_for_some_recipients_is_permanent_not_resent(smtp_server):
    smtp_server.refuse["desk@example.org"] = "550 5.1.1 No such user"

    with pytest.raises(PermanentDelivery, match=r"refused: desk@example.org \(550\)"):
        channel(smtp_server.url()).send(message())
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["analyst@example.org"]


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_email_over_tls_with_login_arrives(make_smtp_server, tls_certificate, tls):
    server = make_smtp_server(auth=("watch", PASSWORD), tls=tls)
    email = channel(server.url(), ssl_context=tls_certificate.client_context())
    email.send(message())

    assert server.auth_attempts == ["watch"]
    assert server.received[0].rcpt_tos == RECIPIENTS


def test_email_untrusted_certificate_is_permanent(make_smtp_server):
    server = make_smtp_server(auth=("watch", PASSWORD), tls="starttls")
    with pytest.raises(PermanentDelivery, match="certificate"):
        channel(server.url()).send(message())  # default context: self-signed is not trusted
    assert server.received == []


@pytest.mark.parametrize(
    ("url", "host", "port", "security", "username"),
    [
        ("smtp://mail.example.org", "mail.example.org", 25, "plain", None),
        ("smtp://mail.example.org:2525", "mail.example.org", 2525, "plain", None),
        ("smtp://u:p@mail.example.org?starttls=1", "mail.example.org", 587, "starttls", "u"),
        ("smtp://u%40x.org:p@mx.example:26?starttls=yes", "mx.example", 26, "starttls", "u@x.org"),
        ("smtps://u:p@mail.example.org", "mail.example.org", 465, "ssl", "u"),
    ],
)  # fmt: skip
def test_smtp_url_parses(url, host, port, security, username):
    settings = SMTPSettings.from_url(url)
    assert (settings.host, settings.port, settings.security, settings.username) == (
        host,
        port,
        security,
        username,
    )


QUOTED = quote(PASSWORD, safe="")


@pytest.mark.parametrize(
    "url",
    [
        f"http://u:{QUOTED}@mail.example.org",
        f"smtp://u:{QUOTED}@",
        f"smtps://u:{QUOTED}@mail.example.org?starttls=1",
        f"smtp://u:{QUOTED}@mail.example.org?starttls=maybe",
        f"smtp://u:{QUOTED}@mail.example.org?tls=1",
        f"smtp://u:{QUOTED}@mail.example.org:notaport",
        f"smtp://u:{PASSWORD}@mail.example.org",  # not percent-encoded: '/' starts a path
    ],
)
def test_smtp_url_malformed_is_rejected_without_the_password(url):
    with pytest.raises(ValueError) as caught:
        SMTPSettings.from_url(url)
    assert PASSWORD not in str(caught.value)
    assert QUOTED not in str(caught.value)


def test_env_smtp_url_makes_an_email_channel_from_the_env_sender(smtp_server):
    env = {"WATCH_SMTP_URL": smtp_server.url(), "WATCH_MAIL_FROM": "alerts@example.org"}
    [email] = channels_from_env(env, recipients=RECIPIENTS, sender="config@example.org")

    assert isinstance(email, EmailChannel) and email.name == "email"
    email.send(message())
    assert smtp_server.received[0].mail_from == "alerts@example.org"
    assert smtp_server.received[0].rcpt_tos == RECIPIENTS


PLAIN = "smtp://mx.example:25"


@pytest.mark.parametrize(
    ("env", "recipients", "sender", "complaint"),
    [
        ({"WATCH_SMTP_URL": PLAIN}, RECIPIENTS, None, "WATCH_MAIL_FROM"),
        ({"WATCH_SMTP_URL": PLAIN}, [], SENDER, "no recipients"),
        ({"WATCH_SMTP_URL": PLAIN}, ["desk"], SENDER, "not mail addresses"),
        ({"WATCH_SMTP_URL": PLAIN, "WATCH_MAIL_FROM": "nobody"}, RECIPIENTS, None, "address"),
        ({"WATCH_SMTP_URL": f"smtp://u:{QUOTED}@mx?starttls=2"}, RECIPIENTS, SENDER, "1 or 0"),
    ],
)  # fmt: skip
def test_env_smtp_misconfiguration_is_a_clear_error(env, recipients, sender, complaint):
    with pytest.raises(ValueError, match=complaint) as caught:
        channels_from_env(env, recipients=recipients, sender=sender)
    assert PASSWORD not in str(caught.value) and QUOTED not in str(caught.value)


def test_env_smtp_login_address_is_the_sender_when_none_is_given(smtp_server):
    url = f"smtp://alerts%40example.org:pw@127.0.0.1:{smtp_server.port}"
    [email] = channels_from_env({"WATCH_SMTP_URL": url}, recipients=RECIPIENTS, sender=None)
    assert email.sender == "alerts@example.org"
