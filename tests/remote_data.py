"""Real peers for remote data: an HTTPS file server on 127.0.0.1 with a certificate made
for the test, and fsspec's in-process memory file system."""

from __future__ import annotations

import functools
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for IP 127.0.0.1 (and its key), made by the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def https_files(folder: Path, monkeypatch: pytest.MonkeyPatch, tls: Path) -> Iterator[str]:
    """Serve `folder` over HTTPS on a free loopback port; the client trusts the test's
    certificate through SSL_CERT_FILE (which Python's default TLS context reads)."""
    tls.mkdir(exist_ok=True)
    cert, key = self_signed_certificate(tls)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(folder)))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def memory_store() -> Iterator[object]:
    """fsspec's memory file system, emptied afterwards (the body of a fixture)."""
    import fsspec

    fs = fsspec.filesystem("memory")
    yield fs
    fs.store.clear()
    fs.pseudo_dirs[:] = [""]
