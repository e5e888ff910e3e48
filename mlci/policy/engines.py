"""Policy engines behind one interface. Each takes the same pack, data and
inputs and returns the value of `pack.decision_query` per input; `evaluate.py`
turns that into findings, so every engine yields the same findings for the same input.

Every engine fails closed, the same way (exit codes in errors.py):

- built-in errors are strict: a rule whose `to_number("x")` or division by zero
  fails is an error naming the rule (exit 3), never an undefined rule read as
  "no violation";
- a decision that is undefined, not an object, or misses any rule of the pack is
  an error (exit 3): it was not made over the whole pack;
- a syntax or compile error in the user's policy is exit 2 at their file, line
  and column (rego_errors.py); in mlci's own modules, exit 3;
- `--opa-timeout` bounds the `opa` binary and the server (opa_server.py); the
  embedded engine runs in-process and has no deadline.

Known limit of regopy 1.5.2: it does not reject every program OPA's compiler
rejects (an unsafe variable such as `msg := unknownvar` leaves the rule undefined
instead of failing), so such a policy is exit 2 on OPA but not on the embedded
engine; parse errors, unknown functions and recursion are caught on all three.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mlci.errors import MlciError, PolicyEngineError
from mlci.policy.pack import PolicyPack
from mlci.policy.rego_errors import ModuleProblem, compile_error, evaluation_error, line_column, rule_in_source

_WITH_WHOLE_INPUT = re.compile(r"\bwith\s+input\s+as\b")
DEFAULT_OPA_TIMEOUT = 30.0  # seconds, for everything one check asks of OPA


class PolicyEngine(Protocol):
    name: str

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The value of `pack.decision_query` for each input, in order. Raises MlciError."""
        ...


def checked_decision(engine: str, pack: PolicyPack, value: Any) -> dict[str, Any]:
    """The decision, if it was made over every rule of the pack. Raises PolicyEngineError.

    One subset test per input: the only per-spec cost of failing closed.
    """
    if not isinstance(value, dict):
        state = "undefined" if value is None else "not an object"
        raise PolicyEngineError(engine, f"{pack.decision_query} is {state}: no decision over mlci's rules")
    expected = pack.expected_keys
    if not expected <= value.keys():
        missing = sorted(expected - value.keys())
        raise PolicyEngineError(
            engine,
            f"the decision covers only {len(expected) - len(missing)} of the pack's {len(expected)} rules; "
            f"missing: {listed(missing)}",
        )
    return value


def listed(keys: Sequence[str], shown: int = 5) -> str:
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def rule_ref(pack: PolicyPack, key: str) -> str:
    """The Rego reference of a decision key (`mlci.gdpr.x` -> `data["mlci"]["gdpr"]["x"]`)."""
    rule = pack.decision_rules.get(key)
    parts = [*rule.package.split("."), rule.name] if rule is not None else key.split(".")
    return "data" + "".join(f"[{json.dumps(part)}]" for part in parts)


@dataclass(frozen=True)
class _Failure:
    """What went wrong in a worker, as plain data (it crosses processes)."""

    stage: str  # "load" (parse/compile), "rule" (one rule failed), "decision" (bad decision)
    problems: tuple[ModuleProblem, ...] = ()
    rule: str | None = None
    value: Any = None


