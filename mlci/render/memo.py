"""The render memo: what `mlci render` produced for a spec, so `render --check` of an
unchanged tree needs no parse, validation or template.

Why not trust the markers: every generated file carries an inputs hash and a body hash, but
a pull request can edit both. Someone who changes a workflow's body and recomputes the body
hash (and copies the inputs hash) has forged a marker no cheap test tells from a real one,
and `render --check` must call that file stale, as a full render does. So the check never
trusts what the repository says about itself: it trusts only what mlci computed, here.

One entry per spec and layout holds the sha256 of every file the render produced (the
bodies are not needed: the check compares hashes), the project's name and targets, and the
warnings the render printed (what the spec asks that a CI cannot enforce). Its key hashes
everything the render of that spec depends on: the spec's bytes, its path as found, resolved
and displayed, the current folder, the command line's layout (--out, --root, the paths,
--target), mlci's version, its code, templates and schema, and the versions of Jinja2,
ruamel.yaml and Python. Same key, same render: the check then decides on the recalled hashes
with the very code the full check runs (mlci/render/writer.py), so its verdict and messages
do not change. A spec whose key is not in the memo is loaded, validated and rendered as before.

`mlci render` and `render --check` store the entries; they live beside the decision cache
(MLCI_CACHE_DIR, else $XDG_CACHE_HOME/mlci, else ~/.cache/mlci) and carry the same
safeguards: a digest of their content (HMAC with MLCI_CACHE_SECRET), checked on every read,
so a truncated or altered entry is a miss. The memo is as trusted as the storage that holds
it: keep pull-request caches apart from the default branch's, or set MLCI_CACHE_SECRET.
MLCI_RENDER_MEMO=0 turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import platform
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.findings import Finding, Severity, Status
from mlci.resources import data_dir

FORMAT = "mlci-render-memo/1"
ENTRY_DIR = "render-v1"
KEEP_SECONDS = 14 * 86400  # an entry not used for two weeks is removed
MAX_ENTRY_BYTES = 1 << 20
_SHA256_HEX = frozenset("0123456789abcdef")
# What an entry stores of a finding (render's own findings have no `extra`).
_FINDING_FIELDS = ("rule_id", "severity", "message", "file", "line", "column", "path", "remediation", "title", "source")


def cache_root() -> Path:
    """The user cache folder; the same rule as the decision cache (mlci/policy/cache.py)."""
    explicit = os.environ.get("MLCI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "mlci"


@dataclass(frozen=True)
class RecalledPlan:
    spec_ref: str
    digests: dict[str, str]  # relative path -> sha256 of the file's content


@dataclass(frozen=True)
class Recalled:
    """What the render of one spec produced, as the memo remembers it."""

    project: str
    targets: tuple[str, ...]
    plans: tuple[RecalledPlan, ...]  # one per output folder, in the order the render made them
    unenforced: tuple[Finding, ...]


@dataclass
class RenderMemo:
    directory: Path
    secret: bytes | None = None

    @classmethod
    def from_environment(cls) -> RenderMemo | None:
        if os.environ.get("MLCI_RENDER_MEMO", "1") in ("0", "false", "no", "off"):
            return None
        secret = os.environ.get("MLCI_CACHE_SECRET")
        return cls(cache_root() / ENTRY_DIR, secret.encode() if secret else None)

    # Keys ---------------------------------------------------------------------------------

    @staticmethod
    def key(spec_path: Path, display: str, text: str, layout: dict[str, Any]) -> str:
        """The key of one spec's render: everything that render reads or depends on; `text`
        is the spec as the loader decodes it."""
        facts = {
            "format": FORMAT,
            "mlci": __version__,
            "code": _code_fingerprint(),
            "spec": {
                "as_found": str(spec_path),
                "absolute": os.path.normpath(spec_path.absolute()),
                "resolved": str(spec_path.resolve()),
                "folder_resolved": str(spec_path.parent.resolve()),
                "shown": display,
                "sha256": _sha256(text),
            },
            "cwd": [os.getcwd(), str(Path.cwd().resolve())],
            "layout": layout,
        }
        return _sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str))

    # Entries ------------------------------------------------------------------------------

    def recall(self, key: str) -> Recalled | None:
        """The render stored under `key`, or None (absent, unreadable, altered, malformed)."""
        raw = self._read(self.directory / f"{key}.json")
        if raw is None:
            return None
        signature, _, payload = raw.partition(b"\n")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            entry = json.loads(payload)
            if entry.get("format") != FORMAT or entry.get("key") != key:
                return None
            return _recalled_from(entry["render"])
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def remember(self, key: str, recalled: Recalled) -> None:
        """Store one entry atomically; a memo that cannot be written is skipped, not an error."""
        payload = json.dumps(
            {"format": FORMAT, "key": key, "render": _recalled_to(recalled)}, sort_keys=True, ensure_ascii=False
        ).encode("utf-8", "surrogatepass")
        if len(payload) > MAX_ENTRY_BYTES or not self._usable_directory():
            return
        try:
            # mkstemp creates a new file (O_EXCL); os.replace renames over the name itself,
            # so neither follows a symlink planted at the entry's path.
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._sign(payload) + b"\n" + payload)
            os.replace(temporary, self.directory / f"{key}.json")
        except OSError:
            Path(temporary).unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> None:
        """Remove entries (and stray temporary files) older than KEEP_SECONDS."""
        cutoff = (now or time.time()) - KEEP_SECONDS
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    old = entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff
                    if old and entry.name.endswith(".json"):
                        Path(entry.path).unlink(missing_ok=True)
        except OSError:
            pass

    def _read(self, path: Path) -> bytes | None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES + 200:
                return None
            with os.fdopen(fd, "rb") as handle:
                fd = -1
                return handle.read(MAX_ENTRY_BYTES + 201)
        except OSError:
            return None
        finally:
            if fd >= 0:
                os.close(fd)

    def _usable_directory(self) -> bool:
        """The entry folder exists, or was made, and is a real folder of ours, not a symlink."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(self.directory)
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())

    def _sign(self, payload: bytes) -> bytes:
        if self.secret is not None:
            return b"hmac-sha256:" + hmac.new(self.secret, payload, hashlib.sha256).hexdigest().encode()
        return b"sha256:" + hashlib.sha256(payload).hexdigest().encode()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@functools.cache
