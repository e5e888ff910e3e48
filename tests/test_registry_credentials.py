"""The CI's registry credentials never reach a host only the spec names.

A real HTTP server on 127.0.0.1 plays the host a pull request writes into `model.registry`
and records the Authorization header of every request it gets; mlci talks to it through
MLflow's own client (`mlci gate`, which reads the champion). It answers every request as
MLflow does for a model that does not exist, so the gate goes on with thresholds only.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.real_opa import serving

pytest.importorskip("mlflow", reason="the registry client is MLflow's (pip install -e '.[test]')")

IRIS = ROOT / "examples" / "iris-classifier"
TOKEN = "ci-secret-token"


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, str | None]]

    def _answer(self) -> None:
        self.received.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such model"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str | None]]]]:
    received: list[dict[str, str | None]] = []
    with serving(type("Handler", (_Recorder,), {"received": received})) as url:
        yield url, received


@pytest.fixture(autouse=True)
def _ci_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A CI that holds registry credentials but names no registry itself."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLCI_REGISTRY_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.mlflow/credentials of the machine's
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def _project(tmp_path: Path, registry: str) -> Path:
    folder = tmp_path / "iris"
    shutil.copytree(IRIS, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__", ".mlci"))
    spec = folder / "mlproject.yaml"
    # model.registry, whatever the example names there.
    text = re.sub(r"(?m)^  registry: .*$", f"  registry: {registry}", spec.read_text(), count=1)
    assert f"  registry: {registry}\n" in text
    spec.write_text(text)
    metrics = folder / "artifacts" / "metrics.json"
    metrics.parent.mkdir()
    metrics.write_text(json.dumps({"accuracy": 0.97, "f1_macro": 0.96, "roc_auc_ovr": 0.99}))
    return folder


def _registry_line(folder: Path) -> int:
    lines = (folder / "mlproject.yaml").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.strip().startswith("registry:"))


@pytest.mark.parametrize(
    "credentials",
    [
        {"MLFLOW_TRACKING_TOKEN": TOKEN},
        {"MLFLOW_TRACKING_USERNAME": "ci", "MLFLOW_TRACKING_PASSWORD": TOKEN},
        {"NETRC": f"default login ci password {TOKEN}\n"},  # written to a file below
    ],
    ids=["token", "basic", "netrc-default"],
)
def test_credentials_never_go_to_a_registry_only_the_spec_names(
    recorder: tuple[str, list[dict[str, str | None]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    credentials: dict[str, str],
) -> None:
    url, received = recorder
    for name, value in credentials.items():
        if name == "NETRC":
            netrc_file = tmp_path / "netrc"
            netrc_file.write_text(value)
            netrc_file.chmod(0o600)
            value = str(netrc_file)
        monkeypatch.setenv(name, value)
    folder = _project(tmp_path, url)
    result = run_cli("gate", str(folder))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert [request for request in received if request["authorization"]] == []
    # At the spec's line, naming what to do; never the credential's value.
    assert f"mlproject.yaml:{_registry_line(folder)}:" in result.stderr
    assert "MLFLOW_TRACKING_URI" in result.stderr and "MLCI_REGISTRY_HOSTS" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert not (folder / "artifacts" / "blessing.json").exists()


def test_a_host_the_ci_trusts_gets_the_credentials(
    recorder: tuple[str, list[dict[str, str | None]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder does see credentials when they are meant for it: the refusal above is not
    a server that records nothing."""
    url, received = recorder
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    monkeypatch.setenv("MLCI_REGISTRY_HOSTS", f"registry.internal, {url.removeprefix('http://')}")
    result = run_cli("gate", str(_project(tmp_path, url)))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert received and all(request["authorization"] == f"Bearer {TOKEN}" for request in received)


def test_a_registry_the_ci_names_gets_the_credentials(
    recorder: tuple[str, list[dict[str, str | None]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = recorder
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    # The spec names another host; the CI's --registry wins and is the one that gets them.
    folder = _project(tmp_path, "https://attacker.invalid.localhost")
    result = run_cli("gate", str(folder), "--registry", url)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert received and all(request["authorization"] == f"Bearer {TOKEN}" for request in received)


def test_without_credentials_the_spec_registry_is_used(
    recorder: tuple[str, list[dict[str, str | None]]], tmp_path: Path
) -> None:
    url, received = recorder
    result = run_cli("gate", str(_project(tmp_path, url)))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert received and not any(request["authorization"] for request in received)