class EmbeddedEngine:
    """regopy: a Rego interpreter in-process, no server, the default.

    The pack is compiled once into a bundle and each spec is a query against it
    (regopy would otherwise recompile the program on every query). Large trees
    are split across worker processes, one compiled bundle each.

    regopy 1.5.2 is strict about built-ins when asked (`strict_built_in_errors`),
    but its error names neither rule nor position; so on an error (only then) each
    rule of the decision is queried alone to name the one that fails.
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
        job = _Job(modules, data, pack.decision_query, {key: rule_ref(pack, key) for key in pack.expected_keys})
        if len(inputs) < self.parallel_threshold or self.workers < 2:
            outcome = _evaluate_chunk(job, inputs)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            size = -(-len(inputs) // self.workers)
            chunks = [inputs[i : i + size] for i in range(0, len(inputs), size)]
            # fork: workers inherit the imported modules instead of importing them again.
            with ProcessPoolExecutor(len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
                parts = list(pool.map(_evaluate_chunk, [job] * len(chunks), chunks))
            failures = [part for part in parts if isinstance(part, _Failure)]
            outcome = failures[0] if failures else [doc for part in parts if isinstance(part, list) for doc in part]
        if isinstance(outcome, _Failure):
            raise self._error(pack, outcome)
        return [checked_decision(self.name, pack, value) for value in outcome]

    def _error(self, pack: PolicyPack, failure: _Failure) -> MlciError:
        if failure.stage == "load":
            return compile_error(self.name, pack, failure.problems)
        if failure.stage == "rule":
            problem = failure.problems[0]
            if _COMPILE_TIME_ERROR.match(problem.message):
                return compile_error(self.name, pack, [_locate(pack, failure.rule, problem.message)])
            return evaluation_error(self.name, pack, problem, failure.rule)
        if failure.problems:
            return PolicyEngineError(self.name, failure.problems[0].message)
        return checked_decision(self.name, pack, failure.value)  # type: ignore[return-value]  # always raises


# What OPA rejects when compiling, regopy 1.5.2 only reports when a query reaches it.
_COMPILE_TIME_ERROR = re.compile(r"^(Function not found|Recursion detected)")


def _locate(pack: PolicyPack, key: str | None, message: str) -> ModuleProblem:
    """Where a compile-time error regopy reported without a position is: the call of
    the missing function, else the head of the rule that failed."""
    missing = re.match(r"^Function not found: (\S+)", message)
    if missing:
        call = re.compile(rf"(?<![\w.]){re.escape(missing.group(1))}\s*\(")
        for name, source in pack.modules.items():
            found = call.search(source)
            if found:
                return ModuleProblem(message, name, *line_column(source, len(source[: found.start()].encode())))
    rule = pack.decision_rules.get(key or "")
    if rule is not None:
        return ModuleProblem(message, rule.location.file, rule.location.line, rule.location.column)
    return ModuleProblem(message)


@dataclass(frozen=True)
class _Job:
    modules: dict[str, str]
    data: dict[str, Any]
    query: str
    rule_refs: dict[str, str]  # decision key -> Rego reference, to name a failing rule


def _evaluate_chunk(job: _Job, inputs: list[dict[str, Any]]) -> list[Any] | _Failure:
    """The decision per input, or what went wrong."""
    import regopy

    interpreter = regopy.Interpreter()
    interpreter.log_level = regopy.LogLevel.NONE  # else regopy prints its parse errors on stdout
    interpreter.strict_built_in_errors = True
    try:
        for name, source in job.modules.items():
            interpreter.add_module(name, source)
        interpreter.add_data_json(json.dumps(job.data))
        bundle = interpreter.build(f"decision = {job.query}", [])
    except regopy.RegoError as exc:
        return _Failure("load", _regopy_problems(str(exc), job.modules))
    results: list[Any] = []
    for document in inputs:
        _set_input(interpreter, document)
        ok, text = _query(interpreter, bundle)
        if not ok or not text.startswith("{"):
            if text == "undefined":
                return _Failure("decision", value=None)
            return _failing_rule(interpreter, job, text)
        value = json.loads(text).get("bindings", {}).get("decision")
        if not isinstance(value, dict):
            return _Failure("decision", value=value)
        results.append(value)
    return results


def _set_input(interpreter: Any, document: Any) -> None:
    """The input, as JSON text. regopy 1.5.2's `Input(value)` stores strings without escaping
    their quotes, so a spec value echoed by a rule (`x"]}, "...": [`) could rewrite the decision
    document regopy prints; the JSON term parser keeps every string intact."""
    from regopy.rego_shared import rego_set_input_term

    rego_set_input_term(interpreter._impl, json.dumps(document, ensure_ascii=True))


def _query(interpreter: Any, bundle: Any = None, text: str = "") -> tuple[bool, str]:
    """(ok, text) of one query, of the bundle or of `text`. regopy's Output parses the
    text as JSON even when it is an error report, so read it through the C API it wraps."""
    from regopy.rego_shared import (
        rego_bundle_query,
        rego_free_output,
        rego_output_ok,
        rego_output_string,
        rego_query,
    )

    output = (
        rego_bundle_query(interpreter._impl, bundle._impl)
        if bundle is not None
        else rego_query(interpreter._impl, text)
    )
    try:
        ok = bool(rego_output_ok(output))
        answer = rego_output_string(output)
        if not ok:
            answer = _error_detail(output) or answer
        return ok, answer
    finally:
        rego_free_output(output)


def _error_detail(output: Any) -> str:
    """The messages of a failed output's error nodes (`<error>` alone says nothing)."""
    from regopy.node import Node
    from regopy.rego_shared import rego_output_node

    try:
        node = Node(rego_output_node(output))
        texts = [node.at(i).json() for i in range(len(node._children))]
    except Exception:  # an unexpected node shape: the caller still reports "<error>"
        return ""
    return "\n".join(_error_messages("".join(texts))) or "\n".join(texts)


