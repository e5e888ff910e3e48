"""What DVC pins: the md5 of each output and dependency in dvc.lock (and in `<file>.dvc`).

dvc.lock looks like

    schema: '2.0'
    stages:
      prepare:
        deps:
        - path: data/raw.csv
          hash: md5
          md5: 22a1a2931c8370d3aeedd7183606fd7f
        outs:
        - path: data/prepared.csv
          md5: 153aad06d376b6595932470e459ef42a

Paths are relative to the folder of the lock file. A folder output has an md5
ending in `.dir`: DVC's tree hash, the md5 of the JSON list of its files' md5s
(`dir_md5` recomputes it).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.errors import InputError, Location, UserError

LOCK_NAME = "dvc.lock"


@dataclass(frozen=True)
class DvcPin:
    lock: Path  # the dvc.lock or .dvc file
    stage: str | None  # None for a .dvc file
    path: Path  # absolute, normalised
    md5: str
    legacy: bool = False  # written by DVC 2 (no `hash: md5`): a text file's md5 was taken with CRLF as LF

    def matches(self, md5: str | None, md5_dos2unix: str | None) -> bool:
        return md5 == self.md5 or (self.legacy and md5_dos2unix == self.md5)

    @property
    def is_folder(self) -> bool:
        return self.md5.endswith(".dir")


def lock_files(start: Path) -> list[Path]:
    """dvc.lock files in `start` and its parents up to the repository root (nearest first)."""
    found = []
    folder = start.resolve()
    while True:
        candidate = folder / LOCK_NAME
        if candidate.is_file():
            found.append(candidate)
        if (folder / ".git").exists() or (folder / ".dvc").is_dir() or folder.parent == folder:
            return found
        folder = folder.parent


def _load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    try:
        return YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = Location(str(path), mark.line + 1, mark.column + 1) if mark else Location(str(path))
        raise InputError(location, f"invalid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise InputError(Location(str(path)), f"invalid YAML: {exc}") from None


def _pins(entries: Any, base: Path, lock: Path, stage: str | None) -> list[DvcPin]:
    pins = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str) and isinstance(entry.get("md5"), str):
            legacy = entry.get("hash") != "md5"  # DVC 3 marks its own md5s so
            pins.append(DvcPin(lock, stage, Path(os.path.normpath(base / entry["path"])), entry["md5"], legacy))
    return pins


def read_lock(path: Path) -> list[DvcPin]:
    data = _load_yaml(path)
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("stages", {}), dict):
        raise InputError(Location(str(path)), "not a dvc.lock: expected a mapping with 'stages'")
    base = path.resolve().parent
    pins = []
    for stage, body in (data.get("stages") or {}).items():
        if isinstance(body, dict):
            # Outputs first: when a file is both, the stage that wrote it is the one to trust.
            pins += _pins(body.get("outs"), base, path, str(stage))
            pins += _pins(body.get("deps"), base, path, str(stage))
    return pins


def read_dvc_file(path: Path) -> list[DvcPin]:
    data = _load_yaml(path)
    if not isinstance(data, dict):
        raise InputError(Location(str(path)), "not a .dvc file: expected a mapping with 'outs'")
    return _pins(data.get("outs"), path.resolve().parent, path, None)


class DvcIndex:
    """The pins DVC holds for a project; each lock file is read once, when first needed."""

    def __init__(self, start: Path) -> None:
        self.locks = lock_files(start)
        self._read: dict[Path, list[DvcPin]] = {}

    def _pins_of(self, source: Path, reader: Any) -> list[DvcPin]:
        if source not in self._read:
            self._read[source] = reader(source)
        return self._read[source]

    def pin(self, data_path: Path) -> DvcPin | None:
        """The md5 DVC pins for `data_path`: from `<file>.dvc` next to it, else the nearest dvc.lock."""
        found = self.pins(data_path)
        return found[0] if found else None

    def pins(self, data_path: Path) -> list[DvcPin]:
        """Every entry that pins `data_path` (the `.dvc` file's first, then each lock's outs and
        deps): a stale lock can pin one file twice, with two md5s, and each must hold."""
        target = Path(os.path.normpath(data_path.resolve()))
        sidecar = target.with_name(target.name + ".dvc")
        sources: list[tuple[Path, Any]] = [(sidecar, read_dvc_file)] if sidecar.is_file() else []
        sources += [(lock, read_lock) for lock in self.locks]
        return [pin for source, reader in sources for pin in self._pins_of(source, reader) if pin.path == target]


def dir_md5(entries: list[tuple[str, str]]) -> str:
    """DVC's hash of a folder from (path relative to it, with '/', md5 of the file) pairs:
    the md5 of `json.dumps` of the entries sorted by path parts, plus `.dir`."""
    ordered = sorted(entries, key=lambda entry: tuple(entry[0].split("/")))
    listing = json.dumps([{"md5": md5, "relpath": path} for path, md5 in ordered], sort_keys=True)
    return hashlib.md5(listing.encode("utf-8"), usedforsecurity=False).hexdigest() + ".dir"
