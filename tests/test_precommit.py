"""The pre-commit hooks (.pre-commit-hooks.yaml), run by pre-commit itself on a sample repository:
pre-commit clones this checkout, installs mlci into its own environment and runs both hooks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT, copy_spec

PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists(), reason="pre-commit is not installed (pip install -e '.[test]')"
)


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _hooks_repository(tmp_path: Path) -> tuple[Path, str]:
    """This checkout as it is now (uncommitted edits included), committed in a repository of its own."""
    source = tmp_path / "mlci-src"
    listed = _git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for rel in filter(None, listed):
        if (ROOT / rel).is_file() and not rel.startswith(("tests/", "benchmarks/")):
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, source / rel)
    _git(source, "init", "-q")
    _git(source, "add", "-A")
    _git(source, "commit", "-q", "-m", "snapshot")
    return source, _git(source, "rev-parse", "HEAD")


def _pre_commit(sample: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "VIRTUAL_ENV")}
    env |= {"PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--all-files", "--color", "never"],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_hooks_file_lists_check_and_render_check() -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entries = {hook["id"]: hook["entry"] for hook in hooks}
    assert entries == {"mlci-check": "mlci check", "mlci-render-check": "mlci render --check"}


def test_pre_commit_runs_the_hooks_on_a_sample_repository(tmp_path: Path) -> None:
    source, rev = _hooks_repository(tmp_path)
    sample = tmp_path / "sample"
    copy_spec(ROOT / "examples" / "iris-classifier" / "mlproject.yaml", sample / "model")
    (sample / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {source}\n    rev: {rev}\n    hooks:\n"
        "      - id: mlci-check\n        args: [--now, '2026-11-22']\n      - id: mlci-render-check\n"
    )
    _git(sample, "init", "-q")
    rendered = subprocess.run([sys.executable, "-m", "mlci", "render", "model"], cwd=sample, capture_output=True)
    assert rendered.returncode == 0, rendered.stderr
    _git(sample, "add", "-A")
    _git(sample, "commit", "-q", "-m", "spec and rendered files")
    home = tmp_path / "pre-commit-home"

    clean = _pre_commit(sample, home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "mlci check (schema and governance policies)" in clean.stdout and "Passed" in clean.stdout

    # A violating spec: a moving dataset version. The check fails, and the rendered files are stale.
    spec = sample / "model" / "mlproject.yaml"
    spec.write_text(spec.read_text().replace('version: "2026.11.1"', "version: latest", 1))
    assert "version: latest" in spec.read_text()
    _git(sample, "add", "-A")
    failing = _pre_commit(sample, home)
    assert failing.returncode == 1, failing.stdout
    assert "MLCI-LIN-001" in failing.stdout
    assert "out of date" in failing.stdout

    # The spec restored, but a generated file edited by hand: only render --check fails.
    _git(sample, "checkout", "HEAD", "--", "model/mlproject.yaml")
    dockerfile = sample / "model" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo edited\n")
    _git(sample, "add", "-A")
    edited = _pre_commit(sample, home)
    assert edited.returncode == 1
    assert "Dockerfile: edited by hand" in edited.stdout
    assert "MLCI-LIN-001" not in edited.stdout
