"""`--changed-since REF`: the projects a change touched, from git.

A project is touched when anything below its folder changed: the spec, or a file it
references (the requirements file, the model card: a spec names files in its own folder).
A change to what every project is checked against (the policy folders, the policy data,
the waivers files, the settings file) touches them all. "Changed" is what
`git diff --name-only --no-renames REF` lists (REF against the working tree, staged or
not, both sides of a rename) and the untracked files git does not ignore.

REF is anything git names a commit by (`main`, `origin/main`, `HEAD~3`, a hash). An
unknown REF, or a folder outside a git work tree, is the user's error (exit 2).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from mlci.errors import UserError


def changed_files(ref: str, cwd: Path | None = None) -> set[Path]:
    """Absolute, resolved paths of the files changed since `ref`, and the untracked ones."""
    if not ref or ref.startswith("-"):
        # A REF such as `--output=x` would be read by git as an option.
        raise UserError(f"--changed-since {ref!r}: not a git revision")
    folder = cwd or Path.cwd()
    top = _git(folder, ["rev-parse", "--show-toplevel"], f"--changed-since: {folder} is not inside a git repository")
    root = Path(top.strip("\n")).resolve()
    _git(
        folder,
        ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        f"--changed-since {ref!r}: git knows no commit by that name (try a branch, a tag or a commit hash)",
    )
    listed = _git(
        folder, ["diff", "--name-only", "--no-renames", "-z", ref, "--"], f"--changed-since {ref!r}: git diff failed"
    )
    untracked = _git(folder, ["ls-files", "--others", "--exclude-standard", "-z", "--full-name", "--", str(root)], "")
    names = [name for name in (listed + untracked).split("\0") if name]
    return {root / name for name in names}


def touched_projects(spec_files: Sequence[Path], changed: set[Path], shared_inputs: Iterable[Path]) -> list[Path]:
    """The specs among `spec_files` whose folder holds a changed file; all of them when a
    shared input (a policy folder, a data, waivers or settings file) changed."""
    shared = [Path(os.path.realpath(path)) for path in shared_inputs]
    if any(_below(path, base) for path in changed for base in shared):
        return list(spec_files)
    touched = []
    for spec in spec_files:
        folder = Path(os.path.realpath(spec)).parent
        if any(_below(path, folder) for path in changed):
            touched.append(spec)
    return touched


def _below(path: Path, base: Path) -> bool:
    return path == base or path.is_relative_to(base)


def _git(cwd: Path, args: list[str], problem: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8", errors="surrogateescape"
        )
    except OSError as exc:
        raise UserError(f"--changed-since needs git: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        detail = proc.stderr.strip().splitlines()
        raise UserError(problem + (f" ({detail[-1]})" if detail and problem.endswith("failed") else ""))
    return proc.stdout
