"""A cache of `mlci check` decisions: an unchanged project is not loaded or evaluated again.

One entry per spec holds its findings as `mlci check` reports them: the pack's findings
with waivers applied. Its key hashes everything they depend on, read as raw bytes, so that
a hit needs no YAML parser, schema validator or policy engine (nothing heavy is imported):

- the run: the Rego files and settings.json of the built-in pack and of every --policies
  folder, the --data files, the --waivers files, today's date, the engine (and the opa
  binary's path, size and mtime), the mlci version and mlci's own files (code, schema);
- the spec: its displayed path and its bytes.

The repository facts a decision reads (facts.py: a requirements file, the documents the
spec names) lie outside the key: every read they make goes through SafeTree, which records
it (safe_fs.recording_reads), and an entry keeps those reads with what each saw. A hit
replays them: a file that changed, appeared or vanished since makes the entry a miss.

Only decisions the engine reached on valid specs are stored; an engine error is never
cached, and the OPA server engine is never cached at all (its policies live on the server).

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

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.findings import Finding
from mlci.safe_fs import ReadRecord, read_outcome
from mlci.signed_cache import SignedStore, finding_from_json, finding_to_json, sha256_text

FORMAT = "mlci-decision-cache/2"
ENTRY_DIR = "decisions-v2"  # one entry per spec
RUN_DIR = "runs-v2"  # one entry per run key: the rules' metadata, so a full hit never loads the pack
CACHEABLE_ENGINES = ("embedded", "opa")
KEEP_SECONDS = 3 * 86400  # keys include the date: older entries can only be hit with --now
MAX_ENTRY_BYTES = 4 << 20
_HERE = "."  # a read rooted at the spec's own folder, wherever the checkout lies


def _store(folder: str) -> SignedStore:
    return SignedStore.in_cache(folder, FORMAT, KEEP_SECONDS, MAX_ENTRY_BYTES)


@dataclass(frozen=True)
class RunInputs:
    """What every decision of one `mlci check` depends on besides the spec and its facts."""

    policy_dirs: tuple[str | Path, ...]  # --policies: folders, bundles (with their pin), git URLs
    data_files: tuple[Path, ...]
    waiver_files: tuple[Path, ...]
    today: str
    engine: str
    executable: str = ""  # the opa binary, for --engine opa
    policy_key: Path | None = None  # --policy-key: which signatures a bundle must carry


class RunCache:
    """One check's view of the cache: per-spec decisions and the run's rule metadata."""

    def __init__(self, decisions: SignedStore, runs: SignedStore, run_key: str) -> None:
        self.decisions = decisions
        self.runs = runs
        self.run_key = run_key

    @classmethod
    def open(cls, inputs: RunInputs) -> RunCache | None:
        """The cache for this run; None when the engine is not cached or an input cannot be
        read (the full check then reports that input's problem)."""
        if inputs.engine not in CACHEABLE_ENGINES:
            return None
        key = run_key(inputs)
        if key is None:
            return None
        return cls(_store(ENTRY_DIR), _store(RUN_DIR), key)

    def spec_key(self, display_path: str, content: bytes) -> str:
        """The key of a spec: the run's, its displayed path (findings name it) and its bytes."""
        shown = display_path.encode("utf-8", "surrogateescape")
        # NUL-separated: neither a hex digest nor a path contains one.
        return hashlib.sha256(self.run_key.encode() + b"\0" + shown + b"\0" + content).hexdigest()

    def findings(self, key: str, folder: Path) -> list[Finding] | None:
        """The stored findings of a spec in `folder`, if its entry is intact and every file
        read for its facts still reads the same; else None (a miss)."""
        entry = self.decisions.load(key)
        if entry is None:
            return None
        try:
            for read in entry["reads"]:
                if not _replayable(read):
                    return None
                root = folder if read["root"] == _HERE else Path(read["root"])
                if read_outcome(root, read["op"], read["rel"], read["limit"]) != read["outcome"]:
                    return None
            return [finding_from_json(item) for item in entry["findings"]]
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def remember(self, key: str, folder: Path, findings: Sequence[Finding], reads: Sequence[ReadRecord]) -> None:
        stored = [finding_to_json(finding) for finding in findings]
        if any(item is None for item in stored):
            return  # a finding JSON cannot carry exactly: evaluate it again next time
        self.decisions.store(key, {"findings": stored, "reads": [_read_to(read, folder) for read in reads]})

    def rules(self) -> dict[str, dict[str, object]] | None:
        entry = self.runs.load(self.run_key)
        rules = entry.get("rules") if entry is not None else None
        return rules if isinstance(rules, dict) and all(isinstance(v, dict) for v in rules.values()) else None

    def remember_rules(self, rules: dict[str, dict[str, object]]) -> None:
        if self.rules() != rules:
            self.runs.store(self.run_key, {"rules": rules})

    def prune(self) -> None:
        self.decisions.prune()
        self.runs.prune()


def run_key(inputs: RunInputs) -> str | None:
    """The hash of everything a run's decisions depend on, from raw bytes (no parsing);
    None when one of the files cannot be read."""
    from mlci.resources import data_dir

    digest = hashlib.sha256()

    def add(part: str | bytes) -> None:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: no two inputs run together

    for text in (FORMAT, __version__, _code_fingerprint(), inputs.today, inputs.engine, _binary(inputs.executable)):
        add(text)
    try:
        # The folders and files load_pack reads, the same way.
        for directory, label in [(data_dir("policies"), "mlci"), *((Path(d), str(d)) for d in inputs.policy_dirs)]:
            add(label)  # a bundle's pin and a git URL's commit are part of the label
            if "://" in label:
                continue  # git: the URL pins the commit, and a commit is its content
            if directory.is_dir():
                for path in sorted(directory.rglob("*.rego")):
                    add(path.relative_to(directory).as_posix())
                    add(path.read_bytes())
                settings = directory / "settings.json"
                add(settings.read_bytes() if settings.is_file() else b"\0absent")
            else:  # a bundle archive: its bytes (the pin or the signature is checked on them)
                add(Path(label.partition("#")[0]).read_bytes())
        add(inputs.policy_key.read_bytes() if inputs.policy_key is not None else b"\0no key")
        for kind, files in (("data", inputs.data_files), ("waivers", inputs.waiver_files)):
            add(kind)
            for path in files:
                add(str(path))
                add(path.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


def _binary(executable: str) -> str:
    if not executable:
        return ""
    try:
        info = os.stat(executable)
    except OSError:
        return executable
    return f"{executable}:{info.st_size}:{info.st_mtime_ns}"


def _code_fingerprint() -> str:
    """Size and mtime of mlci's own files (modules, schema, packaged data): an edited checkout
    (editable install) never reuses decisions made by other code under the same version number."""
    from mlci.resources import data_dir

    parts = []
    for base in (Path(__file__).resolve().parent.parent, data_dir("schemas")):
        for folder, dirs, files in os.walk(base):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                path = os.path.join(folder, name)
                info = os.stat(path)
                parts.append(f"{os.path.relpath(path, base)}:{info.st_size}:{info.st_mtime_ns}")
    return sha256_text("\n".join(parts))


def _replayable(read: Any) -> bool:
    """A stored read mlci itself could have made: no unbounded read of some big file."""
    from mlci.safe_fs import MAX_READ_BYTES

    if not isinstance(read, dict) or read.get("op") not in ("bytes", "list"):
        return False
    limit = read.get("limit")
    if type(limit) is not int or not 0 <= limit <= MAX_READ_BYTES:
        return False
    return all(isinstance(read.get(name), str) for name in ("root", "rel", "outcome"))


def _read_to(read: ReadRecord, folder: Path) -> dict[str, Any]:
    root = _HERE if read.root == folder else str(read.root.resolve())
    return {"root": root, "op": read.op, "rel": read.rel, "limit": read.limit, "outcome": read.outcome}
