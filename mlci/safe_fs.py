"""File operations that never follow a symbolic link below a trusted folder.

A pull request can commit symbolic links: `k8s -> /etc`, `artifacts -> ../..`, or
`.Dockerfile.mlci-tmp -> ../victim.txt`. Every write, rename and delete of mlci goes
through this module, which walks from a trusted root folder one component at a time
with `O_NOFOLLOW` relative to the folder opened before it (openat), so a link
anywhere below the root, the file itself included, stops the operation with exit 2
naming the link instead of redirecting it. New contents go to a temporary file
created exclusively (`O_EXCL`, random name) in the verified folder and are renamed
over the target in that same folder: parallel writers never share a temporary name
and readers see the old or the new file, never half of one.

The root itself is followed: it is what the user named (a spec's folder, `--out`,
the current folder), not something found inside the tree.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar

from mlci.errors import UserError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
TMP_SUFFIX = ".mlci-tmp"
# Generated files are small; a huge file at a generated path is someone else's, not worth reading whole.
MAX_READ_BYTES = 32 * 1024 * 1024
_T = TypeVar("_T")
# The reads made while `recording_reads()` is active: the decision cache replays them to
# tell whether the files a decision depended on (policy facts) are unchanged.
_recorded: list[ReadRecord] | None = None


@dataclass(frozen=True)
class ReadRecord:
    """One read below a root and what it saw: `read_outcome` of the same read sees the same."""

    root: Path
    op: str  # "bytes" (read_bytes, read_text) or "list" (list_folder)
    rel: str
    limit: int
    outcome: str


@contextlib.contextmanager
def recording_reads() -> Iterator[list[ReadRecord]]:
    """Record every SafeTree read made inside the block (an inner block hides its reads from the outer)."""
    global _recorded
    previous, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = previous


def read_outcome(root: Path, op: str, rel: str, limit: int = 0) -> str:
    """What a read sees now, as a short text: the content's digest, "missing", or the error it raises."""
    tree = SafeTree(root)
    try:
        return _outcome(tree._list_folder(rel) if op == "list" else tree._read_bytes(rel, limit))
    except (OSError, UserError, ValueError) as exc:
        return _error_outcome(exc)


def _outcome(seen: bytes | list[str] | None) -> str:
    if seen is None:
        return "missing"
    body = seen if isinstance(seen, bytes) else "\0".join(seen).encode("utf-8", "surrogateescape")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _error_outcome(exc: BaseException) -> str:
    return f"error:{type(exc).__name__}:{exc}"


