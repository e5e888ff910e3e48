"""Signed JSON entries under the user cache folder: what the decision cache
(mlci/policy/cache.py) and the render memo (mlci/render/memo.py) store.

The folder is MLCI_CACHE_DIR, else $XDG_CACHE_HOME/mlci, else ~/.cache/mlci; the rendered
policy-check jobs keep it with the CI's cache. Every entry carries a digest of its content
and its key (an HMAC when MLCI_CACHE_SECRET is set), checked on every read, so a truncated,
corrupt, renamed or (with the secret) forged entry is a miss, never an answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.findings import Finding, Severity, Status

_FINDING_FIELDS = sorted(f.name for f in dataclasses.fields(Finding))


def cache_root() -> Path:
    explicit = os.environ.get("MLCI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says relative paths are invalid and must be ignored.
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "mlci"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class SignedStore:
    """One folder of entries of one format: `load` believes only an intact entry for its key."""

    directory: Path
    format: str
    keep_seconds: int
    max_bytes: int
    secret: bytes | None = None

    @classmethod
    def in_cache(cls, folder: str, format: str, keep_seconds: int, max_bytes: int) -> SignedStore:
        secret = os.environ.get("MLCI_CACHE_SECRET")
        return cls(cache_root() / folder, format, keep_seconds, max_bytes, secret.encode() if secret else None)

    def load(self, key: str) -> dict[str, Any] | None:
        """The entry stored under `key`, or None for a miss (absent, unreadable, altered)."""
        try:
            fd = os.open(self.directory / f"{key}.json", os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_bytes:
                return None
            with os.fdopen(fd, "rb") as handle:
                fd = -1
                raw = handle.read(self.max_bytes + 1)
        except OSError:
            return None
        finally:
            if fd >= 0:
                os.close(fd)
        signature, _, payload = raw.partition(b"\n")
        if not _same(signature, self._sign(payload)):
            return None
        try:
            entry = json.loads(payload)
        except ValueError:
            return None
        if not isinstance(entry, dict) or entry.get("format") != self.format or entry.get("key") != key:
            return None
        return entry

    def store(self, key: str, content: dict[str, Any]) -> None:
        """Write one entry atomically; a cache that cannot be written is skipped, not an error."""
        entry = {**content, "format": self.format, "key": key}
        payload = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
        signed = self._sign(payload) + b"\n" + payload
        if len(signed) > self.max_bytes or not self._usable_directory():
            return
        import tempfile

        try:
            # mkstemp creates a new file (O_EXCL); os.replace renames over the name itself,
            # so neither follows a symlink planted at the entry's path.
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(signed)
            os.replace(temporary, self.directory / f"{key}.json")
        except OSError:
            Path(temporary).unlink(missing_ok=True)

    def prune(self, now: float | None = None) -> None:
        """Remove entries (and stray temporary files) older than keep_seconds."""
        cutoff = (now or time.time()) - self.keep_seconds
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
            import hmac

            return b"hmac-sha256:" + hmac.new(self.secret, payload, hashlib.sha256).hexdigest().encode()
        return b"sha256:" + hashlib.sha256(payload).hexdigest().encode()


def _same(a: bytes, b: bytes) -> bool:
    """hmac.compare_digest (a constant-time comparison), without importing hmac on every run."""
    from _operator import _compare_digest  # what hmac.compare_digest falls back to, always built in

    return _compare_digest(a, b)


def finding_to_json(finding: Finding) -> dict[str, Any] | None:
    """The finding as JSON, or None when its `extra` would not come back identical."""
    extra = dict(finding.extra)
    try:
        if json.loads(json.dumps(extra)) != extra:
            return None
    except (TypeError, ValueError):
        return None
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
        "extra": extra,
    }


def finding_from_json(raw: Any) -> Finding:
    """A stored finding, checked field by field: anything unexpected raises (a miss)."""
    if not isinstance(raw, dict) or sorted(raw) != _FINDING_FIELDS:
        raise ValueError("not a finding")
    strings = ("rule_id", "message", "file", "remediation", "title", "source")
    if not all(isinstance(raw[name], str) for name in strings):
        raise ValueError("not a finding")
    if not all(type(raw[name]) is int for name in ("severity", "line", "column")):
        raise ValueError("not a finding")
    path, controls, extra = raw["path"], raw["controls"], raw["extra"]
    if not isinstance(path, list) or not all(type(p) is int or isinstance(p, str) for p in path):
        raise ValueError("not a finding")
    if not isinstance(controls, list) or not all(isinstance(c, str) for c in controls):
        raise ValueError("not a finding")
    if not isinstance(extra, dict):
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
        extra=extra,
    )