def _failing_rule(interpreter: Any, job: _Job, detail: str) -> _Failure:
    """Query each rule alone (strict built-ins still on) to name the one that fails."""
    for key, ref in job.rule_refs.items():
        try:
            ok, text = _query(interpreter, text=f"value = {ref}")
        except Exception as exc:  # RegoError: the query itself did not compile
            ok, text = False, str(exc)
        if not ok or not (text.startswith("{") or text == "undefined"):
            return _Failure("rule", (ModuleProblem(_describe_regopy_error(text)),), rule=key)
    return _Failure("rule", (ModuleProblem(_describe_regopy_error(detail)),))


_ERROR_MESSAGE = re.compile(r"\(errormsg (\d+):")
_LOAD_ERROR = re.compile(r"\(error (\d+):")


def _error_messages(text: str) -> list[str]:
    """The texts of `(errormsg <length>:<text>)` nodes; the length prefix delimits the text."""
    return [text[m.end() : m.end() + int(m.group(1))] for m in _ERROR_MESSAGE.finditer(text)]


def _describe_regopy_error(text: str) -> str:
    messages = _error_messages(text)
    return "; ".join(dict.fromkeys(messages)) if messages else _first_lines(text, 3)


def _regopy_problems(text: str, modules: dict[str, str]) -> tuple[ModuleProblem, ...]:
    """regopy's load errors: `(error <len>:<module>|<byte offset>|<length> (errormsg <len>:<text>) ...)`."""
    problems: list[ModuleProblem] = []
    for match in _LOAD_ERROR.finditer(text):
        start = match.end()
        name = text[start : start + int(match.group(1))]
        rest = text[start + len(name) :]
        position = re.match(r"\|(\d+)\|", rest)
        messages = _error_messages(rest)
        if name not in modules or position is None or not messages:
            continue
        line, column = line_column(modules[name], int(position.group(1)))
        problems.append(ModuleProblem(messages[0], name, line, column))
    return tuple(problems) or (ModuleProblem(_first_lines(text)),)


_BATCH_PACKAGE = "mlci_batch_3f9a"  # unlikely to clash with a user's package


def _batch_module(query: str) -> str:
    return f"""package {_BATCH_PACKAGE}
import rego.v1

# One evaluation for every project: OPA compiles the pack once.
results := [decision | some project in input.projects; decision := {query} with input as project]
"""


# Errors that mean the policies could not be parsed or compiled, as opposed to a
# failure while evaluating them.
_COMPILE_CODES = frozenset(
    {"rego_parse_error", "rego_compile_error", "rego_type_error", "rego_unsafe_var_error", "rego_recursion_error"}
)


