"""The stand-in's HTTPS identity: a private CA (trustme) and a server certificate, stable per data dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

IDENTITIES = ("127.0.0.1", "localhost", "login.salesforce.com", "test.salesforce.com")


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def uvicorn_kwargs(self) -> dict[str, str]:
        return {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}


def ensure_tls(data_dir: Path) -> TlsFiles:
    """Reuse `<data>/salesforce-*.pem` when present, so clients that trust the CA keep trusting it."""
    files = TlsFiles(
        data_dir / "salesforce-ca.pem", data_dir / "salesforce-cert.pem", data_dir / "salesforce-key.pem"
    )
    if all(p.exists() for p in (files.ca, files.cert, files.key)):
        return files
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="renkei sandbox")
    server = ca.issue_cert(*IDENTITIES)
    ca.cert_pem.write_to_path(str(files.ca))
    server.private_key_pem.write_to_path(str(files.key))
    files.cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    files.key.chmod(0o600)
    return files
