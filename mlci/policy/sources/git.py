"""A git repository pinned to a commit as a policy source, in pip's VCS URL form:

    git+https://host/org/repo.git@<full commit id>#subdirectory=policies

Only a full commit id pins content (a branch, tag or short id can be moved or made
ambiguous), so nothing else is accepted. The commit is fetched into a bare repository in
the user's cache (content-addressed by the commit id), and its files are read from git's
object database: there is no working tree to edit, nothing of the repository is ever
run (no hooks, no submodules, no filters, no checkout), and before every use `git fsck`
re-hashes the objects and `rev-parse` confirms the commit is the one asked for.

A fetch that fails (network down, host unknown, commit not there) leaves mlci unable to
decide: exit 3, never a pass.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from mlci.errors import UndecidedError, UserError

PREFIX = "git+"
SCHEMES = ("https", "ssh", "file")
CONFIG_SCHEMES = ("https", "ssh")  # a repository's config may not read the runner's own disk
GIT_TIMEOUT = 120.0
MAX_FILES = 2000
MAX_BYTES = 32 << 20
SETTINGS_FILE = "settings.json"
# The runner's own git settings that may stay: how it reaches hosts (ssh command, CA bundle, proxy)
# and its global config (credential helpers). Everything else GIT_* (GIT_DIR, GIT_CONFIG_PARAMETERS,
# alternates, GIT_ALLOW_PROTOCOL...) could point git elsewhere or re-open what is closed here.
_KEPT_GIT_VARIABLES = ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_PROXY_COMMAND")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


@dataclass(frozen=True)
class GitSource:
    url: str  # the repository, without git+, @commit and #fragment
    commit: str
    subdirectory: str  # "" for the repository's root

    @property
    def label(self) -> str:
        """What module names start with: the pinned URL, and the folder inside it."""
        shown = f"{PREFIX}{self.url}@{self.commit}"
        return f"{shown}/{self.subdirectory}" if self.subdirectory else shown


def is_git_url(text: str) -> bool:
    return text.startswith(PREFIX)


def parse_git_url(text: str, schemes: tuple[str, ...] = SCHEMES) -> GitSource:
    """`git+<scheme>://...@<commit>[#subdirectory=<folder>]`. Raises UserError (exit 2)."""
    text = _redacted(text)  # what errors show: never a password or token written into the URL
    rest = text[len(PREFIX) :]
    rest, _, fragment = rest.partition("#")
    base, at, ref = rest.rpartition("@")
    parts = urlsplit(base) if at else urlsplit(rest)
    if parts.scheme not in schemes:
        allowed = ", ".join(f"git+{s}://" for s in schemes)
        raise UserError(f"{text}: a policy repository URL starts with one of {allowed}")
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("-") or (parts.scheme != "file" and not host):
        # A host such as "-oProxyCommand=..." would be an option to ssh.
        raise UserError(f"{text}: not a repository URL with a host name")
    userinfo = parts.netloc.rpartition("@")[0]
    if (userinfo and parts.scheme != "ssh") or "***" in userinfo:
        raise UserError(f"{text}: credentials do not belong in the URL (logs show it); use a git credential helper")
    if not at or "/" in ref or not ref:
        raise UserError(f"{text}: pin the policy repository to a full commit id: {PREFIX}{rest}@<40-hex commit>")
    if not _COMMIT.match(ref.lower()):
        raise UserError(
            f"{text}: {ref!r} is not a full commit id; a branch, tag or short id can change under you, "
            "so pin the policies to the full 40-hex commit (git rev-parse <ref>)"
        )
    return GitSource(base, ref.lower(), _subdirectory(text, fragment))


def _redacted(text: str) -> str:
    """The URL with a password (`user:secret@`) replaced by `***`."""
    return re.sub(r"^(git\+[a-z]+://[^/@:]*):[^/@]*@", r"\1:***@", text)


def _subdirectory(text: str, fragment: str) -> str:
    if not fragment:
        return ""
    name, _, value = fragment.partition("=")
    if name not in ("subdirectory", "subdir") or not value:
        raise UserError(f"{text}: the only fragment a policy repository URL takes is #subdirectory=<folder>")
    parts = PurePosixPath(value).parts
    if value.startswith("/") or "\\" in value or any(p in ("..", ".") for p in parts):
        raise UserError(f"{text}: the subdirectory must be a plain relative folder inside the repository")
    return "/".join(parts)


def read_git_source(source: GitSource, cache: Path) -> dict[str, bytes]:
    """The files under the source's subdirectory at its commit: path (relative to it) -> bytes."""
    repository = _fetched(source, cache)
    folder = source.subdirectory or "."
    listing = _git(source, repository, "ls-tree", "-r", "-z", "--full-tree", source.commit, "--", folder)
    entries: list[tuple[str, str]] = []
    found = False
    for record in filter(None, listing.split(b"\0")):
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if source.subdirectory and not path.startswith(f"{source.subdirectory}/"):
            continue
        relative = path[len(source.subdirectory) + 1 :] if source.subdirectory else path
        found = True
        if kind == "commit" or not (relative.endswith(".rego") or relative == SETTINGS_FILE):
            continue  # what a folder source ignores too; a submodule is never fetched nor read
        if mode == "120000":
            raise UserError(f"{source.label}/{relative}: is a symbolic link; a policy repository holds plain files")
        entries.append((relative, oid))
        if len(entries) > MAX_FILES:
            raise UserError(f"{source.label}: a policy folder holds at most {MAX_FILES} Rego files")
    if not found:
        raise UserError(f"{source.label}: no such folder at that commit, or it is empty")
    return {relative: _blob(source, repository, oid) for relative, oid in entries}


