"""Remote data (s3://, gs://, abfs://, https://), read by streaming through fsspec.

fsspec and the library of each protocol are the `mlci[remote]` extra, imported only
when a remote URI is read: a missing one is the user's to install (exit 2, naming the
extra). Reading never holds a whole object in memory: a digest is computed over
fixed-size reads, and a table for `mlci drift` is streamed into a temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from mlci.errors import MlciError, UserError
from mlci.runtime.hashing import CHUNK, Digest

EXTRA = "remote"
# protocol -> the module fsspec needs for it (None: built into fsspec). `memory` is fsspec's
# in-process file system: nothing outside the process can name a file in it.
PROTOCOLS: dict[str, str | None] = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "az": "adlfs",
    "http": "aiohttp",
    "https": "aiohttp",
    "memory": None,
}
SHOWN_PROTOCOLS = "s3://, gs://, abfs://, az://, http(s)://"
# An HTTP server that stops sending is a failure after this long, not a job that hangs.
HTTP_READ_TIMEOUT_SECONDS = 60


class RemoteReadError(MlciError):
    """Remote data could not be read (network, permissions): exit 3, never a pass."""


class RemoteNotFound(RemoteReadError):
    """The store answered that there is no such object: the data is missing, like a local file."""


def scheme_of(uri: str) -> str | None:
    scheme, sep, _ = uri.partition("://")
    return scheme.lower() if sep else None


def is_remote(uri: str) -> bool:
    """True for a URI mlci reads through fsspec."""
    return scheme_of(uri) in PROTOCOLS


def require_protocol(uri: str, needed_by: str) -> None:
    """Exit 2 naming `mlci[remote]` when fsspec or the protocol's library is not installed."""
    scheme = scheme_of(uri) or ""
    library = PROTOCOLS.get(scheme)
    modules = ["fsspec", *([library] if library else [])]
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise UserError(
            f"{needed_by} reads {scheme}:// data through {', '.join(missing)}, which the core install leaves out: "
            f"install the extra with `pip install 'mlci[{EXTRA}]'`"
        )


@contextlib.contextmanager
def open_remote(uri: str, needed_by: str) -> Iterator[BinaryIO]:
    """A binary stream of the object at `uri`. Failures to reach or read it are RemoteReadError."""
    require_protocol(uri, needed_by)
    import fsspec

    scheme, _, rest = uri.partition("://")
    uri = f"{scheme.lower()}://{rest}"  # fsspec knows protocols by their lower-case names

    options: dict[str, Any] = {}
    if scheme_of(uri) in ("http", "https"):
        import ssl

        import aiohttp

        # block_size 0: one streamed GET, no range requests (which many servers do not answer).
        # The TLS context is made now, so SSL_CERT_FILE / SSL_CERT_DIR (a company's CA) count as
        # set when mlci runs, not when aiohttp was first imported; no cached session is reused.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=HTTP_READ_TIMEOUT_SECONDS)
        options = {
            "block_size": 0,
            "client_kwargs": {"timeout": timeout},
            "ssl": ssl.create_default_context(),
            "skip_instance_cache": True,
        }
    try:
        with fsspec.open(uri, mode="rb", **options) as handle:
            yield handle
    except MlciError:
        raise
    except Exception as exc:  # fsspec's back ends raise their own types (OSError, ClientError, botocore, ...)
        if _not_found(exc):
            raise RemoteNotFound(f"{needed_by}: {uri} not found") from None
        raise RemoteReadError(f"{needed_by}: cannot read {uri}: {_reason(exc)}") from None


def _not_found(exc: BaseException | None) -> bool:
    """Whether the store said there is no such object: an HTTP 404 or 410, or a FileNotFoundError.
    fsspec's HTTP back end turns every failure (refused connection, 403, 500) into a
    FileNotFoundError caused by the real one, so the whole chain must say not-found."""
    if getattr(exc, "status", None) in (404, 410):
        return True
    if not isinstance(exc, FileNotFoundError):
        return False
    return exc.__cause__ is None or _not_found(exc.__cause__)


def _reason(exc: BaseException) -> str:
    while exc.__cause__ is not None:  # the innermost error says what happened
        exc = exc.__cause__
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def digest_remote(uri: str, needed_by: str, with_md5: bool = False) -> Digest:
    """sha256 (and md5) of a remote object, over fixed-size reads of one stream."""
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False) if with_md5 else None
    size = 0
    with open_remote(uri, needed_by) as handle:
        try:
            while block := handle.read(CHUNK):
                sha.update(block)
                if md5 is not None:
                    md5.update(block)
                size += len(block)
        except MlciError:
            raise
        except Exception as exc:
            raise RemoteReadError(f"{needed_by}: reading {uri} failed after {size} bytes: {_reason(exc)}") from None
    return Digest(sha.hexdigest(), size, md5.hexdigest() if md5 else None)


@contextlib.contextmanager
def local_copy(uri: str, needed_by: str) -> Iterator[Path]:
    """The object at `uri` streamed into a private temporary file (removed afterwards), named
    with the URI's suffixes so that readers still tell Parquet and .gz from CSV."""
    name = PurePosixPath(uri.partition("://")[2].split("?", 1)[0].split("#", 1)[0]).name
    suffix = "".join(PurePosixPath(name).suffixes[-2:]) if name else ""
    with tempfile.TemporaryDirectory(prefix="mlci-remote-") as folder:
        target = Path(folder, "data" + "".join(c for c in suffix if c.isalnum() or c == "."))
        with open_remote(uri, needed_by) as source, open(target, "xb") as sink:
            copied = 0
            try:
                while block := source.read(CHUNK):
                    sink.write(block)
                    copied += len(block)
            except MlciError:
                raise
            except Exception as exc:  # the stream or the disk: either way the copy is not there
                raise RemoteReadError(
                    f"{needed_by}: copying {uri} failed after {copied} bytes: {_reason(exc)}"
                ) from None
        os.chmod(target, 0o400)
        yield target
