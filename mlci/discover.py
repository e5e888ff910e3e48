"""Find the specs named on the command line: files, or folders searched for
mlproject.yaml (one per project in a monorepo)."""

from __future__ import annotations

import os
from pathlib import Path

from mlci.errors import UserError

SPEC_NAME = "mlproject.yaml"
_SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", "build", "dist"}


def find_specs(paths: tuple[str, ...] | list[str]) -> list[Path]:
    """Spec files under `paths` (default: the current folder), sorted, without repeats."""
    found: dict[Path, None] = {}
    for raw in paths or (".",):
        path = Path(raw)
        if path.is_file():
            found[path] = None
        elif path.exists() and not path.is_dir():
            # A pipe or a device never ends: mlci does not read it.
            raise UserError(f"{raw}: is not a regular file")
        elif path.is_dir():
            specs = _walk(path)
            if not specs:
                raise UserError(f"{raw}: no {SPEC_NAME} found in this folder or below")
            found.update(dict.fromkeys(specs))
        else:
            raise UserError(f"{raw}: no such file or folder")
    return list(found)


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        # Only regular files (or links to one): a pipe named mlproject.yaml would block the read forever.
        if SPEC_NAME in files and (Path(folder) / SPEC_NAME).is_file():
            out.append(Path(folder) / SPEC_NAME)
    return sorted(out)


def display_path(path: Path) -> str:
    """The path as the user should see it: relative to the current folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()
