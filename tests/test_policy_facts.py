"""Repository facts (input.mlci_facts): what the requirements file pins, which referenced
documents exist; the decision cache keys on them; a spec cannot forge them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlci.policy.facts import document_path, unpinned_lines
from tests.conftest import ROOT, copy_spec

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
    copy_spec(IRIS / "mlproject.yaml", folder)
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


# ---------------------------------------------------------------------------
# Documents (MLCI-EVI-001).

CREDIT = ROOT / "examples" / "credit-risk"


@pytest.mark.parametrize(
    ("reference", "is_path"),
    [
        ("docs/dpia.pdf", True),
        ("dpia.md", True),
        ("docs/dpia", True),
        ("DPIA-2026-031", False),
        ("DPIA 2026.031", False),
        ("https://wiki.acme-ml.eu/dpia.pdf", False),
        ("confluence:RISK/DPIA-42", False),
        ("  ", False),
    ],
)
def test_which_references_are_files_of_the_project(reference: str, is_path: bool) -> None:
    assert document_path(reference) is is_path


def _line_of(folder: Path, text: str) -> int:
    return 1 + next(i for i, line in enumerate((folder / "mlproject.yaml").read_text().splitlines()) if text in line)


def test_a_missing_model_card_fails_at_its_reference(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "numpy==2.4.6\n")
    (folder / "docs" / "model_card.md").unlink()
    assert _findings(cli, folder) == (1, [("MLCI-EVI-001", _line_of(folder, "model_card:"))])


@pytest.mark.parametrize("kind", ["empty", "folder", "link"])
def test_an_empty_file_a_folder_or_a_link_is_no_document(cli, tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "credit"
    copy_spec(CREDIT / "mlproject.yaml", folder)
    (folder / "requirements.txt").write_text("numpy==2.4.6\n")
    erasure = folder / "docs" / "erasure.md"
    erasure.unlink()
    if kind == "empty":
        erasure.write_text("\n  \n")
    elif kind == "folder":
        erasure.mkdir()
    else:
        outside = tmp_path / "elsewhere.md"
        outside.write_text("# Erasure\n")
        erasure.symlink_to(outside)
    assert _findings(cli, folder) == (1, [("MLCI-EVI-001", _line_of(folder, "erasure_procedure:"))])


def test_a_dpia_path_is_checked_and_a_register_id_is_not(cli, tmp_path: Path) -> None:
    folder = tmp_path / "credit"
    spec = copy_spec(CREDIT / "mlproject.yaml", folder)
    (folder / "requirements.txt").write_text("numpy==2.4.6\n")
    assert "dpia: DPIA-2026-031" in spec.read_text()
    assert _findings(cli, folder) == (0, [])
    spec.write_text(spec.read_text().replace("dpia: DPIA-2026-031", "dpia: docs/dpia.pdf"))
    assert _findings(cli, folder) == (1, [("MLCI-EVI-001", _line_of(folder, "dpia:"))])
    (folder / "docs" / "dpia.pdf").write_bytes(b"%PDF-1.7 the assessment")
    assert _findings(cli, folder) == (0, [])


@pytest.mark.parametrize("engine", ["embedded", "opa"])
def test_the_cache_sees_a_document_go_and_come_back(cli, tmp_path: Path, engine: str) -> None:
    folder = _project(tmp_path, "numpy==2.4.6\n")
    card = folder / "docs" / "model_card.md"
    text = card.read_text()
    assert _findings(cli, folder, "--engine", engine) == (0, [])
    card.unlink()
    code, found = _findings(cli, folder, "--engine", engine)
    assert code == 1 and [rule for rule, _ in found] == ["MLCI-EVI-001"]
    card.write_text(text)
    assert _findings(cli, folder, "--engine", engine) == (0, [])


# ---------------------------------------------------------------------------
# mlci init's placeholders (MLCI-EVI-002).


def test_init_output_is_not_production_bound_until_its_placeholders_are_replaced(cli, tmp_path: Path) -> None:
    folder = tmp_path / "fraud"
    assert cli("init", str(folder)).exit_code == 0
    spec = folder / "mlproject.yaml"
    assert _findings(cli, folder) == (0, [])
    # Uncomment the production environment as a user would, placeholders and all.
    lines = spec.read_text().splitlines()
    start = lines.index("  # - name: production")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("  #"))
    lines[start:end] = ["  " + line[len("  # ") :] for line in lines[start:end]]
    spec.write_text("\n".join(lines) + "\n")
    code, found = _findings(cli, folder)
    assert code == 1 and found and {rule for rule, _ in found} == {"MLCI-EVI-002"}
    approvers = _line_of(folder, "approvers: [approver-one, approver-two]")
    registry = _line_of(folder, "registry: https://mlflow.example.com")
    assert {approvers, registry} <= {line for _, line in found}
