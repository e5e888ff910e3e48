"""A cache of policy decisions: an unchanged project is not evaluated again the same day.

One entry per spec holds the findings the pack gave it, before waivers (they are applied
afresh on every run). Its key hashes everything the decision depends on: the pack's
modules (built-in and --policies), the policy data (settings, --data) and today's date,
the spec's text and displayed path, its repository facts (facts.py), the engine, the mlci
version and mlci's own code.
Only decisions the engine reached are stored; an engine error is never cached, and the
OPA server engine is never cached at all (its policies live on the server).

Entries live under MLCI_CACHE_DIR, else $XDG_CACHE_HOME/mlci, else ~/.cache/mlci; the
rendered jobs may persist that folder with the CI's cache. Every entry carries a digest of
its own content and its key, so a truncated, corrupt or renamed entry is a miss, never a
pass. Trust: an unkeyed digest cannot stop someone who can write the cache storage from
forging an entry; the cache is exactly as trusted as the CI cache that holds it. Keep
pull-request caches apart from the default branch's (GitHub and GitLab scope caches by
ref/protection by default), or set MLCI_CACHE_SECRET to a secret that pull requests do
not see: entries are then HMAC-signed and unsigned or foreign entries are misses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import stat
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.findings import Finding, Severity, Status
from mlci.loader import Spec
from mlci.policy.engines import PolicyEngine
from mlci.policy.evaluate import evaluate_specs
from mlci.policy.pack import PolicyPack

FORMAT = "mlci-decision-cache/1"
ENTRY_DIR = "decisions-v1"
CACHEABLE_ENGINES = ("embedded", "opa")
KEEP_SECONDS = 3 * 86400  # keys include the date: older entries can only be hit with --now
MAX_ENTRY_BYTES = 4 << 20
# What an entry stores of a finding; policy findings have no `extra`. A field Finding gains
# later makes every stored entry a miss until _finding_to writes it.
_FIELDS = sorted(f.name for f in dataclasses.fields(Finding) if f.name != "extra")


def cache_root() -> Path:
    explicit = os.environ.get("MLCI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says relative paths are invalid and must be ignored.
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "mlci"


@dataclass
class DecisionCache:
    directory: Path
    secret: bytes | None = None

    @classmethod
    def from_environment(cls) -> DecisionCache:
        secret = os.environ.get("MLCI_CACHE_SECRET")
        return cls(cache_root() / ENTRY_DIR, secret.encode() if secret else None)

    # Keys ---------------------------------------------------------------------------------

    @staticmethod
    def run_key(pack: PolicyPack, data: dict[str, Any], engine: PolicyEngine) -> str:
        """The part of every key this run shares: pack, data (with today), engine, mlci."""
        facts = {
            "format": FORMAT,
            "mlci": __version__,
            "code": _code_fingerprint(),
            "engine": engine.name,
            "executable": str(getattr(engine, "executable", "") or ""),
            "modules": sorted(pack.modules.items()),
            "data": data,
        }
        return _sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str))

    @staticmethod
    def spec_key(run_key: str, spec: Spec) -> str:
        from mlci.policy.facts import spec_facts

        # The repository facts too: a deleted model card changes the decision, not the spec.
        facts = json.dumps(spec_facts(spec), sort_keys=True)
        # NUL-separated: neither a path, a hex digest nor JSON contains one.
        return _sha256(f"{run_key}\0{spec.display_path}\0{spec.text}\0{facts}")

    # Entries ------------------------------------------------------------------------------

    def load(self, key: str) -> list[Finding] | None:
        """The findings stored under `key`, or None for a miss (absent, unreadable, altered)."""
        try:
            fd = os.open(self.directory / f"{key}.json", os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ENTRY_BYTES:
                return None
            with os.fdopen(fd, "rb") as handle:
                fd = -1
                raw = handle.read(MAX_ENTRY_BYTES + 1)
        except OSError:
            return None
        finally:
            if fd >= 0:
                os.close(fd)
        signature, _, payload = raw.partition(b"\n")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            entry = json.loads(payload)
            if entry.get("format") != FORMAT or entry.get("key") != key:
                return None
            return [_finding_from(item) for item in entry["findings"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def store(self, key: str, findings: Sequence[Finding]) -> None:
        """Write one entry atomically; a cache that cannot be written is skipped, not an error."""
        payload = json.dumps(
            {"format": FORMAT, "key": key, "findings": [_finding_to(f) for f in findings]},
            sort_keys=True,
            ensure_ascii=False,
        ).encode()
        if not self._usable_directory():
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


def evaluate_with_cache(
    engine: PolicyEngine, pack: PolicyPack, specs: Sequence[Spec], today: str, cache: DecisionCache | None
) -> list[Finding]:
    """`evaluate_specs`, answering unchanged specs from the cache and evaluating only the rest
    (in one engine call). Findings come back spec by spec, in the order of `specs`."""
    if cache is None or engine.name not in CACHEABLE_ENGINES:
        return evaluate_specs(engine, pack, specs, today)
    shared = cache.run_key(pack, pack.data(today), engine)
    keys = [cache.spec_key(shared, spec) for spec in specs]
    known = [cache.load(key) for key in keys]
    # One evaluation per key: the same file named twice (a symlinked folder) is one decision.
    unique = {key: spec for spec, key, hit in zip(specs, keys, known, strict=True) if hit is None}
    misses = list(unique.values())
    fresh: dict[str, list[Finding]] = {spec.display_path: [] for spec in misses}
    if misses:
        for finding in evaluate_specs(engine, pack, misses, today):  # raises on an engine error: nothing stored
            fresh.setdefault(finding.file, []).append(finding)
        for key, spec in unique.items():
            cache.store(key, fresh[spec.display_path])
        cache.prune()
    out: list[Finding] = []
    for spec, hit in zip(specs, known, strict=True):
        out.extend(fresh[spec.display_path] if hit is None else hit)
    return out


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _code_fingerprint() -> str:
    """Size and mtime of mlci's own modules: an edited checkout (editable install) never
    reuses decisions made by other code under the same version number."""
    package = Path(__file__).resolve().parent.parent
    parts = []
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        parts.append(f"{path.relative_to(package).as_posix()}:{info.st_size}:{info.st_mtime_ns}")
    return _sha256("\n".join(parts))


def _finding_to(finding: Finding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "severity": int(finding.severity),
        "message": finding.message,
        "file": finding.file,
        "line": finding.line,
        "column": finding.column,
        "path": list(finding.path),
        "remediation": finding.remediation,
        "status": finding.status.value,
        "title": finding.title,
        "controls": list(finding.controls),
        "source": finding.source,
    }


def _finding_from(raw: Any) -> Finding:
    """A stored finding, checked field by field: anything unexpected raises (a miss)."""
    if not isinstance(raw, dict) or sorted(raw) != _FIELDS:
        raise ValueError("not a finding")
    strings = ("rule_id", "message", "file", "remediation", "title", "source")
    if not all(isinstance(raw[name], str) for name in strings):
        raise ValueError("not a finding")
    if not all(type(raw[name]) is int for name in ("severity", "line", "column")):
        raise ValueError("not a finding")
    path, controls = raw["path"], raw["controls"]
    if not isinstance(path, list) or not all(type(p) is int or isinstance(p, str) for p in path):
        raise ValueError("not a finding")
    if not isinstance(controls, list) or not all(isinstance(c, str) for c in controls):
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
        status=Status(raw["status"]),
        title=raw["title"],
        controls=tuple(controls),
        source=raw["source"],
    )
