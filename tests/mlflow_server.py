"""A real `mlflow server` for the registry tests: SQLite backend, local artifact root,
127.0.0.1 on a free port. No mocks: the tests talk to it through mlci and read it back
through MLflow's own client."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

STARTUP_SECONDS = 240  # a cold start migrates the database; on a loaded 2-core machine that takes a while


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_mlflow_server() -> None:
    """Skip, saying why, when the full mlflow (which has `mlflow server`) is not installed."""
    if importlib.util.find_spec("mlflow") is None or importlib.util.find_spec("mlflow.server") is None:
        pytest.skip("needs the full `mlflow` package for `mlflow server` (pip install -e '.[test]')")


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    require_mlflow_server()
    port = free_port()
    log = (folder / "server.log").open("w")
    argv = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    # No background job runner (a pool of huey consumers): the tests need the tracking and registry API only.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (folder / "server.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"mlflow server did not start (exit {proc.poll()}):\n{tail}")
                time.sleep(0.5)
        yield url
    finally:
        # The server runs gunicorn/uvicorn workers in its own session: stop the whole group.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group outlived the server
        proc.wait(timeout=10)
        log.close()
