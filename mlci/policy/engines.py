"""Policy engines behind one interface. Each takes the same pack, data and
inputs and returns the `data.mlci` document per input; `evaluate.py` turns that
into findings, so every engine yields the same findings for the same input."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any, Protocol

from mlci.errors import PolicyEngineError
from mlci.policy.pack import PolicyPack

DECISION = "data.mlci"
_WITH_WHOLE_INPUT = re.compile(r"\bwith\s+input\s+as\b")


class PolicyEngine(Protocol):
    name: str

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The value of `data.mlci` for each input, in order. Raises PolicyEngineError."""
        ...


class EmbeddedEngine:
    """regopy: a Rego interpreter in-process, no server, the default.

    The pack is compiled once into a bundle and each spec is a query against it
    (regopy would otherwise recompile the program on every query). Large trees
    are split across worker processes, one compiled bundle each.
    """

    name = "embedded"
    parallel_threshold = 48  # below this, starting workers costs more than it saves

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        modules = dict(pack.modules)
        crashy = sorted(name for name, source in modules.items() if _WITH_WHOLE_INPUT.search(source))
        if crashy:
            # regopy 1.5.2 crashes the process on these; refuse with a reason instead.
            raise PolicyEngineError(
                self.name,
                f"{', '.join(crashy)} replace the whole input (`with input as`), which the embedded engine cannot "
                "evaluate; use --engine opa or --opa-url, or replace single keys (`with input.<key> as`)",
            )
        if len(inputs) < self.parallel_threshold or self.workers < 2:
            outcome = _evaluate_chunk(modules, data, inputs)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            size = -(-len(inputs) // self.workers)
            chunks = [inputs[i : i + size] for i in range(0, len(inputs), size)]
            # fork: workers inherit the imported modules instead of importing them again.
            with ProcessPoolExecutor(len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
                parts = list(pool.map(_evaluate_chunk, [modules] * len(chunks), [data] * len(chunks), chunks))
            errors = [part for part in parts if isinstance(part, str)]
            outcome = errors[0] if errors else [doc for part in parts for doc in part]
        if isinstance(outcome, str):
            raise PolicyEngineError(self.name, outcome)
        return outcome


def _evaluate_chunk(modules: dict[str, str], data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[Any] | str:
    """The data.mlci document per input, or an error message (plain data: it crosses processes)."""
    import regopy

    interpreter = regopy.Interpreter()
    try:
        for name, source in modules.items():
            interpreter.add_module(name, source)
        interpreter.add_data_json(json.dumps(data))
        bundle = interpreter.build(f"decision = {DECISION}", [])
    except Exception as exc:  # regopy raises RegoError with the parser's report
        return f"cannot load policies: {_first_lines(str(exc))}"
    results: list[Any] = []
    for document in inputs:
        interpreter.set_input(regopy.Input(document))
        try:
            text = str(interpreter.query_bundle(bundle))
        except Exception as exc:
            return _first_lines(str(exc))
        if text == "undefined":
            return f"{DECISION} is undefined (no policies loaded?)"
        try:
            value = json.loads(text).get("bindings", {}).get("decision")
        except json.JSONDecodeError:
            # regopy reports some runtime errors as output text rather than raising.
            return f"evaluation error: {_first_lines(text)}"
        if not isinstance(value, dict):
            return f"{DECISION} is undefined or not an object: {text[:200]}"
        results.append(value)
    return results


class OpaServerEngine:
    """A real OPA server over its REST API, through opa-python-client.

    By default mlci uploads its pack and data first (under the `mlci/` policy ids),
    so the server decides with exactly the policies the embedded engine uses; with
    `upload=False` it queries what the server already holds. An undefined
    decision is an error, never a pass.
    """

    name = "opa-server"

    def __init__(self, url: str, upload: bool = True, timeout: float = 10.0, retries: int = 2) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PolicyEngineError(self.name, f"--opa-url {url!r} is not an http(s) URL")
        self.url = url
        self.host = parts.hostname
        self.ssl = parts.scheme == "https"
        self.port = parts.port or (443 if self.ssl else 8181)
        self.upload = upload
        self.timeout = timeout
        self.retries = retries

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from opa_client import OpaClient

        try:
            client = OpaClient(host=self.host, port=self.port, ssl=self.ssl, timeout=self.timeout, retries=self.retries)
        except Exception as exc:
            raise PolicyEngineError(self.name, f"cannot create a client for {self.url}: {exc}") from None
        try:
            if self.upload:
                for name, source in pack.modules.items():
                    client.update_policy_from_string(source, _policy_id(name), rego_compat=False)
                for key, value in data.items():
                    client.update_or_create_data(value, key)
            results = []
            for document in inputs:
                response = client.query_rule(document, "mlci")
                if "result" not in response:
                    raise PolicyEngineError(self.name, f"{DECISION} is undefined on {self.url}")
                if not isinstance(response["result"], dict):
                    raise PolicyEngineError(self.name, f"{DECISION} is not an object on {self.url}")
                results.append(response["result"])
            return results
        except PolicyEngineError:
            raise
        except Exception as exc:
            raise PolicyEngineError(self.name, f"{self.url}: {_describe(exc)}") from None
        finally:
            client.close_connection()


_BATCH_MODULE = """package mlci_batch
import rego.v1

# One evaluation for every project: OPA compiles the pack once.
results := [decision | some project in input.projects; decision := data.mlci with input as project]
"""


class OpaBinaryEngine:
    """The `opa` binary on PATH (or $MLCI_OPA): one `opa eval` for all specs."""

    name = "opa"

    def __init__(self, executable: str | None = None, timeout: float = 600.0) -> None:
        import shutil

        self.executable = executable or os.environ.get("MLCI_OPA") or shutil.which("opa")
        self.timeout = timeout

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        import subprocess
        import tempfile
        from pathlib import Path

        if not self.executable:
            raise PolicyEngineError(self.name, "no `opa` binary on PATH (install OPA, or set MLCI_OPA)")
        with tempfile.TemporaryDirectory(prefix="mlci-opa-") as tmp:
            root = Path(tmp)
            policy_dir = root / "policies"
            policy_dir.mkdir()
            for name, source in pack.modules.items():
                (policy_dir / (name.replace("/", "_"))).write_text(source, encoding="utf-8")
            (policy_dir / "mlci_batch.rego").write_text(_BATCH_MODULE, encoding="utf-8")
            (root / "data.json").write_text(json.dumps(data), encoding="utf-8")
            (root / "input.json").write_text(json.dumps({"projects": inputs}), encoding="utf-8")
            command = [
                self.executable,
                "eval",
                "--format",
                "json",
                "--data",
                str(policy_dir),
                "--data",
                str(root / "data.json"),
                "--input",
                str(root / "input.json"),
                "data.mlci_batch.results",
            ]
            try:
                proc = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout, check=False)
            except OSError as exc:
                raise PolicyEngineError(self.name, f"cannot run {self.executable}: {exc.strerror}") from None
            except subprocess.TimeoutExpired:
                raise PolicyEngineError(self.name, f"opa eval did not finish in {self.timeout:.0f} s") from None
        if proc.returncode != 0:
            raise PolicyEngineError(self.name, _first_lines(proc.stderr or proc.stdout))
        try:
            results = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise PolicyEngineError(self.name, f"{DECISION} is undefined") from None
        if not isinstance(results, list) or len(results) != len(inputs):
            raise PolicyEngineError(self.name, "opa returned a result of the wrong shape")
        return results


def _policy_id(filename: str) -> str:
    return "mlci/" + filename.replace("/", "_").removesuffix(".rego")


def _describe(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.ConnectionError):
        return "server unreachable (connection failed)"
    if isinstance(exc, requests.Timeout):
        return "server did not answer in time"
    message = getattr(exc, "message", None) or str(exc)
    return _first_lines(str(message))


def _first_lines(text: str, n: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[:n])


ENGINES: dict[str, Callable[..., PolicyEngine]] = {
    "embedded": EmbeddedEngine,
    "opa": OpaBinaryEngine,
    "opa-server": OpaServerEngine,
}
