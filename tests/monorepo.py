"""A three-project monorepo for the tests: copies of the examples in three folders of one git
repository (the third a second copy of iris under another project name)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

PROJECTS = {
    "projects/iris": ("iris-classifier", ROOT / "examples" / "iris-classifier"),
    "projects/credit": ("credit-risk", ROOT / "examples" / "credit-risk"),
    "projects/iris-b": ("iris-b", ROOT / "examples" / "iris-classifier"),
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", *args], cwd=repo, check=True)


def build_monorepo(repo: Path) -> Path:
    """The repository, with the projects' sources and no rendered file yet."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# monorepo\n")
    for folder, (name, example) in PROJECTS.items():
        target = repo / folder
        shutil.copytree(example, target, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
        spec = target / "mlproject.yaml"
        text = spec.read_text()
        original = f"  name: {example.name}\n"
        assert original in text
        spec.write_text(text.replace(original, f"  name: {name}\n", 1))
    return repo
