"""Staging on an S3-compatible object store: a full sync of the demo world with ``storage.staging:
s3://bucket/renkei``, against moto's S3 server running as its own process on 127.0.0.1.

The endpoint and keys reach s3fs through the usual AWS_* environment (AWS_ENDPOINT_URL), as on a worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from flows.sync import sync_report
from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from schemas.staging import MANIFEST_FILE
from tests.flows.conftest import DEMO_SPEC
from tests.servers import ObjectStore, object_store


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    with object_store(tmp_path_factory.mktemp("s3")) as store:
        yield store


def test_a_full_sync_stages_its_cuts_in_the_bucket(
    prefect_harness: None, s3: ObjectStore, tmp_path: Path
) -> None:
    sizes = DemoSizes(customers=40, actions=200, cards=20)
    with DemoEnvironment(tmp_path / "env", sizes, ports=DemoPorts.free()) as env:
        doc = env.spec_document(DEMO_SPEC)
        doc["storage"] = {"staging": s3.url("renkei"), "state": f"sqlite:///{tmp_path / 'state.db'}"}
        spec = tmp_path / "spec.yaml"
        spec.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        report = sync_report(str(spec))
        again = sync_report(str(spec))

    assert report.balanced and not report.failures and report.cuts
    lines = {(line.target, line.stream): line.counts for line in report.lines}
    assert lines[("kintone-customers", "customers:snapshot")].loaded == 40
    assert lines[("kintone-customers", "actions:email")].received > 0
    assert again.balanced and not again.failures
    assert sum(line.counts.loaded for line in again.lines) == 0  # nothing staged twice, nothing sent twice
    assert not (tmp_path / "env" / "staging").exists() and not Path("s3:").exists()

    client = boto3.client("s3", endpoint_url=s3.endpoint)
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix="renkei/")
    keys = sorted(item["Key"] for item in listed.get("Contents", []))

    def read(key: str) -> bytes:
        data: bytes = client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
        return data

    for cut in report.cuts:
        folder = f"renkei/demo/{cut}"
        assert f"{folder}/{MANIFEST_FILE}" in keys
        manifest = json.loads(read(f"{folder}/{MANIFEST_FILE}"))
        assert manifest["cut"] == cut and manifest["files"]
        for name, stats in manifest["files"].items():
            assert f"{folder}/{name}" in keys
            data = read(f"{folder}/{name}")
            assert len(data) == stats["bytes"]
            assert pq.read_metadata(pa.BufferReader(data)).num_rows == stats["rows"]
    assert not [k for k in keys if ".tmp-" in k]  # every file renamed into place, none left half-written
