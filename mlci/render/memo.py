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
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.findings import Finding
from mlci.resources import data_dir
from mlci.signed_cache import SignedStore, finding_from_json, finding_to_json, sha256_text

FORMAT = "mlci-render-memo/2"
ENTRY_DIR = "render-v1"
KEEP_SECONDS = 14 * 86400  # an entry not used for two weeks is removed
MAX_ENTRY_BYTES = (1 << 20) + 200  # the payload and its signature line
_SHA256_HEX = frozenset("0123456789abcdef")
# What an entry stores of a finding (render's own findings have no `extra`).


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
    store: SignedStore

    @classmethod
    def from_environment(cls) -> RenderMemo | None:
        if os.environ.get("MLCI_RENDER_MEMO", "1") in ("0", "false", "no", "off"):
            return None
        return cls(SignedStore.in_cache(ENTRY_DIR, FORMAT, KEEP_SECONDS, MAX_ENTRY_BYTES))

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
                "sha256": sha256_text(text),
            },
            "cwd": [os.getcwd(), str(Path.cwd().resolve())],
            "layout": layout,
        }
        return sha256_text(json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str))

    # Entries ------------------------------------------------------------------------------

    def recall(self, key: str) -> Recalled | None:
        """The render stored under `key`, or None (absent, unreadable, altered, malformed)."""
        entry = self.store.load(key)
        if entry is None:
            return None
        try:
            return _recalled_from(entry["render"])
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def remember(self, key: str, recalled: Recalled) -> None:
        """Store one entry; a memo that cannot be written (or too big) is skipped, not an error."""
        self.store.store(key, {"render": _recalled_to(recalled)})

    def prune(self, now: float | None = None) -> None:
        self.store.prune(now)


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
    return sha256_text("\n".join(parts))


def _recalled_to(recalled: Recalled) -> dict[str, Any]:
    return {
        "project": recalled.project,
        "targets": list(recalled.targets),
        "plans": [{"spec_ref": plan.spec_ref, "digests": plan.digests} for plan in recalled.plans],
        "unenforced": [_stored(finding) for finding in recalled.unenforced],
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
    findings = tuple(finding_from_json(item) for item in raw["unenforced"])
    return Recalled(project, tuple(targets), tuple(recalled_plans), findings)


def _stored(finding: Finding) -> dict[str, Any]:
    stored = finding_to_json(finding)
    if stored is None:
        raise ValueError("a finding JSON cannot carry exactly")  # caught by the caller: nothing stored
    return stored
