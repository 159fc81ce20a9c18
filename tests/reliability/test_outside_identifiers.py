"""Identifiers from outside never name a path: cut ids from the MA are checked against their grammar
and staging refuses any path that resolves outside its root.

Before the fix a cut id such as ``../../../escaped`` in the MA's cut listing made `renkei extract`
write Parquet files and a manifest outside the staging root, and ``../othercompany/…`` overwrote
another company's cut in a shared root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.staging import StagingArea
from flows.extract import extract
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.reliability.hostile_ma import CUT_11, HostileMa, hostile_ma


@pytest.fixture()
def ma(tmp_path: Path) -> Iterator[HostileMa]:
    with hostile_ma(tmp_path / "ma") as running:
        yield running


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("listed", ["../../../escaped", "../othercompany/20261128T1100+0900", "..", "a/b"])
def test_a_cut_id_that_is_a_path_stages_nothing(
    prefect_harness: None, ma: HostileMa, tmp_path: Path, listed: str
) -> None:
    work = tmp_path / "work" / "deep" / "er"
    work.mkdir(parents=True)
    other = tmp_path / "work" / "deep" / "er" / "staging" / "othercompany" / CUT_11
    other.mkdir(parents=True)
    (other / "manifest.json").write_text('{"company": "othercompany"}', encoding="utf-8")
    ma.renamed[listed] = CUT_11
    spec_path = ma.spec(work)
    before = files_under(tmp_path / "work")
    with pytest.raises(ValueError, match="not a cut id") as raised:
        extract(str(spec_path))
    assert repr(listed) in str(raised.value)
    written = files_under(tmp_path / "work") - before
    assert {Path(name).parent for name in written} == {Path("deep/er")}, written  # the state DB only
    assert {Path(name).name for name in written} <= {
        "state.db",
        "state.db-wal",
        "state.db-shm",
        "state.db.migrate-lock",
    }
    assert (other / "manifest.json").read_text(encoding="utf-8") == '{"company": "othercompany"}'
    assert state_store(load_spec(spec_path)).watermark("staging", "cuts") is None


@pytest.mark.parametrize(
    "relative", ["../outside.json", "acme/../../outside.json", "/tmp/outside.json", "acme//x"]
)
def test_staging_refuses_a_path_outside_its_root(tmp_path: Path, relative: str) -> None:
    staging = StagingArea(str(tmp_path / "root"))
    with pytest.raises(ValueError, match="outside the staging root"):
        staging.write_json(relative, {"x": 1})
    assert files_under(tmp_path) == set()


def test_staging_refuses_a_link_that_leads_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (tmp_path / "elsewhere").mkdir()
    root.mkdir()
    (root / "acme").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="outside the staging root"):
        StagingArea(str(root)).write_json("acme/manifest.json", {"x": 1})
    assert list((tmp_path / "elsewhere").iterdir()) == []
