"""The embedded engine and a real OPA server give identical findings on every
example and every policy fixture; an unreachable server is exit 3."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import EXAMPLES, FIXTURES, require_tool

pytestmark = pytest.mark.opa
INPUTS = [*(p / "mlproject.yaml" for p in EXAMPLES), *sorted((FIXTURES / "policy").glob("*.yaml"))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def opa_url() -> Iterator[str]:
    opa = require_tool(judges.tool("opa"), "opa")
    port = _free_port()
    proc = subprocess.Popen(
        [opa, "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("opa did not start listening within 30 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _findings(cli, path: Path, *engine_args: str) -> tuple[int, list[dict]]:
    result = cli("check", str(path), "--now", "2026-11-22", "-o", "json", *engine_args)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)["findings"]


@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_same_findings_on_both_engines(cli, opa_url: str, path: Path) -> None:
    embedded = _findings(cli, path)
    server = _findings(cli, path, "--opa-url", opa_url)
    assert server == embedded


def test_opa_test_agrees_with_mlci_policy_test(cli) -> None:
    opa = require_tool(judges.tool("opa"), "opa")
    policies = Path(__file__).resolve().parent.parent / "policies"
    proc = subprocess.run([opa, "test", str(policies), "--format", "json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    opa_passed = {f"{r['package']}.{r['name']}" for r in json.loads(proc.stdout) if not r.get("fail")}
    result = cli("policy", "test", "-v")
    assert result.exit_code == 0
    ours = {
        line.split("data.", 1)[1].split(" ", 1)[0] for line in result.stdout.splitlines() if line.startswith("PASS")
    }
    assert ours == {name.removeprefix("data.") for name in opa_passed}


def test_unreachable_server_is_exit_3(cli) -> None:
    result = cli("check", str(EXAMPLES[0]), "--opa-url", f"http://127.0.0.1:{_free_port()}")
    assert result.exit_code == 3
    assert "server unreachable" in result.stderr
    assert result.stdout == ""


def test_undefined_decision_is_exit_3(cli, opa_url: str) -> None:
    """With the server's policies deleted, it holds none of mlci's rules: exit 3, never a pass."""
    import requests

    for policy in requests.get(f"{opa_url}/v1/policies", timeout=5).json()["result"]:
        requests.delete(f"{opa_url}/v1/policies/{policy['id']}", timeout=5)
    result = cli("check", str(EXAMPLES[0]), "--opa-url", opa_url, "--opa-server-policies")
    assert result.exit_code == 3
    assert "holds 0 of the pack's" in result.stderr


def test_opa_binary_engine_agrees_in_one_batch(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All inputs in one run: the binary engine evaluates them in a single `opa eval`."""
    opa = require_tool(judges.tool("opa"), "opa")
    monkeypatch.setenv("MLCI_OPA", opa)
    for index, source in enumerate(INPUTS):
        folder = tmp_path / f"p{index:02d}"
        folder.mkdir()
        (folder / "mlproject.yaml").write_text(source.read_text())
        for text_file in source.parent.glob("*.txt"):  # requirements files: policies see what they pin
            (folder / text_file.name).write_text(text_file.read_text())
    embedded = cli("check", str(tmp_path), "--now", "2026-11-22", "-o", "json")
    binary = cli("check", str(tmp_path), "--now", "2026-11-22", "-o", "json", "--engine", "opa")
    assert binary.exit_code == embedded.exit_code == 1, binary.stderr
    assert json.loads(binary.stdout)["findings"] == json.loads(embedded.stdout)["findings"]
    assert len(json.loads(binary.stdout)["findings"]) >= len(INPUTS) - len(EXAMPLES)


def test_missing_opa_binary_is_exit_3(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_OPA", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    result = cli("check", str(EXAMPLES[0]), "--engine", "opa")
    assert result.exit_code == 3
    assert "no `opa` binary" in result.stderr
