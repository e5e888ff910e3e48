"""Where an organisation's policies come from (`--policies`, or `policies:` in .mlci.yaml):

- a folder of Rego (`policies/`), with an optional settings.json at its top;
- an OPA bundle archive (`bundle.tar.gz`, as `opa build` writes it), verified before use:
  signed and checked with `--policy-key FILE`, or pinned by the archive's sha256
  (`bundle.tar.gz#sha256=<hex>`); see bundle.py and signing.py;
- a git repository pinned to a full commit
  (`git+https://host/org/repo.git@<commit>#subdirectory=policies`); see git.py.

Every source becomes the same thing, a PolicySource: Rego modules named `<label>/<path>`
(the label says where the user finds the file) and data files. pack.py then treats all
of them alike: every module goes through the same interpretation and refusal checks, and
the pack (whose modules and data the decision cache keys on) holds the sources' content,
so a changed bundle or commit is a different pack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlci.errors import UserError
from mlci.policy.settings import DataFile, read_data_document, read_data_file, read_data_text
from mlci.policy.sources.signing import UntrustedBundle, VerificationKey

if TYPE_CHECKING:
    from mlci.policy.sources.git import GitSource

SETTINGS_FILE = "settings.json"
BUNDLE_SUFFIXES = (".tar.gz", ".tgz")
PIN = "#sha256="
GIT_CACHE = "policy-git"
_PINNED = re.compile(r"^(?P<path>.+)#sha256=(?P<digest>[0-9a-fA-F]{64})$")

__all__ = ["PolicySource", "UntrustedBundle", "VerificationKey", "folder_source", "open_source", "split_pin"]


@dataclass(frozen=True)
class PolicySource:
    label: str  # module names are f"{label}/{path}"
    rego: dict[str, str]  # path inside the source -> Rego source
    data: tuple[DataFile, ...] = ()
    roots: tuple[str, ...] = ("",)  # a bundle manifest's roots: what its packages and data may define
    revision: str = ""  # a bundle manifest's revision, or a git source's commit


def split_pin(entry: str) -> tuple[str, str | None]:
    """`path#sha256=<hex>` -> (path, hex); a path without a pin -> (path, None)."""
    if PIN not in entry:
        return entry, None
    found = _PINNED.match(entry)
    if not found:
        raise UserError(f"{entry}: write the pin as <bundle>.tar.gz#sha256=<64 hex digits>")
    return found.group("path"), found.group("digest").lower()


def open_source(entry: str | Path, key: VerificationKey | None = None) -> PolicySource:
    """The policies named by one `--policies` value. Raises UserError (exit 2) for what
    cannot be trusted or read, UndecidedError (exit 3) when a repository cannot be fetched."""
    from mlci.policy.sources import git

    text = str(entry)
    if not text.strip():
        raise UserError("--policies needs a folder, a .tar.gz bundle or a git+ URL, not an empty value")
    if git.is_git_url(text):
        return _git_source(git.parse_git_url(text))
    path_text, pin = split_pin(text)
    path = Path(path_text)
    if path.is_dir():
        if pin is not None:
            raise UserError(f"{text}: a sha256 pin applies to a bundle archive, not to a folder")
        return folder_source(path, str(path))  # as click's Path gave it: "policies/" is "policies"
    if path.is_file() and path.name.endswith(BUNDLE_SUFFIXES):
        return _bundle_source(path, path_text, pin, key)
    if not path.exists():
        raise UserError(f"{path_text}: --policies needs a folder of .rego files, a .tar.gz bundle or a git+ URL")
    raise UserError(f"{path_text}: --policies takes a folder, an OPA bundle (.tar.gz) or a git+ URL, not this file")


def folder_source(directory: Path, label: str) -> PolicySource:
    rego = {path.relative_to(directory).as_posix(): _read(path) for path in sorted(directory.rglob("*.rego"))}
    settings = directory / SETTINGS_FILE
    return PolicySource(label, rego, (read_data_file(settings),) if settings.is_file() else ())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None


def _bundle_source(path: Path, shown: str, pin: str | None, key: VerificationKey | None) -> PolicySource:
    from mlci.policy.sources.bundle import outside_roots, read_bundle

    content = read_bundle(path, shown, pin, key)
    data: list[DataFile] = []
    for name, raw in sorted(content.data.items()):
        where = f"{shown}/{name}"
        prefix = name.rpartition("/")[0]
        document = read_data_document(_decode(where, raw), where, prefix)
        documents = list(document.extra_data.items())
        if document.settings:
            documents.append(("mlci_settings", document.settings))
        for top, value in documents:
            outside = outside_roots(top, value, content.roots)
            if outside is not None:
                raise UserError(f"{where}: data at {outside} lies outside the bundle's roots {list(content.roots)}")
        data.append(document)
    _refuse_packages_outside_roots(shown, content.rego, content.roots)
    return PolicySource(shown, content.rego, tuple(data), content.roots, content.revision)


def _refuse_packages_outside_roots(shown: str, rego: dict[str, str], roots: tuple[str, ...]) -> None:
    from mlci.policy.pack import packages_of
    from mlci.policy.sources.bundle import outside_roots

    for name, source in rego.items():
        for package in packages_of({name: source}):
            if package != "mlci_decision" and outside_roots(package.replace(".", "/"), None, roots) is not None:
                raise UserError(f"{shown}/{name}: package {package} lies outside the bundle's roots {list(roots)}")


def _decode(where: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{where}: not valid UTF-8") from None


def _git_source(source: GitSource) -> PolicySource:
    from mlci.policy.sources.git import read_git_source
    from mlci.signed_cache import cache_root

    files = read_git_source(source, cache_root() / GIT_CACHE)
    rego = {name: _decode(f"{source.label}/{name}", raw) for name, raw in files.items() if name.endswith(".rego")}
    data: tuple[DataFile, ...] = ()
    if SETTINGS_FILE in files:
        where = f"{source.label}/{SETTINGS_FILE}"
        data = (read_data_text(_decode(where, files[SETTINGS_FILE]), where),)
    return PolicySource(source.label, rego, data, revision=source.commit)
