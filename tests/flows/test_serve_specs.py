"""Which specs `renkei serve`, `renkei deploy` take: files as given, a folder's *.yaml; each company once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from deployments.cli import app
from deployments.serve import SpecsError, company_specs, spec_files

DEMO = Path(__file__).parents[2] / "examples" / "demo.yaml"


def write(folder: Path, name: str, company: str) -> Path:
    doc = yaml.safe_load(DEMO.read_text(encoding="utf-8")) | {"company": company}
    path = folder / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_a_folder_gives_its_specs_and_files_are_taken_as_given(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    beta, acme = write(folder, "beta.yml", "beta"), write(folder, "acme.yaml", "acme")
    (folder / "notes.txt").write_text("not a spec", encoding="utf-8")
    other = shutil.copy(DEMO, tmp_path / "demo.yaml")
    assert spec_files([folder, other]) == [acme, beta, Path(other)]
    assert [spec.company for spec in company_specs([folder, other]).values()] == ["acme", "beta", "demo"]


def test_one_company_twice_is_refused_naming_both_files(tmp_path: Path) -> None:
    first, second = write(tmp_path, "a.yaml", "acme"), write(tmp_path, "b.yaml", "acme")
    with pytest.raises(SpecsError, match="acme") as refused:
        company_specs([tmp_path])
    assert str(first) in str(refused.value) and str(second) in str(refused.value)


@pytest.mark.parametrize("command", ["serve", "deploy"])
def test_a_folder_without_specs_exits_2(tmp_path: Path, command: str) -> None:
    result = CliRunner().invoke(app, [command, str(tmp_path)])
    assert result.exit_code == 2 and "no spec" in result.output
