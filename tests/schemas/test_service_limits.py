"""The caps shared by every company on one service: kintone's 100 concurrent calls per domain."""

from __future__ import annotations

from pathlib import Path

from schemas.service_limits import ServiceLimit, service_caps, service_limit
from schemas.spec import Spec
from schemas.validate import load_spec

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"


def company(name: str, kintone_url: str, concurrency: int = 4) -> Spec:
    spec = load_spec(DEMO)
    targets = [
        t.model_copy(update={"url": kintone_url, "concurrency": concurrency}) if t.kind == "kintone" else t
        for t in spec.targets
    ]
    return spec.model_copy(update={"company": name, "targets": targets})


def test_a_kintone_target_holds_its_concurrent_calls_of_its_domain() -> None:
    spec = company("acme", "https://Acme.cybozu.com/", concurrency=6)
    kintone, salesforce, sansan = (service_limit(t) for t in spec.targets)
    assert kintone == ServiceLimit("kintone:acme.cybozu.com", 100, 6)
    assert salesforce is None and sansan is None  # no shared cap for them


def test_companies_on_one_domain_share_one_limit() -> None:
    specs = [
        company("acme", "https://shared.cybozu.com"),
        company("beta", "https://shared.cybozu.com/k/"),
        company("gamma", "https://gamma.cybozu.com"),
    ]
    assert service_caps(specs) == {"kintone:shared.cybozu.com": 100, "kintone:gamma.cybozu.com": 100}
