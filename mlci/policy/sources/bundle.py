"""An OPA bundle archive (`opa build`'s .tar.gz) as a policy source, read in memory.

Nothing is extracted to disk. The archive is untrusted: members are read through one
bounded stream (a gzip or tar bomb stops at MAX_UNPACKED_BYTES, however it is built),
and a member that is not a plain file or folder (link, device, FIFO, sparse file), a
name with `..`, an empty or absolute part, a duplicate name, or a file mlci cannot
interpret (data.yaml, a wasm or plan bundle, a delta patch) is refused, exit 2.

OPA writes member names with a leading "/" (`/data.json`); that one slash is the
bundle's root, not the file system's, and is dropped.

Before anything is used, the bundle is verified (sources/__init__.py decides with what):
its `.signatures.json` with the user's key (signing.py), and/or the archive's sha256
against the pin the user wrote (`bundle.tar.gz#sha256=<hex>`).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import UserError
from mlci.policy.sources.signing import UntrustedBundle, VerificationKey, verify_signatures

MAX_ARCHIVE_BYTES = 16 << 20
MAX_UNPACKED_BYTES = 32 << 20  # everything the tar stream holds, headers included
MAX_MEMBERS = 2000
MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
DATA_FILE = "data.json"
# Files OPA bundles can hold that mlci cannot interpret: refused, never skipped.
_UNINTERPRETED = {
    "data.yaml": "write the data as data.json",
    "data.yml": "write the data as data.json",
    "policy.wasm": "a wasm bundle holds no Rego; build it with `opa build --target rego`",
    "plan.json": "a plan bundle holds no Rego; build it with `opa build --target rego`",
    "patch.json": "a delta bundle patches another; give mlci the whole bundle",
}


@dataclass(frozen=True)
class BundleContent:
    """The verified files of a bundle: Rego modules, data documents, and the manifest."""

    archive: str  # as named to the user
    sha256: str
    rego: dict[str, str] = field(default_factory=dict)  # path in the bundle -> source
    data: dict[str, bytes] = field(default_factory=dict)  # path of a data.json -> its bytes
    roots: tuple[str, ...] = ("",)
    revision: str = ""


def read_bundle(path: Path, shown: str, pin: str | None, key: VerificationKey | None) -> BundleContent:
    """The bundle at `path`, verified. Raises UserError / UntrustedBundle (exit 2)."""
    raw = _read_archive(path, shown)
    digest = hashlib.sha256(raw).hexdigest()
    files = _members(raw, shown)
    signatures = files.pop(SIGNATURES, None)
    if pin is not None and not hmac.compare_digest(pin, digest):
        raise UntrustedBundle(shown, f"its sha256 is {digest}, not the pinned {pin} (the archive changed)")
    if key is not None:
        if signatures is None:
            raise UntrustedBundle(shown, f"it is not signed (no {SIGNATURES}), and --policy-key requires a signature")
        verify_signatures(shown, signatures, files, key)
    elif pin is None:
        raise UserError(
            f"{shown}: an unverified policy bundle: give the key it is signed with (--policy-key FILE), or pin "
            f"the archive you reviewed by its sha256: '{shown}#sha256=<hex>' (this file's sha256 is {digest})"
        )
    return _content(shown, digest, files)


def _read_archive(path: Path, shown: str) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_ARCHIVE_BYTES + 1)
    except OSError as exc:
        raise UserError(f"{shown}: cannot read the policy bundle: {exc.strerror or exc}") from None
    if len(raw) > MAX_ARCHIVE_BYTES:
        raise UserError(f"{shown}: a policy bundle is at most {MAX_ARCHIVE_BYTES >> 20} MiB")
    return raw


class _Bounded(io.RawIOBase):
    """The decompressed stream, refusing to yield more than `limit` bytes."""

    def __init__(self, stream: Any, limit: int, shown: str) -> None:
        self.stream, self.left, self.shown = stream, limit, shown

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        chunk = self.stream.read(min(len(view), self.left + 1))
        if len(chunk) > self.left:
            raise UserError(f"{self.shown}: the policy bundle unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
        self.left -= len(chunk)
        view[: len(chunk)] = chunk
        return len(chunk)


def _members(raw: bytes, shown: str) -> dict[str, bytes]:
    """Every file of the archive, by normalised name, read in memory."""
    stream = io.BufferedReader(_Bounded(gzip.GzipFile(fileobj=io.BytesIO(raw)), MAX_UNPACKED_BYTES, shown))
    files: dict[str, bytes] = {}
    count = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                count += 1
                if count > MAX_MEMBERS:
                    raise UserError(f"{shown}: a policy bundle holds at most {MAX_MEMBERS} entries")
                if member.isdir() and member.name.strip("/") in ("", "."):
                    continue  # the archive's own top (`tar -C dir -czf b.tar.gz .`)
                name = _member_name(shown, member.name)
                if member.isdir():
                    continue
                if not member.isfile() or member.issparse():
                    raise UserError(f"{shown}: {member.name!r} is a {_kind(member)}; a policy bundle holds plain files")
                if name in files:
                    raise UserError(f"{shown}: {name} appears twice in the archive")
                extracted = archive.extractfile(member)
                files[name] = extracted.read() if extracted else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{shown}: not a readable .tar.gz policy bundle: {exc}") from None
    return files


def _member_name(shown: str, name: str) -> str:
    relative = name.removeprefix("/")  # the bundle's root, as OPA writes it
    while relative.startswith("./"):
        relative = relative[2:]
    parts = relative.rstrip("/").split("/")
    bad = "\\" in relative or "\0" in relative or any(p in ("", ".", "..") for p in parts)
    if bad or relative.encode("utf-8", "surrogateescape") != relative.encode("utf-8", "replace"):
        raise UserError(f"{shown}: member name {name!r} would leave the bundle or is not a plain relative path")
    return "/".join(parts)


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym() or member.islnk():
        return "link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "FIFO"
    return "special entry"


def _content(shown: str, digest: str, files: dict[str, bytes]) -> BundleContent:
    roots, revision = _manifest(shown, files.pop(MANIFEST, None))
    rego: dict[str, str] = {}
    data: dict[str, bytes] = {}
    for name, content in sorted(files.items()):
        base = name.rsplit("/", 1)[-1]
        if base.endswith(".rego"):
            try:
                rego[name] = content.decode("utf-8")
            except UnicodeDecodeError:
                raise UserError(f"{shown}/{name}: not valid UTF-8") from None
        elif base == DATA_FILE:
            data[name] = content
        elif base in _UNINTERPRETED:
            raise UserError(f"{shown}/{name}: mlci cannot interpret this file: {_UNINTERPRETED[base]}")
        else:
            problem = "not a Rego module, data.json or .manifest; mlci refuses what it does not read"
            raise UserError(f"{shown}/{name}: {problem}")
    return BundleContent(shown, digest, rego, data, roots, revision)


def _manifest(shown: str, content: bytes | None) -> tuple[tuple[str, ...], str]:
    if content is None:
        return ("",), ""
    try:
        value = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{shown}/{MANIFEST}: not valid JSON") from None
    if not isinstance(value, dict):
        raise UserError(f"{shown}/{MANIFEST}: must be a JSON object")
    if value.get("wasm"):
        raise UserError(f"{shown}/{MANIFEST}: a wasm bundle holds no Rego; build it with `opa build --target rego`")
    per_file = value.get("file_rego_versions")
    versions = [value.get("rego_version", 1), *(per_file.values() if isinstance(per_file, dict) else [])]
    if any(version != 1 for version in versions):
        raise UserError(f"{shown}/{MANIFEST}: declares Rego v0 modules; mlci reads Rego v1 (run `opa fmt --v1`)")
    roots = value.get("roots", [""])
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise UserError(f"{shown}/{MANIFEST}: roots must be a list of strings")
    revision = value.get("revision", "")
    return tuple(r.strip("/") for r in roots), revision if isinstance(revision, str) else str(revision)


def outside_roots(path: str, value: Any, roots: tuple[str, ...]) -> str | None:
    """The first data path under `path` (slash-separated, "" for the whole document) that no root of
    the manifest owns, or None. OPA refuses such a bundle at activation; so does mlci."""
    parts = [p for p in path.split("/") if p]
    prefixes = [[p for p in root.split("/") if p] for root in roots]
    if any(parts[: len(prefix)] == prefix for prefix in prefixes):
        return None
    if isinstance(value, dict) and any(prefix[: len(parts)] == parts for prefix in prefixes):
        for key, child in value.items():
            found = outside_roots(f"{path}/{key}", child, roots)
            if found is not None:
                return found
        return None
    return path or "/"
