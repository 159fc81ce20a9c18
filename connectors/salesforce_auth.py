"""Salesforce login: renkei asks the configured login URL for a token itself, over a retrying session.

simple-salesforce can only log in to *.salesforce.com hosts; we POST `{login_url}/services/oauth2/token`
(password, client_credentials or JWT bearer grant) and hand it the session id and instance URL.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from connectors.http import MASK, HttpPolicy
from schemas.errors import error_rule, retried_statuses

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SECRET_FORM_KEYS = ("client_secret", "password", "assertion")


class SalesforceAuthError(Exception):
    """The login URL refused our credentials: its error code and description, never a secret."""

    def __init__(self, login_url: str, code: str, description: str, status: int | None = None):
        self.code = code
        self.status = status
        self.description = description
        super().__init__(f"Salesforce login at {login_url} failed: {code}: {description}")


@dataclass(frozen=True)
class Token:
    access_token: str
    instance_url: str
    user_id: str | None = None  # the logged-in user: the last part of the identity URL (``id``)


class PolicySession(requests.Session):
    """A requests session with the shared policy's timeouts on every call."""

    def __init__(self, policy: HttpPolicy):
        super().__init__()
        self.timeout = (policy.connect_timeout, policy.read_timeout)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class PolicyRetry(Retry):
    """urllib3's retry asking the error policy (schemas/errors.py): a TLS stream cut mid-handshake is a
    network fault (retried), a refused certificate is not."""

    def _is_connection_error(self, err: Exception) -> bool:
        rule = error_rule(err)
        if rule is not None:
            return rule.retried
        return bool(super()._is_connection_error(err))


def build_session(policy: HttpPolicy, verify: bool | str) -> PolicySession:
    """Retries 429/5xx/connection errors on every method (all writes are upserts by external id)."""
    retry = PolicyRetry(
        total=policy.max_attempts - 1,
        other=0,  # a refused certificate (or any other non-network error) will not pass later
        allowed_methods=None,
        status_forcelist=sorted(retried_statuses()),
        backoff_factor=policy.backoff_base,
        backoff_max=policy.backoff_cap,
        backoff_jitter=policy.backoff_base,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = PolicySession(policy)
    session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment must not override us
    session.verify = verify
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def jwt_audience(login_url: str) -> str:
    """Salesforce wants login or test as the audience, also when logging in through My Domain."""
    sandbox_hosts = ("test.salesforce.com", ".sandbox.my.salesforce.com")
    is_sandbox = any(h in login_url for h in sandbox_hosts)
    return "https://test.salesforce.com" if is_sandbox else "https://login.salesforce.com"


def obtain_token(
    session: requests.Session,
    login_url: str,
    *,
    client_id: str,
    client_secret: str | None,
    username: str | None,
    password: str | None,
    private_key: str | None,
) -> Token:
    """JWT bearer when a private key is given, password grant with a user, else client_credentials."""
    url = login_url.rstrip("/") + "/services/oauth2/token"
    if private_key:
        claims = {
            "iss": client_id,
            "sub": username,
            "aud": jwt_audience(login_url),
            "exp": int(time.time()) + 180,
        }
        form = {"grant_type": JWT_GRANT, "assertion": jwt.encode(claims, private_key, algorithm="RS256")}
    elif username:
        form = {
            "grant_type": "password",
            "client_id": client_id,
            "client_secret": client_secret or "",
            "username": username,
            "password": password or "",
        }
    else:
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret or "",
        }
    response = session.post(url, data=form, headers={"Accept": "application/json"})
    try:
        body = response.json()
    except ValueError:
        body = {}
    if isinstance(body, list):  # a REST-shaped error ([{"errorCode", "message"}]) from a gateway or limit
        first = body[0] if body and isinstance(body[0], dict) else {}
        body = {"error": first.get("errorCode"), "error_description": first.get("message")}
    if response.status_code != 200 or "access_token" not in body:
        code = str(body.get("error") or f"HTTP {response.status_code}")
        description = str(body.get("error_description") or response.reason)
        for key in SECRET_FORM_KEYS:
            if len(form.get(key) or "") >= 4:  # a login URL that repeats what it was sent
                description = description.replace(form[key], MASK)
        raise SalesforceAuthError(login_url, code, description, response.status_code)
    return Token(body["access_token"], body["instance_url"], user_id(body.get("id")))


USER_ID = re.compile(r"005[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")


def user_id(identity_url: object) -> str | None:
    """The user's Id from a token answer's identity URL (``…/id/<org id>/<user id>``), when it is one."""
    last = str(identity_url or "").rstrip("/").rsplit("/", 1)[-1]
    return last if USER_ID.fullmatch(last) else None
