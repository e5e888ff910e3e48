"""The git facts a run records: commit and whether the work tree is dirty."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def current_commit(cwd: Path) -> str | None:
    # CI systems know the commit even where the checkout has no .git.
    for variable in ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"):
        if os.environ.get(variable):
            return os.environ[variable]
    return _git(["rev-parse", "HEAD"], cwd)


def is_dirty(cwd: Path) -> bool | None:
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return None if status is None else bool(status)


def repository_prefix(cwd: Path) -> str:
    """`cwd` relative to the repository root ("" at the root or outside a repository)."""
    return _git(["rev-parse", "--show-prefix"], cwd) or ""
