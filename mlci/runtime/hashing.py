"""Streamed file digests: datasets may be far larger than memory."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mlci.errors import UserError

CHUNK = 1 << 20  # 1 MiB: large enough to keep hashlib busy, small enough for any machine


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int
    md5: str | None = None  # only when asked for: DVC pins data by md5
    files: int = 1  # more than one for a folder
    md5_dos2unix: str | None = None  # DVC 2's md5: of a text file with CRLF read as LF (see legacy_md5)


# What DVC 2 took for text: no NUL in the first 512 bytes and at most 30% other than these.
_TEXT_BYTES = bytes(range(32, 127)) + b"\n\r\t\f\b"


def looks_like_text(head: bytes) -> bool:
    if not head:
        return True
    if b"\0" in head:
        return False
    return len(head.translate(None, _TEXT_BYTES)) / len(head) <= 0.30


def sha256_file(path: Path) -> str:
    return digest_file(path).sha256


def digest_file(path: Path, with_md5: bool = False, legacy_md5: bool = False) -> Digest:
    """sha256 (and md5) of a file in one pass of fixed-size reads.

    `legacy_md5` adds the md5 DVC 2 pinned (entries without `hash: md5`): of a text file,
    each 1 MiB read with CRLF replaced by LF, as DVC 2 read it."""
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False) if with_md5 else None
    legacy = hashlib.md5(usedforsecurity=False) if legacy_md5 else None
    text: bool | None = None
    size = 0
    with open_regular(path) as handle:
        while block := handle.read(CHUNK):
            sha.update(block)
            if md5 is not None:
                md5.update(block)
            if legacy is not None:
                text = looks_like_text(block[:512]) if text is None else text
                legacy.update(block.replace(b"\r\n", b"\n") if text else block)
            size += len(block)
    return Digest(
        sha.hexdigest(),
        size,
        md5.hexdigest() if md5 else None,
        md5_dos2unix=legacy.hexdigest() if legacy else None,
    )


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading; a device, pipe or socket is refused without a read
    (`/dev/zero` never ends, a pipe blocks forever). O_NONBLOCK makes opening a pipe return
    at once; it does not change how a regular file reads."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a file") from None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise SpecialFileError(path)
    return handle


class SpecialFileError(UserError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: is a device, pipe or socket, not a regular file; mlci does not read it")
        self.path = path


def digest_tree(root: Path, within: Path | None = None, with_md5: bool = False, legacy_md5: bool = False) -> Digest:
    """A folder's digest: sha256 of `sha256sum`-style lines, sorted by relative path.

    Independent of file times and of the order the file system lists entries in. With
    `within`, a file of the folder that is a link resolving outside it is refused, not read.
    With `with_md5`, also DVC's hash of the folder (md5 ending in `.dir`)."""
    from mlci.runtime.dvc import dir_md5

    lines = []
    md5s: list[tuple[str, str]] = []
    legacy_md5s: list[tuple[str, str]] = []
    size = 0
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in names:
            path = Path(folder, name)
            if not path.is_file():
                continue
            if within is not None and not path.resolve().is_relative_to(within):
                raise UserError(f"{path}: a link out of the repository ({path.resolve()}); mlci does not read it")
            digest = digest_file(path, with_md5, legacy_md5)
            size += digest.size
            relative = path.relative_to(root).as_posix()
            lines.append(f"{digest.sha256}  {relative}\n")
            if digest.md5 is not None:
                md5s.append((relative, digest.md5))
            if digest.md5_dos2unix is not None:
                legacy_md5s.append((relative, digest.md5_dos2unix))
    lines.sort(key=lambda line: line[66:])
    sha256 = hashlib.sha256("".join(lines).encode()).hexdigest()
    return Digest(
        sha256,
        size,
        md5=dir_md5(md5s) if with_md5 else None,
        files=len(lines),
        md5_dos2unix=dir_md5(legacy_md5s) if legacy_md5 else None,
    )


def digest_path(path: Path, with_md5: bool = False, within: Path | None = None, legacy_md5: bool = False) -> Digest:
    if path.is_dir():
        return digest_tree(path, within, with_md5, legacy_md5)
    return digest_file(path, with_md5, legacy_md5)