class OpaBinaryEngine:
    """The `opa` binary on PATH (or $MLCI_OPA): one `opa eval` for all specs, with
    strict built-in errors, under one deadline."""

    name = "opa"

    def __init__(self, executable: str | None = None, timeout: float = DEFAULT_OPA_TIMEOUT) -> None:
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
            # Numbered copies: no two module names can collide, and each maps back to its source.
            copies: dict[str, str] = {}
            for index, (name, source) in enumerate(pack.modules.items()):
                copy = policy_dir / f"m{index:04d}.rego"
                copy.write_text(source, encoding="utf-8")
                copies[str(copy)] = name
            (policy_dir / "batch.rego").write_text(_batch_module(pack.decision_query), encoding="utf-8")
            (root / "data.json").write_text(json.dumps(data), encoding="utf-8")
            (root / "input.json").write_text(json.dumps({"projects": inputs}), encoding="utf-8")
            command = [
                self.executable,
                "eval",
                "--strict-builtin-errors",
                "--format",
                "json",
                "--data",
                str(policy_dir),
                "--data",
                str(root / "data.json"),
                "--input",
                str(root / "input.json"),
                f"data.{_BATCH_PACKAGE}.results",
            ]
            try:
                proc = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout, check=False)
            except OSError as exc:
                raise PolicyEngineError(self.name, f"cannot run {self.executable}: {exc.strerror}") from None
            except subprocess.TimeoutExpired:
                raise PolicyEngineError(
                    self.name, f"opa eval did not finish within the deadline ({self.timeout:g} s, --opa-timeout)"
                ) from None
        if proc.returncode != 0:
            raise self._error(pack, proc.stdout, proc.stderr, copies)
        try:
            results = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise PolicyEngineError(self.name, f"{pack.decision_query} is undefined") from None
        if not isinstance(results, list) or len(results) != len(inputs):
            raise PolicyEngineError(self.name, "opa returned a result of the wrong shape")
        return [checked_decision(self.name, pack, value) for value in results]

    def _error(self, pack: PolicyPack, stdout: str, stderr: str, copies: dict[str, str]) -> MlciError:
        try:
            errors = json.loads(stdout)["errors"]
        except (json.JSONDecodeError, KeyError, TypeError):
            return PolicyEngineError(self.name, _first_lines(stderr or stdout))
        return opa_error(self.name, pack, errors, copies)


def opa_error(
    engine: str,
    pack: PolicyPack,
    errors: Sequence[Any],
    modules_by_file: dict[str, str],
    foreign_sources: dict[str, str] | None = None,
) -> MlciError:
    """The error for OPA's JSON error list (`opa eval --format json`, the REST API):
    each error's `location.file` is looked up in `modules_by_file` (temporary copy
    or policy id -> the pack's module name); a file that is no module of the pack
    (a server's own policy) names its rule through `foreign_sources` (id -> source)."""
    problems: list[ModuleProblem] = []
    codes: list[str] = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        location = error.get("location")
        if not isinstance(location, dict):
            location = {}
        file = str(location.get("file", ""))
        message = str(error.get("message", "")).strip() or str(error.get("code", "error"))
        codes.append(str(error.get("code", "")))
        line, column = _number(location.get("row")), _number(location.get("col"))
        problems.append(ModuleProblem(message, modules_by_file.get(file), line, column, file))
    if not problems:
        return PolicyEngineError(engine, _first_lines(json.dumps(errors)[:500]))
    if all(code in _COMPILE_CODES for code in codes):
        return compile_error(engine, pack, problems)
    failed = problems[next(i for i, code in enumerate(codes) if code not in _COMPILE_CODES)]
    rule = None
    if failed.module is None and foreign_sources:
        # A server started on files names them by path, its policy ids without the leading "/".
        source = foreign_sources.get(failed.file) or foreign_sources.get(failed.file.lstrip("/"))
        rule = rule_in_source(source, failed.line) if source else None
    return evaluation_error(engine, pack, failed, rule)


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _first_lines(text: str, n: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[:n])


def _server_engine(*args: Any, **kwargs: Any) -> PolicyEngine:
    from mlci.policy.opa_server import OpaServerEngine

    return OpaServerEngine(*args, **kwargs)


ENGINES: dict[str, Callable[..., PolicyEngine]] = {
    "embedded": EmbeddedEngine,
    "opa": OpaBinaryEngine,
    "opa-server": _server_engine,
}
