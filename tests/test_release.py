"""The project's own release: the workflow builds sdist and wheel and publishes on tags with trusted
publishing (actionlint-clean, actions pinned, no stored token), and the LICENSE matches pyproject."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT, validators_prefix

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
RELEASE = YAML(typ="safe").load(WORKFLOW.read_text())
ACTIONLINT = validators_prefix() / "go" / "bin" / "actionlint"


@pytest.mark.skipif(not ACTIONLINT.exists(), reason="actionlint not installed (scripts/install-validators)")
def test_release_workflow_is_actionlint_clean() -> None:
    done = subprocess.run([str(ACTIONLINT), "-no-color", str(WORKFLOW)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_release_runs_on_tags_and_publishes_with_trusted_publishing() -> None:
    assert RELEASE["on"]["push"] == {"tags": ["v*"]}
    assert RELEASE["permissions"] == {}
    publish = RELEASE["jobs"]["publish"]
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    text = WORKFLOW.read_text()
    assert "password" not in text and "secrets." not in text
    uses = re.findall(r"uses: (\S+)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses), uses
    build = "\n".join(step.get("run", "") for step in RELEASE["jobs"]["build"]["steps"])
    assert "python -m build --sdist --wheel" in build


def test_license_file_matches_pyproject_and_ships_in_both_distributions(tmp_path: Path) -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    wheel = zipfile.ZipFile(next(tmp_path.glob("mlci-*.whl")))
    licences = [n for n in wheel.namelist() if n.endswith("/LICENSE") and ".dist-info/" in n]
    assert licences and wheel.read(licences[0]).decode() == text
    assert (
        "License-Expression: Apache-2.0"
        in wheel.read(next(n for n in wheel.namelist() if n.endswith("METADATA"))).decode()
    )


def test_sdist_carries_the_license() -> None:
    import tomllib

    sdist = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["sdist"]
    assert "LICENSE" in sdist["include"]
