"""The failure email (エラー通知): one message per run that needs a human, never twice, never a secret.

``send_run_notice`` is a plain function so Prefect state hooks (crashed, timed out) can call it as
well as the flow; ``notify_run`` is the same step as a task for the flow's graph.
"""

from __future__ import annotations

import logging
import threading

from prefect import task
from prefect.cache_policies import NO_CACHE

from connectors.smtp import SmtpError, SmtpServer, deliver
from connectors.state import StateStore
from schemas import clock
from schemas.notice import build_notice, build_test_notice
from schemas.report import RunReport
from schemas.spec import BLOCK_PREFIX, SECRET_KEYS, Spec
from tasks.clients import resolve_secret, state_store
from tasks.redact import masked_failures, redact, register_secret

log = logging.getLogger("renkei.notify")
_ONE_AT_A_TIME = threading.Lock()  # the flow and a state hook may both ask for the same run's email


def send_run_notice(spec: Spec, report: RunReport, state: StateStore | None = None) -> bool:
    """Mail the run's report to every notify.error_email when it needs attention; True when sent now.

    False when nothing needs attention or this run's email went out already. Raises SmtpError
    when the server cannot take it (after the connector's retries); nothing is recorded then.
    """
    if not report.needs_attention:
        return False
    recipients = spec.notify.error_email
    if not recipients:
        log.warning("run %s needs attention but notify.error_email is empty: no email sent", report.run_id)
        return False
    store = state or state_store(spec)
    with _ONE_AT_A_TIME:
        if store.notice_sent(report.run_id):
            log.info("run %s: the failure email was sent already", report.run_id)
            return False
        server = smtp_server(spec)
        rejected = [row for row in store.quarantined() if row.run_id == report.run_id]
        message = build_notice(
            report, rejected, sender=spec.notify.sender, recipients=recipients, redact=redact
        )
        refused = deliver(message, server)
        if refused:
            log.warning("run %s: the SMTP server refused %s", report.run_id, redact(str(refused)))
        store.mark_notice_sent(report.run_id, len(recipients) - len(refused))
    log.info("run %s: failure email sent to %d address(es)", report.run_id, len(recipients) - len(refused))
    return True


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
    values = [spec.ma.token, *(v for t in spec.targets for k, v in t.auth.items() if k in SECRET_KEYS)]
    for value in values:
        if not value.startswith(BLOCK_PREFIX):
            register_secret(value)
