"""Repository facts (input.mlci_facts): what the requirements file pins, which referenced
documents exist; the decision cache keys on them; a spec cannot forge them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mlci.policy.facts import unpinned_lines
from tests.conftest import ROOT

IRIS = ROOT / "examples" / "iris-classifier"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numpy==2.4.6\nscipy==1.17.1  # why\n", []),
        ("# only a comment\n\n   \n", []),
        ("numpy\n", [1]),
        ("numpy>=2\n", [1]),
        ("numpy==2.*\n", [1]),
        ("numpy~=2.4\n", [1]),
        ("pkg[extra]==1.0 ; python_version >= '3.11'\n", []),
        ("pkg==1.0 \\\n    --hash=sha256:abc\nother\n", [3]),
        ("pkg \\\n  >=1.0\n", [1]),
        ("-r base.txt\n--index-url https://example.com/simple\n", []),
        ("-e git+https://example.com/repo.git#egg=pkg\n", [1]),
        ("pkg @ https://example.com/pkg-1.0.tar.gz\n", [1]),
        ("pkg===1.0\n", []),
    ],
)
def test_unpinned_lines(text: str, expected: list[int]) -> None:
    assert unpinned_lines(text) == expected


def _project(tmp_path: Path, requirements: str) -> Path:
    folder = tmp_path / "iris"
    folder.mkdir()
    shutil.copy(IRIS / "mlproject.yaml", folder / "mlproject.yaml")
    (folder / "requirements.txt").write_text(requirements)
    return folder


def _findings(cli, folder: Path, *extra: str) -> tuple[int, list[tuple[str, int]]]:
    result = cli("check", str(folder), "--now", "2026-11-22", "-o", "json", *extra)
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    return result.exit_code, [(f["rule_id"], f["line"]) for f in json.loads(result.stdout)["findings"]]


def test_unpinned_requirements_fail_at_the_training_requirements_line(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "numpy==2.4.6\nscikit-learn\n")
    line = 1 + (folder / "mlproject.yaml").read_text().splitlines().index("  requirements: requirements.txt")
    assert _findings(cli, folder) == (1, [("MLCI-SUP-006", line)])


@pytest.mark.parametrize("engine", ["embedded", "opa"])
def test_the_cache_sees_a_requirements_file_change(cli, tmp_path: Path, engine: str) -> None:
    """The spec did not change, the facts did: a cached pass must not answer."""
    folder = _project(tmp_path, "numpy==2.4.6\n")
    assert _findings(cli, folder, "--engine", engine) == (0, [])
    (folder / "requirements.txt").write_text("numpy\n")
    code, found = _findings(cli, folder, "--engine", engine)
    assert code == 1 and [rule for rule, _ in found] == ["MLCI-SUP-006"]
    (folder / "requirements.txt").write_text("numpy==2.4.6\n")
    assert _findings(cli, folder, "--engine", engine) == (0, [])


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_a_linked_requirements_file_is_not_read_and_fails(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "")
    (folder / "requirements.txt").unlink()
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("numpy==2.4.6\n")
    (folder / "requirements.txt").symlink_to(outside)
    code, found = _findings(cli, folder)
    assert code == 1 and [rule for rule, _ in found] == ["MLCI-SUP-006"]


def test_a_spec_cannot_forge_the_facts(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "numpy\n")
    spec = folder / "mlproject.yaml"
    spec.write_text(spec.read_text() + "mlci_facts:\n  requirements: {unreadable: false, unpinned_lines: []}\n")
    result = cli("check", str(folder), "--now", "2026-11-22")
    assert result.exit_code == 2
    assert "mlci_facts" in result.stdout + result.stderr
