"""SMTP delivery against a real aiosmtpd server on loopback: plain, STARTTLS, implicit TLS, auth, retries."""

from __future__ import annotations

import pickle
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from connectors.http import HttpPolicy
from connectors.smtp import SmtpError, SmtpServer, deliver
from sandbox.common import LOOPBACK, free_port
from tests.smtp_sink import SinkTls, make_tls, smtp_sink

SENTINEL = "s3ntinel-SMTP-pw-41d2"
NO_WAIT = HttpPolicy(max_attempts=3, backoff_base=0.0)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> SinkTls:
    return make_tls(tmp_path_factory.mktemp("smtp-tls"))


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "[renkei] acme: 失敗 / failed"
    msg["From"] = "renkei@example.co.jp"
    msg["To"] = "ops@example.co.jp, 担当 <tanto@example.co.jp>"
    msg.set_content("連携エラーがあります。\nA run needs attention.\n")
    return msg


def server(port: int, **options: Any) -> SmtpServer:
    return SmtpServer(LOOPBACK, port, **{"starttls": False, "timeout": 10.0, **options})


def test_plain_delivery_reaches_every_recipient_with_the_text_intact() -> None:
    with smtp_sink() as sink:
        refused = deliver(message(), server(sink.port))
    assert refused == {}
    (got,) = sink.messages
    assert sink.recipients == [["ops@example.co.jp", "tanto@example.co.jp"]]
    assert got["Subject"] == "[renkei] acme: 失敗 / failed"
    body = got.get_body(("plain",))
    assert body is not None and "連携エラーがあります。" in body.get_content()


def test_starttls_with_the_private_ca_as_cafile(tls: SinkTls) -> None:
    with smtp_sink(tls=tls) as sink:
        deliver(message(), server(sink.port, starttls=True, cafile=str(tls.cafile)))
    assert len(sink.messages) == 1


def test_starttls_refuses_a_certificate_it_cannot_verify_and_does_not_retry(tls: SinkTls) -> None:
    waits: list[float] = []
    with smtp_sink(tls=tls) as sink, pytest.raises(SmtpError) as caught:
        deliver(message(), server(sink.port, starttls=True), policy=NO_WAIT, sleep=waits.append)
    assert f"{LOOPBACK}:{sink.port}" in str(caught.value)
    assert "certificate not trusted" in str(caught.value) and "cafile" in str(caught.value)
    assert not caught.value.transient and caught.value.attempts == 1 and waits == []
    assert sink.messages == []


def test_starttls_asked_of_a_server_without_it_is_a_clear_permanent_error() -> None:
    with smtp_sink() as sink, pytest.raises(SmtpError) as caught:
        deliver(message(), server(sink.port, starttls=True), policy=NO_WAIT, sleep=lambda _: None)
    assert "STARTTLS" in str(caught.value) and not caught.value.transient


def test_implicit_tls(tls: SinkTls) -> None:
    with smtp_sink(tls=tls, implicit_tls=True) as sink:
        deliver(message(), server(sink.port, ssl=True, cafile=str(tls.cafile)))
    assert len(sink.messages) == 1


@pytest.mark.parametrize(("hidden", "used"), [("LOGIN", "PLAIN"), ("PLAIN", "LOGIN")])
def test_auth_over_starttls(tls: SinkTls, hidden: str, used: str) -> None:
    with smtp_sink(tls=tls, credentials=("renkei", SENTINEL), exclude_auth=(hidden,)) as sink:
        deliver(
            message(),
            server(sink.port, starttls=True, cafile=str(tls.cafile), username="renkei", password=SENTINEL),
        )
    assert sink.logins == [f"{used}:renkei"]
    assert len(sink.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_without_tls_when_the_server_allows_it() -> None:
    with smtp_sink(credentials=("renkei", SENTINEL)) as sink:
        deliver(message(), server(sink.port, username="renkei", password=SENTINEL))
    assert sink.logins == ["PLAIN:renkei"] and len(sink.messages) == 1


def test_a_wrong_password_fails_once_with_the_reply_and_never_the_password(tls: SinkTls) -> None:
    wrong = SENTINEL + "-wrong"
    with smtp_sink(tls=tls, credentials=("renkei", SENTINEL)) as sink, pytest.raises(SmtpError) as caught:
        deliver(
            message(),
            server(sink.port, starttls=True, cafile=str(tls.cafile), username="renkei", password=wrong),
            policy=NO_WAIT,
            sleep=lambda _: None,
        )
    text = f"{caught.value!s} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
    assert "535" in str(caught.value) and f"{LOOPBACK}:{sink.port}" in str(caught.value)
    assert SENTINEL not in text and caught.value.attempts == 1
    assert SENTINEL not in repr(server(1, password=SENTINEL))


def test_transient_replies_are_retried_with_backoff_then_delivered_once() -> None:
    waits: list[float] = []
    with smtp_sink() as sink:
        sink.fail_next = 2
        deliver(message(), server(sink.port), policy=NO_WAIT, sleep=waits.append)
    assert len(waits) == 2 and len(sink.messages) == 1


def test_retries_are_bounded() -> None:
    waits: list[float] = []
    with smtp_sink() as sink, pytest.raises(SmtpError) as caught:
        sink.fail_next = 10
        deliver(message(), server(sink.port), policy=NO_WAIT, sleep=waits.append)
    assert caught.value.transient and caught.value.attempts == 3 and len(waits) == 2
    assert "451" in str(caught.value) and "after 3 attempts" in str(caught.value)
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)
    assert sink.messages == []


def test_nobody_listening_is_transient_and_names_host_and_port() -> None:
    port = free_port()
    with pytest.raises(SmtpError) as caught:
        deliver(message(), server(port), policy=NO_WAIT, sleep=lambda _: None)
    assert caught.value.transient and caught.value.attempts == 3
    assert f"{LOOPBACK}:{port}" in str(caught.value)


def test_from_settings_carries_every_option(tmp_path: Path) -> None:
    from schemas.spec import SmtpSettings

    settings = SmtpSettings(
        host="smtp.example.co.jp", port=465, starttls=False, ssl=True, timeout=5, cafile="ca.pem"
    )
    made = SmtpServer.from_settings(settings, "u", "p")
    assert (made.host, made.port, made.starttls, made.ssl, made.timeout, made.cafile) == (
        "smtp.example.co.jp",
        465,
        False,
        True,
        5.0,
        "ca.pem",
    )
    assert (made.username, made.password, made.address) == ("u", "p", "smtp.example.co.jp:465")