class UnsafePathError(UserError):
    """A path mlci would write, read back or delete goes through a link or a special file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{_shown(path)}: {problem}; mlci never writes through links or into special files")
        self.path = path


def _shown(path: Path | str) -> str:
    """The path as the user should see it, relative to the current folder when inside it.
    Never resolved: the link itself is what the message names, not where it points."""
    if isinstance(path, str):
        return path
    absolute = Path(os.path.normpath(path.absolute()))
    for cwd in (Path.cwd(), Path.cwd().resolve()):
        with contextlib.suppress(ValueError):
            return absolute.relative_to(cwd).as_posix()
    return absolute.as_posix()


def relative_parts(rel: str | PurePosixPath) -> tuple[str, ...]:
    """The components of a path relative to a root; ValueError unless it is relative,
    normalised (no `.`, `..` or empty parts) and free of backslashes and NUL."""
    text = str(rel)
    if not text:
        raise ValueError("it is empty")
    if "\\" in text or "\0" in text:
        raise ValueError("it contains a backslash or NUL")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise ValueError("it is absolute")
    parts = tuple(text.split("/"))
    if ".." in parts:
        raise ValueError("'..' climbs out of it")
    if any(part in ("", ".") for part in parts):
        raise ValueError("it is not normalised: empty or '.' components")
    return parts


def inside(path: Path, base: Path) -> PurePosixPath | None:
    """`path` relative to `base` when it lies inside it, judged lexically: that is the
    truth once no component below `base` may be a link. None when it lies outside."""
    absolute = Path(os.path.normpath(path.absolute()))
    try:
        rel = absolute.relative_to(Path(os.path.normpath(base.absolute())))
    except ValueError:
        return None
    if not rel.parts:
        raise UserError(f"{_shown(path)}: is a folder, expected a file")
    return PurePosixPath(rel.as_posix())


def trusted_base(folder: Path) -> Path:
    """The folder below which no link is followed, for writes into `folder` (a project, an
    output folder, the folder of a path the user named): the current folder when `folder`
    lies inside it, since a pull request can commit a link anywhere in the checkout
    (`projects -> /etc`), else `folder` itself, which the user named."""
    cwd = Path.cwd()
    absolute = Path(os.path.normpath(folder.absolute()))
    return cwd if absolute.is_relative_to(Path(os.path.normpath(cwd.absolute()))) else absolute


class SafeTree:
    """Reads, writes and deletes below `root` without following any link below it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # Folders ------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _folder(self, parts: tuple[str, ...], create: bool) -> Iterator[int | None]:
        """An fd of the folder root/parts, reached without following links; None if missing and not `create`."""
        try:
            root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            if not create:
                yield None
                return
            self.root.mkdir(parents=True, exist_ok=True)
            root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except NotADirectoryError:
            raise UnsafePathError(self.root, "is not a folder") from None
        current = root_fd
        try:
            for depth in range(len(parts)):
                child = self._child_folder(current, parts[: depth + 1], create)
                if child is None:
                    yield None
                    return
                os.close(current)
                current = child
            yield current
        finally:
            os.close(current)

    def _child_folder(self, parent: int, parts: tuple[str, ...], create: bool) -> int | None:
        name = parts[-1]
        for _attempt in range(2):
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    return None
                with contextlib.suppress(FileExistsError):  # a parallel render made it first
                    os.mkdir(name, 0o777, dir_fd=parent)
            except (NotADirectoryError, OSError) as exc:
                raise self._refusal(parent, parts, exc) from None
        raise UnsafePathError(self._path(parts), "vanished while mlci created it")

    def _refusal(self, parent: int, parts: tuple[str, ...], exc: OSError) -> UserError:
        try:
            mode = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False).st_mode
        except OSError:
            mode = 0
        if stat.S_ISLNK(mode):
            return UnsafePathError(self._path(parts), "is a symbolic link")
        if mode and not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
            return UnsafePathError(self._path(parts), "is a special file (device, pipe or socket)")
        if mode and not stat.S_ISDIR(mode):
            return UnsafePathError(self._path(parts), "is a file where mlci needs a folder")
        return UserError(f"{_shown(self._path(parts))}: {exc.strerror}")

    def _path(self, parts: tuple[str, ...]) -> Path:
        return self.root.joinpath(*parts)

    # Files --------------------------------------------------------------------------------------------------

    def read_bytes(self, rel: str | PurePosixPath, limit: int = MAX_READ_BYTES) -> bytes | None:
        """The file's bytes, at most `limit` + 1 of them; None when it (or a folder above it) does not exist."""
        return self._recorded("bytes", rel, limit, lambda: self._read_bytes(rel, limit))

    def _recorded(self, op: str, rel: str | PurePosixPath, limit: int, read: Callable[[], _T]) -> _T:
        if _recorded is None:
            return read()
        try:
            seen = read()
        except (OSError, UserError, ValueError) as exc:
            _recorded.append(ReadRecord(self.root, op, str(rel), limit, _error_outcome(exc)))
            raise
        _recorded.append(ReadRecord(self.root, op, str(rel), limit, _outcome(seen)))  # type: ignore[arg-type]
        return seen

    def _read_bytes(self, rel: str | PurePosixPath, limit: int) -> bytes | None:
        parts = relative_parts(rel)
        with self._folder(parts[:-1], create=False) as folder:
            return None if folder is None else self._read_in(folder, parts, limit)

    def _read_in(self, folder: int, parts: tuple[str, ...], limit: int) -> bytes | None:
        try:
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=folder)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._refusal(folder, parts, exc) from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)  # O_RDONLY opens a folder too: say so, before fdopen refuses it with a traceback
            problem = "is a folder where mlci expects a file" if stat.S_ISDIR(mode) else "is not a regular file"
            raise UnsafePathError(self._path(parts), problem)
        with os.fdopen(fd, "rb") as handle:
            return handle.read(limit + 1)

    def read_text(self, rel: str | PurePosixPath) -> str | None:
        """The file as UTF-8 text ("" when it is not text: it then differs from anything mlci writes)."""
        return _text(self.read_bytes(rel))

    def read_texts(self, rels: Iterable[str]) -> Generator[tuple[str, str | None], None, None]:
        """`read_text` of each path in turn (the same texts, the same refusals, in the same order),
        opening each folder on the way once for all of them rather than once per file."""
        with contextlib.ExitStack() as opened:
            folders: dict[tuple[str, ...], int | None] = {}

            def folder(parts: tuple[str, ...]) -> int | None:
                if parts not in folders:
                    if not parts:
                        found = opened.enter_context(self._folder((), create=False))
                    else:
                        parent = folder(parts[:-1])
                        found = None if parent is None else self._child_folder(parent, parts, create=False)
                        if found is not None:
                            opened.callback(os.close, found)
                    folders[parts] = found
                return folders[parts]

            for rel in rels:
                parts = relative_parts(rel)
                at = folder(parts[:-1])
                yield rel, None if at is None else _text(self._read_in(at, parts, MAX_READ_BYTES))

    def write_text(self, rel: str | PurePosixPath, content: str) -> None:
        """Replace the file atomically; folders are created as needed, links are never followed."""
        try:
            self._write_text(rel, content)
        except UserError:
            raise
        except OSError as exc:  # read-only folder, disk full: say which file, not a traceback
            raise UserError(f"{_shown(self.root / str(rel))}: cannot write: {exc.strerror or exc}") from None

    def _write_text(self, rel: str | PurePosixPath, content: str) -> None:
        parts = relative_parts(rel)
        data = content.encode("utf-8")
        with self._folder(parts[:-1], create=True) as folder:
            if folder is None:  # cannot happen with create=True; keeps the type checker honest
                raise UnsafePathError(self._path(parts[:-1]), "could not be created")
            self._refuse_link_or_special(folder, parts)
            tmp = f".{parts[-1][:200]}.{secrets.token_hex(8)}{TMP_SUFFIX}"
            fd = os.open(tmp, _CREATE_FLAGS, 0o666, dir_fd=folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                # rename() replaces the name itself: a link planted at the target is never followed.
                os.replace(tmp, parts[-1], src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=folder)
                raise

    def remove(self, rel: str | PurePosixPath) -> bool:
        """Delete the file (never a folder, never through a link); False when it was already gone."""
        parts = relative_parts(rel)
        with self._folder(parts[:-1], create=False) as folder:
            if folder is None:
                return False
            self._refuse_link_or_special(folder, parts)
            try:
                os.unlink(parts[-1], dir_fd=folder)
            except FileNotFoundError:
                return False
            return True

    def _refuse_link_or_special(self, folder: int, parts: tuple[str, ...]) -> None:
        try:
            mode = os.stat(parts[-1], dir_fd=folder, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            raise UnsafePathError(self._path(parts), "is a symbolic link")
        if stat.S_ISDIR(mode):
            raise UnsafePathError(self._path(parts), "is a folder where mlci writes a file")
        if not stat.S_ISREG(mode):
            raise UnsafePathError(self._path(parts), "is a special file (device, pipe or socket)")

    def list_folder(self, rel: str | PurePosixPath) -> list[str]:
        """Names in a folder below the root ([] when it does not exist)."""
        return self._recorded("list", rel, 0, lambda: self._list_folder(rel))

    def _list_folder(self, rel: str | PurePosixPath) -> list[str]:
        parts = relative_parts(rel)
        with self._folder(parts, create=False) as folder:
            return sorted(os.listdir(folder)) if folder is not None else []


def _text(data: bytes | None) -> str | None:
    if data is None:
        return None
    if len(data) > MAX_READ_BYTES:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def write_text(path: Path, content: str, base: Path) -> None:
    """Write a file the user asked for on the command line (a report, the blessing, the lineage).

    Inside `base` (the project, or the current folder) nothing the repository may have
    committed is followed: no component below `base` may be a link, and the file is
    replaced atomically. Outside `base` the path is the user's own choice, written as
    given, so `-o sarif=/dev/stdout` keeps working."""
    base = trusted_base(base)
    rel = inside(path, base)
    if rel is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return
    SafeTree(Path(os.path.normpath(base.absolute()))).write_text(rel, content)


def remove(path: Path, base: Path) -> bool:
    """Delete a file the user named, under the same rules as `write_text`; False if it was not there."""
    base = trusted_base(base)
    rel = inside(path, base)
    if rel is None:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
    return SafeTree(Path(os.path.normpath(base.absolute()))).remove(rel)