def _code_fingerprint() -> str:
    """Size and mtime of mlci's modules, templates and schemas, and the versions of the
    libraries that shape a render: an edited checkout (editable install) or an upgraded
    Jinja2 never reuses what other code rendered under the same version number."""
    from importlib import metadata

    package = Path(__file__).resolve().parent.parent
    parts = [f"python {platform.python_implementation()} {platform.python_version()}"]
    for library in ("jinja2", "ruamel.yaml", "jsonschema", "markupsafe"):
        try:
            parts.append(f"{library} {metadata.version(library)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{library} missing")
    for folder in (package, data_dir("templates"), data_dir("schemas")):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = path.stat()
                parts.append(f"{path.as_posix()}:{info.st_size}:{info.st_mtime_ns}")
    return _sha256("\n".join(parts))


def _recalled_to(recalled: Recalled) -> dict[str, Any]:
    return {
        "project": recalled.project,
        "targets": list(recalled.targets),
        "plans": [{"spec_ref": plan.spec_ref, "digests": plan.digests} for plan in recalled.plans],
        "unenforced": [_finding_to(finding) for finding in recalled.unenforced],
    }


def _recalled_from(raw: Any) -> Recalled:
    """A stored render, checked field by field: anything unexpected raises (a miss)."""
    if not isinstance(raw, dict) or sorted(raw) != ["plans", "project", "targets", "unenforced"]:
        raise ValueError("not a render")
    project, targets, plans = raw["project"], raw["targets"], raw["plans"]
    if not isinstance(project, str) or not isinstance(targets, list) or not isinstance(plans, list):
        raise ValueError("not a render")
    if not all(isinstance(target, str) for target in targets) or not isinstance(raw["unenforced"], list):
        raise ValueError("not a render")
    recalled_plans = []
    for plan in plans:
        if not isinstance(plan, dict) or not isinstance(plan.get("spec_ref"), str):
            raise ValueError("not a plan")
        digests = plan.get("digests")
        if not isinstance(digests, dict) or not all(
            isinstance(digest, str) and len(digest) == 64 and set(digest) <= _SHA256_HEX for digest in digests.values()
        ):
            raise ValueError("not a plan")
        recalled_plans.append(RecalledPlan(plan["spec_ref"], dict(digests)))
    findings = tuple(_finding_from(item) for item in raw["unenforced"])
    return Recalled(project, tuple(targets), tuple(recalled_plans), findings)


def _finding_to(finding: Finding) -> dict[str, Any]:
    if finding.extra or finding.status is not Status.FAILED or finding.controls:
        raise ValueError("the memo stores only render's own findings")  # caught by the caller: nothing stored
    return {
        "rule_id": finding.rule_id,
        "severity": int(finding.severity),
        "message": finding.message,
        "file": finding.file,
        "line": finding.line,
        "column": finding.column,
        "path": list(finding.path),
        "remediation": finding.remediation,
        "title": finding.title,
        "source": finding.source,
    }


def _finding_from(raw: Any) -> Finding:
    if not isinstance(raw, dict) or sorted(raw) != sorted(_FINDING_FIELDS):
        raise ValueError("not a finding")
    strings = ("rule_id", "message", "file", "remediation", "title", "source")
    if not all(isinstance(raw[name], str) for name in strings):
        raise ValueError("not a finding")
    if not all(type(raw[name]) is int for name in ("severity", "line", "column")):
        raise ValueError("not a finding")
    path = raw["path"]
    if not isinstance(path, list) or not all(type(p) is int or isinstance(p, str) for p in path):
        raise ValueError("not a finding")
    return Finding(
        rule_id=raw["rule_id"],
        severity=Severity(raw["severity"]),
        message=raw["message"],
        file=raw["file"],
        line=raw["line"],
        column=raw["column"],
        path=tuple(path),
        remediation=raw["remediation"],
        title=raw["title"],
        source=raw["source"],
    )
