"""Policy engines behind one interface. Each takes the same pack, data and
inputs and returns the `data.mlci` document per input; `evaluate.py` turns that
into findings, so every engine yields the same findings for the same input."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from mlci.errors import PolicyEngineError
from mlci.policy.pack import PolicyPack

DECISION = "data.mlci"


class PolicyEngine(Protocol):
    name: str

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The value of `data.mlci` for each input, in order. Raises PolicyEngineError."""
        ...


class EmbeddedEngine:
    """regopy: a Rego interpreter in-process, no server, the default."""

    name = "embedded"

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        interpreter = self._interpreter(pack, data)
        import regopy

        results = []
        for document in inputs:
            interpreter.set_input(regopy.Input(document))
            results.append(self._query(interpreter))
        return results

    def _interpreter(self, pack: PolicyPack, data: dict[str, Any]) -> Any:
        try:
            import regopy
        except ImportError as exc:  # pragma: no cover - regopy is a hard dependency
            raise PolicyEngineError(self.name, f"regopy is not installed ({exc})") from None
        interpreter = regopy.Interpreter()
        try:
            for name, source in pack.modules.items():
                interpreter.add_module(name, source)
            interpreter.add_data_json(json.dumps(data))
        except Exception as exc:  # regopy raises RegoError with the parser's report
            raise PolicyEngineError(self.name, f"cannot load policies: {_first_lines(str(exc))}") from None
        return interpreter

    def _query(self, interpreter: Any) -> dict[str, Any]:
        try:
            output = interpreter.query(DECISION)
        except Exception as exc:
            raise PolicyEngineError(self.name, _first_lines(str(exc))) from None
        text = str(output)
        if text == "undefined":
            raise PolicyEngineError(self.name, f"{DECISION} is undefined (no policies loaded?)")
        parsed = json.loads(text)
        if "expressions" not in parsed:
            raise PolicyEngineError(self.name, _first_lines(text))
        value = parsed["expressions"][0]
        if not isinstance(value, dict):
            raise PolicyEngineError(self.name, f"{DECISION} is not an object: {text[:200]}")
        return value


class OpaServerEngine:
    """A real OPA server over its REST API, through opa-python-client.

    By default mlci uploads its pack and data first (under the `mlci/` policy ids),
    so the server decides with exactly the policies the embedded engine uses; with
    `upload=False` it queries what the server already holds. An undefined
    decision is an error, never a pass.
    """

    name = "opa"

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
    "opa": OpaServerEngine,
}
