"""Fail closed: every way a policy, a data file or an engine can fail gives the same
exit code on every engine (2: the user's input; 3: mlci could not decide), never 0.

Engines: embedded (regopy), the `opa` binary, and a real OPA server started on
127.0.0.1 for each case. Server-only failures (unreachable, a decision that is
missing or partial, a trickling peer) are at the bottom.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result
from tests.real_opa import answering, free_port, opa_binary, running_opa, trickling

pytestmark = pytest.mark.opa
ROOT = Path(__file__).resolve().parent.parent
ENGINES = ["embedded", "opa", "opa-server"]


@dataclass(frozen=True)
class Case:
    name: str
    exit_code: int
    policy: str | None = None  # a user module, tmp/policies/custom.rego
    data: str | None = None  # a --data file's text, tmp/data.json
    stderr: tuple[str, ...] = ()  # what the message must name; {policy} and {data} are the files


SPEC = EXAMPLES[0] / "mlproject.yaml"  # project.name is "credit-risk"

CASES = [
    Case(
        "syntax-error-in-user-rego",
        2,
        policy='package custom\nimport rego.v1\n\ndeny contains msg if {\n  msg = := "a"\n}\n',
        stderr=("{policy}:",),
    ),
    Case(
        "unclosed-bracket-in-user-rego",
        2,
        policy='package custom\nimport rego.v1\n\ndeny contains msg if {\n  msg := "a"\n',
        stderr=("{policy}:",),
    ),
    Case(
        "dangling-operator-in-user-rego",
        2,
        policy='package custom\nimport rego.v1\n\ndeny contains msg if {\n  msg := "a" +\n}\n',
        stderr=("{policy}:",),
    ),
    Case(
        "bad-some-in-user-rego",
        2,
        policy="package custom\nimport rego.v1\n\ndeny contains msg if {\n  some x in in input\n  msg := x\n}\n",
        stderr=("{policy}:",),
    ),
    Case(
        "unknown-function-in-user-rego",
        2,
        policy="package custom\nimport rego.v1\n\ndeny contains msg if {\n  msg := no_such_function(1)\n}\n",
        stderr=("{policy}:",),
    ),
    Case("uninterpretable-rule", 2, policy="package custom\nimport rego.v1\n\ndeny := 42\n", stderr=("{policy}:4:",)),
    Case("bad-settings-type", 2, data='{"min_production_approvers": "two"}\n', stderr=("{data}:1:",)),
    Case("invalid-json-data", 2, data='{"min_production_approvers": 2,\n', stderr=("{data}:",)),
    Case(
        "builtin-error-to-number",
        3,
        policy='package custom\nimport rego.v1\n\ndeny contains "big" if {\n  to_number(input.project.name) > 1\n}\n',
        stderr=("custom.deny",),
    ),
    Case(
        "builtin-error-division-by-zero",
        3,
        policy=(
            'package custom\nimport rego.v1\n\nwarn contains "ratio" if {\n'
            '  1 / count(object.get(input, "no_such_key", [])) > 0\n}\n'
        ),
        stderr=("custom.warn",),
    ),
    Case(
        "conflicting-values",
        3,
        policy=(
            "package custom\nimport rego.v1\n\n"
            'deny := {"msg": "a"} if { input.project.name }\ndeny := {"msg": "b"} if { input.project.name }\n'
        ),
        stderr=("custom.deny",),
    ),
]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The arguments that select an engine (a fresh real OPA server for opa-server)."""
    if request.param == "embedded":
        yield []
    elif request.param == "opa":
        monkeypatch.setenv("MLCI_OPA", opa_binary())
        yield ["--engine", "opa"]
    else:
        with running_opa() as url:
            yield ["--opa-url", url]


def _check(cli: Callable[..., Result], *args: str) -> Result:
    return cli("check", str(SPEC), "--now", "2026-11-22", *args)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_exit_code_on_every_engine(cli, tmp_path: Path, engine: list[str], case: Case) -> None:
    args: list[str] = []
    policy_file = tmp_path / "policies" / "custom.rego"
    data_file = tmp_path / "data.json"
    if case.policy is not None:
        policy_file.parent.mkdir()
        policy_file.write_text(case.policy)
        args += ["--policies", str(policy_file.parent)]
    if case.data is not None:
        data_file.write_text(case.data)
        args += ["--data", str(data_file)]
    result = _check(cli, *args, *engine)
    assert result.exit_code == case.exit_code != 0, result.stderr
    assert "Traceback" not in result.stderr
    for needed in case.stderr:
        assert needed.format(policy=policy_file, data=data_file) in result.stderr
    if case.exit_code == 2 and case.policy is not None:
        # The user's own file and a line of it; never a temporary copy or a policy id.
        line = int(re.search(re.escape(str(policy_file)) + r":(\d+):\d+:", result.stderr).group(1))  # type: ignore[union-attr]
        assert 1 <= line <= len(case.policy.splitlines())
        assert "mlci-opa-" not in result.stderr and "mlci/" not in result.stderr


