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


def _first_lines(text: str, n: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[:n])


ENGINES: dict[str, Callable[[], PolicyEngine]] = {
    "embedded": EmbeddedEngine,
}
