"""The failure email (エラー通知): one message per run that needs a human, never twice, never a secret.

``send_run_notice`` is a plain function so Prefect state hooks (crashed, timed out) can call it as
well as the flow; ``notify_run`` is the same step as a task for the flow's graph.
"""

from __future__ import annotations

import logging
import threading
from zoneinfo import ZoneInfo

from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.smtp import SmtpError, SmtpServer, deliver
from connectors.state import StateStore
from connectors.state.outbox import Entry, Outbox
from schemas import clock
from schemas.notice import build_notice, build_test_notice
from schemas.report import RunReport, Undelivered
from schemas.spec import BLOCK_PREFIX, Spec
from tasks.clients import resolve_secret, state_store
from tasks.pause import pause_point
from tasks.redact import masked_failures, redact, register_secret
from tasks.rejected_rows import row_context

log = logging.getLogger("renkei.notify")
_ONE_AT_A_TIME = threading.Lock()  # the flow and a state hook may both ask for the same run's email


def send_run_notice(spec: Spec, report: RunReport, state: StateStore | None = None) -> bool:
    """Mail the run's report to every notify.error_email when it needs attention; True when sent now.

    Reports of earlier runs that were never delivered go first, and this report says so. A report is
    kept in the outbox before it is sent and marked sent only once the server accepted it; its rows
    count as reported from then on. False when nothing needs attention or this run's report went out
    already. Raises SmtpError when the server cannot take it (after the connector's retries): the
    report stays pending for the next run or ``renkei notify --resend``.
    """
    recipients = spec.notify.error_email
    store = state or state_store(spec)
    with _ONE_AT_A_TIME:
        outbox = Outbox(store)
        earlier = [e for e in outbox.pending() if e.run_id != report.run_id]
        if earlier and recipients:
            report.undelivered = _resend(spec, outbox, earlier)
        own = outbox.entry(report.run_id)
        if own is not None and own.status == "sent":
            log.info("run %s: the failure email was sent already", report.run_id)
            return False
        if own is None:
            unreported = outbox.unreported()
            report.new_rejections = len(unreported)
            if not report.needs_attention:
                return False
            if not recipients:
                log.warning(
                    "run %s needs attention but notify.error_email is empty: no email sent", report.run_id
                )
                return False
            message = build_notice(
                report,
                unreported,
                sender=spec.notify.sender,
                recipients=recipients,
                redact=redact,
                language=spec.notify.language,
                context=row_context(spec, store, unreported),
            )
            own = outbox.record(report.run_id, message, [row.id for row in unreported])
        _deliver(spec, outbox, own)
    log.info("run %s: failure email sent to %d address(es)", report.run_id, len(recipients))
    return True


def resend_pending(spec: Spec) -> tuple[int, list[Undelivered]]:
    """``renkei notify --resend``: every report not delivered yet, oldest first; (sent, still pending)."""
    outbox = Outbox(state_store(spec))
    with _ONE_AT_A_TIME:
        pending = outbox.pending()
        tried = _resend(spec, outbox, pending)
    still = [u for u in tried if not u.resent]
    return len(tried) - len(still), still


def _resend(spec: Spec, outbox: Outbox, entries: list[Entry]) -> list[Undelivered]:
    """Send stored reports again as they were built; each says whether it went out this time."""
    tried = []
    for entry in entries:
        error = entry.last_error or "not confirmed sent (the run stopped while sending)"
        try:
            _deliver(spec, outbox, entry)
            resent = True
        except SmtpError as exc:
            error, resent = redact(str(exc)), False
        at = entry.created_at.astimezone(ZoneInfo(spec.timezone)).isoformat(timespec="seconds")
        tried.append(Undelivered(entry.run_id, at, error, resent))
    return tried


def _deliver(spec: Spec, outbox: Outbox, entry: Entry) -> None:
    """One attempt (with the connector's retries) at an outbox entry; the outcome is recorded.

    A report sent again says so in its subject (再送 / resent): its body is the one first built."""
    server = smtp_server(spec)
    message = entry.message
    if entry.attempts:
        subject = str(message["Subject"])
        del message["Subject"]
        message["Subject"] = f"[再送 / resent] {subject}"
    pause_point("send-email")
    try:
        refused = deliver(message, server)
    except SmtpError as exc:
        outbox.not_delivered(entry, redact(str(exc)))
        raise
    if refused:
        log.warning("run %s: the SMTP server refused %s", entry.run_id, redact(str(refused)))
    outbox.delivered(entry)


@task(name="notify", cache_policy=NO_CACHE)
@masked_failures
def notify_run(spec: Spec, report: RunReport) -> bool:
    """The failure email as a step of the flow (at most once per run, see send_run_notice)."""
    return send_run_notice(spec, report)


def send_test_notice(spec: Spec) -> None:
    """``renkei notify --test``: a short message to every notify.error_email; raises when any is refused."""
    server = smtp_server(spec)
    message = build_test_notice(
        spec.company,
        sender=spec.notify.sender,
        recipients=spec.notify.error_email,
        sent_at=clock.now().isoformat(timespec="seconds"),
    )
    refused = deliver(message, server)
    if refused:
        raise SmtpError(server.address, redact(f"recipients refused: {refused}"), False, 1)


def smtp_server(spec: Spec) -> SmtpServer:
    """The spec's SMTP settings, credentials resolved; from now on every secret of the spec is masked."""
    _register_spec_secrets(spec)
    smtp = spec.notify.smtp
    username = smtp.username
    if username is not None and username.startswith(BLOCK_PREFIX):
        username = resolve_secret(username)  # a plain user name stays readable: masking it would mangle text
    return SmtpServer.from_settings(smtp, username, resolve_secret(smtp.password))


def _register_spec_secrets(spec: Spec) -> None:
    """Secrets written in the spec (env already applied) may echo in a target's message: mask them all.

    Secret blocks are resolved (and registered) where they are used; loading them here would make
    the email depend on the Prefect API, which a crash hook cannot count on.
    """
    for secret in spec.secrets():
        value = secret.get_secret_value()
        if not value.startswith(BLOCK_PREFIX):
            register_secret(value)