@pytest.mark.parametrize("module", ["built-in", "decision"])
def test_rego_error_in_mlci_own_module_is_exit_3(tmp_path: Path, engine: list[str], module: str) -> None:
    """A broken module of mlci's own pack (built-in or generated) is mlci's problem, not the user's input."""
    from mlci.commands.check import CheckOptions, make_engine
    from mlci.errors import EXIT_UNDECIDED, MlciError
    from mlci.loader import load_spec
    from mlci.policy.decision import DECISION_MODULE
    from mlci.policy.evaluate import evaluate_specs
    from mlci.policy.pack import load_pack

    pack = load_pack()
    name = DECISION_MODULE if module == "decision" else "mlci/gdpr.rego"
    pack.modules[name] = pack.modules[name].replace("import rego.v1", "import rego.v1\n\nbroken := [1, 2\n", 1)
    options = CheckOptions(
        engine="opa" if "--engine" in engine else "embedded",
        opa_url=engine[1] if "--opa-url" in engine else None,
    )
    with pytest.raises(MlciError) as caught:
        evaluate_specs(make_engine(options), pack, [load_spec(SPEC)], "2026-11-22")
    assert caught.value.exit_code == EXIT_UNDECIDED, caught.value.message


def test_opa_binary_missing_is_exit_3(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_OPA", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    result = _check(cli, "--engine", "opa")
    assert result.exit_code == 3
    assert "no `opa` binary" in result.stderr


def test_opa_binary_past_the_deadline_is_exit_3(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_OPA", opa_binary())
    (tmp_path / "slow.rego").write_text(
        "package custom\nimport rego.v1\n\n"
        'deny contains "slow" if { count([i | some i in numbers.range(1, 1000000000)]) < 0 }\n'
    )
    started = time.monotonic()
    result = _check(cli, "--engine", "opa", "--policies", str(tmp_path), "--opa-timeout", "2")
    assert result.exit_code == 3, result.stderr
    assert time.monotonic() - started < 15
    assert "deadline" in result.stderr


def test_server_unreachable_is_exit_3(cli) -> None:
    result = _check(cli, "--opa-url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 3
    assert "server unreachable" in result.stderr


@pytest.mark.parametrize(
    "answer",
    [{"result": {}}, {}, {"result": None}, {"result": []}, {"result": {"mlci.gdpr.unrelated": False}}],
    ids=["empty-decision", "undefined", "null", "not-an-object", "other-rules"],
)
@pytest.mark.parametrize("mode", ["--opa-upload", "--opa-server-policies"])
def test_server_without_the_decision_is_exit_3(cli, answer: object, mode: str) -> None:
    """A server that accepts every upload but answers without mlci's decision."""
    with answering(answer) as url:
        result = _check(cli, "--opa-url", url, mode)
    assert result.exit_code == 3, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("loaded", [(), ("gdpr.rego",), ("gdpr.rego", "approvals.rego", "evaluation.rego")])
def test_server_holding_part_of_the_rules_is_exit_3(cli, loaded: tuple[str, ...]) -> None:
    with running_opa(*(ROOT / "policies" / name for name in loaded)) as url:
        result = _check(cli, "--opa-url", url, "--opa-server-policies")
    assert result.exit_code == 3, result.stderr
    assert "missing:" in result.stderr


def test_server_holding_every_rule_decides(cli) -> None:
    """The control for the cases above: the coverage check passes a complete server,
    and it decides like the embedded engine does."""
    policies = sorted(p for p in (ROOT / "policies").glob("*.rego") if not p.name.endswith("_test.rego"))
    with running_opa(*policies) as url:
        server = _check(cli, "--opa-url", url, "--opa-server-policies", "-o", "json")
    embedded = _check(cli, "-o", "json")
    assert server.exit_code in (0, 1), server.stderr
    assert server.exit_code == embedded.exit_code


def test_server_builtin_error_with_server_policies_is_exit_3(cli, tmp_path: Path) -> None:
    policies = sorted(p for p in (ROOT / "policies").glob("*.rego") if not p.name.endswith("_test.rego"))
    custom = tmp_path / "custom.rego"
    custom.write_text(
        'package custom\nimport rego.v1\n\ndeny contains "x" if {\n  to_number(input.project.name) > 1\n}\n'
    )
    with running_opa(*policies, custom) as url:
        result = _check(cli, "--opa-url", url, "--opa-server-policies", "--policies", str(tmp_path))
    assert result.exit_code == 3, result.stderr
    assert "custom.deny" in result.stderr


def test_trickling_server_is_stopped_at_the_deadline(cli) -> None:
    """One byte every 5 s never trips a socket timeout; the overall deadline does."""
    with trickling(interval=5.0) as url:
        started = time.monotonic()
        result = _check(cli, "--opa-url", url, "--opa-timeout", "3")
        elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.stderr
    assert "deadline" in result.stderr
    assert elapsed < 3 + 2
