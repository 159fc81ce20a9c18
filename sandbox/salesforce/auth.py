"""OAuth 2.0 token endpoint, sessions with a lifetime, and the daily API allocation."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.responses import JSONResponse

from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.store import USER_ID, Org
from schemas import clock

ORG_ID = make_id("00D", 1)
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_AUDIENCES = ["https://login.salesforce.com", "https://test.salesforce.com"]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    client_id: str
    client_secret: str


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def public_key_from_pem(pem: str) -> Any:
    """A connected app's certificate (or a bare public key) in PEM."""
    data = pem.encode()
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


@dataclass
class Gate:
    """Who may call: sessions issued by the token endpoint, and how many calls are left today."""

    org: Org
    credentials: Credentials
    daily_limit: int
    session_seconds: float = 7200.0
    sessions: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def issue(self, base_url: str) -> dict[str, Any]:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(40)}"
        with self._lock:
            self.sessions[token] = time.time() + self.session_seconds
        return {
            "access_token": token,
            "instance_url": base_url,
            "id": f"{base_url}/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
        }

    def check(self, authorization: str | None) -> None:
        token = (authorization or "").removeprefix("Bearer ").removeprefix("OAuth ").strip()
        expires = self.sessions.get(token)
        if expires is None or expires < time.time():
            raise SalesforceError("INVALID_SESSION_ID", "Session expired or invalid", 401)

    def expire_all(self) -> int:
        with self._lock:
            count = len(self.sessions)
            self.sessions.clear()
        return count

    def usage(self) -> tuple[int, int]:
        day = clock.now().date().isoformat()
        if self.org.setting("usage_day") != day:
            return 0, self.daily_limit
        return int(self.org.setting("usage") or 0), self.daily_limit

    def set_usage(self, used: int) -> None:
        self.org.set_setting("usage_day", clock.now().date().isoformat())
        self.org.set_setting("usage", str(used))

    def spend(self) -> None:
        """Count one API request, or refuse it once today's allocation is used up."""
        with self._lock:
            used, limit = self.usage()
            if used >= limit:
                raise SalesforceError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", 403)
            self.set_usage(used + 1)

    def limit_info(self) -> str:
        used, limit = self.usage()
        return f"api-usage={used}/{limit}"

    def token(self, body: bytes, authorization: str | None, base_url: str) -> JSONResponse:
        """`POST /services/oauth2/token`: password, client_credentials and JWT bearer grants."""
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        grant = form.get("grant_type", "")
        creds = self.credentials
        if grant == JWT_GRANT:
            return self._jwt(form.get("assertion", ""), base_url)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode("utf-8", "replace")
            client_id, _, client_secret = decoded.partition(":")
        if grant not in ("password", "client_credentials"):
            return oauth_error("unsupported_grant_type", "grant type not supported")
        if client_id != creds.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if client_secret != creds.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        if grant == "password" and (
            form.get("username") != creds.username or form.get("password") != creds.password
        ):
            return oauth_error("invalid_grant", "authentication failure")
        return JSONResponse(self.issue(base_url))

    def _jwt(self, assertion: str, base_url: str) -> JSONResponse:
        pem = self.org.setting("jwt_certificate")
        if not pem:
            return oauth_error("invalid_client", "no certificate is configured for this connected app")
        try:
            claims = jwt.decode(
                assertion,
                public_key_from_pem(pem),
                algorithms=["RS256"],
                audience=[*JWT_AUDIENCES, base_url],
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            return oauth_error("invalid_grant", "expired authorization code")
        except jwt.PyJWTError as exc:
            return oauth_error("invalid_grant", f"invalid assertion: {exc}")
        if claims["iss"] != self.credentials.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if claims["sub"] != self.credentials.username:
            return oauth_error("invalid_grant", "user hasn't approved this consumer")
        return JSONResponse(self.issue(base_url))