def _blob(source: GitSource, repository: Path, oid: str) -> bytes:
    content = _git(source, repository, "cat-file", "blob", oid)
    if len(content) > MAX_BYTES:
        raise UserError(f"{source.label}: a file is larger than {MAX_BYTES >> 20} MiB")
    return content


def _fetched(source: GitSource, cache: Path) -> Path:
    """The cached bare repository holding the commit, fetched first if absent; verified either way."""
    target = cache / f"{source.commit}.git"
    if not target.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=cache))
        try:
            _git(source, None, "init", "-q", "--bare", "--template=", str(staging))
            _git(
                source,
                staging,
                "fetch", "-q", "--no-tags", "--no-recurse-submodules", "--depth=1",
                "--end-of-options", source.url, source.commit,
                fetch=True,
            )  # fmt: skip
            try:
                staging.rename(target)  # atomic: a concurrent run sees all of it or none
            except OSError:
                if not target.is_dir():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _git(source, target, "fsck", "--strict", "--no-dangling", "--no-progress", check_what="the cached copy")
    found = _git(source, target, "rev-parse", "--verify", "--end-of-options", f"{source.commit}^{{commit}}")
    if found.decode().strip() != source.commit:
        raise UndecidedError(f"{source.label}: the cached repository does not hold that commit")
    return target


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEPT_GIT_VARIABLES}
    env["GIT_TERMINAL_PROMPT"] = "0"  # a missing credential fails the fetch (exit 3), never waits
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _git(
    source: GitSource,
    repository: Path | None,
    *args: str,
    fetch: bool = False,
    check_what: str = "",
) -> bytes:
    scheme = urlsplit(source.url).scheme
    safety = [
        "-c", f"core.hooksPath={os.devnull}",
        "-c", "core.fsmonitor=false",
        "-c", "protocol.allow=never",
        "-c", f"protocol.{scheme}.allow=always",
        "-c", "transfer.fsckObjects=true",
        "-c", "submodule.recurse=false",
    ]  # fmt: skip
    where = ["--git-dir", str(repository)] if repository is not None else []
    command = ["git", *safety, *where, *args]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=GIT_TIMEOUT, env=_environment(), check=False)
    except FileNotFoundError:
        raise UndecidedError(f"{source.label}: git is not installed, so mlci cannot fetch these policies") from None
    except subprocess.TimeoutExpired:
        raise UndecidedError(f"{source.label}: git {args[0]} did not finish within {GIT_TIMEOUT:g} s") from None
    if proc.returncode != 0:
        problem = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = problem[-1] if problem else f"exit {proc.returncode}"
        if fetch:
            raise UndecidedError(f"{source.label}: cannot fetch the policies, so mlci cannot decide: {detail}")
        if check_what:
            raise UndecidedError(f"{source.label}: {check_what} failed verification: {detail}")
        raise UndecidedError(f"{source.label}: git {args[0]} failed: {detail}")
    return proc.stdout
