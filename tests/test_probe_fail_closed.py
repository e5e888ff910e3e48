"""Held-out probe of "fail closed" (issue 9, section 1): payloads other than the
issue's, each run on every engine (embedded, `opa` binary, a real OPA server).

A policy that mlci cannot read the way every engine reads it is exit 2 at the
user's file and line on all three engines; never exit 0, never a disagreement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, Result
from tests.real_opa import running_opa, serving
from tests.test_fail_closed import engine  # noqa: F401  (the per-engine fixture)

pytestmark = pytest.mark.opa
ROOT = Path(__file__).resolve().parent.parent
H = "package main\nimport rego.v1\n\n"

# name -> (files of the --policies folder, the line of the first file the error names)
REFUSED: dict[str, tuple[dict[str, str], int]] = {
    # OPA reads two rules on one line; the scanner saw only `x` and skipped deny (exit 0).
    "two-rules-on-one-line": ({"custom.rego": H + 'x := 1 deny contains "pwn" if true\n'}, 4),
    "rule-after-import-on-one-line": ({"custom.rego": 'package main\nimport rego.v1 deny contains "pwn" if true\n'}, 2),
    # `main["sub-pkg"]` was read as package `main[]`: its rules were never queried (exit 0).
    "quoted-package-segment": (
        {"custom.rego": 'package main["sub-pkg"]\nimport rego.v1\n\ndeny contains "pwn" if true\n'},
        1,
    ),
    # One more clause of a built-in helper switches built-in rules off (exit 0 on a failing spec).
    "clause-added-to-builtin-package": (
        {"custom.rego": "package mlci.approvals\nimport rego.v1\n\nat_least(value, minimum) if true\n"},
        1,
    ),
    "rule-in-builtin-parent-package": (
        {"custom.rego": "package mlci\nimport rego.v1\n\napprovals.at_least(value, minimum) if true\n"},
        1,
    ),
    # A module over mlci's data: the embedded engine let data win (exit 1), OPA refused it (exit 2).
    "module-over-settings-data": (
        {"custom.rego": "package mlci_settings\nimport rego.v1\n\nmin_production_approvers := 0\n"},
        1,
    ),
    "module-over-runtime-data": ({"custom.rego": 'package mlci_runtime\nimport rego.v1\n\ntoday := "1900-01-01"\n'}, 1),
    # Rego v0: regopy evaluated it (exit 1), OPA 1.x refused it (exit 2).
    "rego-v0-partial-set": ({"custom.rego": 'package main\n\ndeny[msg] {\n  msg := "pwn"\n}\n'}, 3),
    "rego-v0-function": ({"custom.rego": H + "helper(x) {\n  x > 1\n}\n"}, 4),
    # A deny rule in a *_test.rego file was skipped on every engine (exit 0).
    "deny-in-test-file": ({"custom_test.rego": H + 'deny contains "pwn" if true\n'}, 4),
    # Built-ins that differ per run or engine: regopy lacks trace (exit 2 vs 1), refuses networking (3 vs 1).
    "trace-builtin": ({"custom.rego": H + 'deny contains "pwn" if {\n  trace("hi")\n}\n'}, 5),
    "network-builtin": ({"custom.rego": H + 'deny contains "pwn" if {\n  net.lookup_ip_addr("localhost")\n}\n'}, 5),
    "clock-builtin": ({"custom.rego": H + 'deny contains "pwn" if {\n  time.now_ns() > 0\n}\n'}, 5),
}

FAILING_SPEC_EDIT = (
    "      required: 2\n      approvers: [grace, heidi]",
    "      required: 1\n      approvers: [grace, heidi]",
)


def _failing_spec(tmp_path: Path) -> Path:
    """credit-risk with one production approval: MLCI-APR-001 fires."""
    text = (EXAMPLES[0] / "mlproject.yaml").read_text()
    assert FAILING_SPEC_EDIT[0] in text
    spec = tmp_path / "project" / "mlproject.yaml"
    spec.parent.mkdir()
    spec.write_text(text.replace(*FAILING_SPEC_EDIT))
    return spec


def _check(cli, spec: Path, *args: str) -> Result:  # type: ignore[no-untyped-def]
    return cli("check", str(spec), "--now", "2026-11-22", *args)


def test_the_failing_spec_fails(cli, tmp_path: Path, engine: list[str]) -> None:  # noqa: F811
    """The control for the cases below: without a custom policy, the spec fails."""
    result = _check(cli, _failing_spec(tmp_path), *engine)
    assert result.exit_code == 1, result.stderr
    assert "MLCI-APR-001" in result.stdout


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_policy_mlci_cannot_read_alike_is_exit_2(cli, tmp_path: Path, engine: list[str], case: str) -> None:  # noqa: F811
    files, line = REFUSED[case]
    policies = tmp_path / "policies"
    policies.mkdir()
    for name, text in files.items():
        (policies / name).write_text(text)
    result = _check(cli, _failing_spec(tmp_path), "--policies", str(policies), *engine)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    first = policies / next(iter(files))
    assert re.search(re.escape(str(first)) + rf":{line}:\d+:", result.stderr), result.stderr


def test_lone_carriage_returns_end_lines(cli, tmp_path: Path, engine: list[str]) -> None:  # noqa: F811
    """Old-Mac line ends: every engine reads two statements, and so does mlci."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "custom.rego").write_text(
        'package main\rimport rego.v1\r\rx := 1\rdeny contains "cr" if true\r', newline=""
    )
    result = _check(cli, EXAMPLES[0] / "mlproject.yaml", "--policies", str(policies), *engine)
    assert result.exit_code == 1, result.stderr
    assert "main.deny" in result.stdout


# name -> (a --data file's text, the line:column the error names, or None: it must decide)
DATA: dict[str, tuple[str, str | None]] = {
    # json keeps the last of two keys: the first (here the real settings) was read by no one.
    "duplicate-key": ('{"mlci_settings": {"min_production_approvers": 0},\n "mlci_settings": {}}\n', "2:2"),
    "duplicate-nested-key": (
        '{"min_production_approvers": 3,\n "allowed_regions": [], "min_production_approvers": 2}\n',
        "2:25",
    ),
    # The `opa` engine's batch package: exit 3 there (a conflict), a pass elsewhere.
    "reserved-generated-key": ('{"mlci_settings": {},\n "mlci_batch_3f9a": {"results": []}}\n', "2:2"),
    # Written at data.a.b by the server's Data API, read at data["a/b"] elsewhere.
    "slash-in-key": ('{"mlci_settings": {},\n "a/b": {}}\n', "2:2"),
    # Organisation data that is not an object: exit 3 on the server only (its client took only objects).
    "list-valued-data": ('{"mlci_settings": {},\n "allowed_teams": ["risk"],\n "limit": 3}\n', None),
}


@pytest.mark.parametrize("case", sorted(DATA))
def test_data_file_is_read_alike(cli, tmp_path: Path, engine: list[str], case: str) -> None:  # noqa: F811
    text, where = DATA[case]
    data = tmp_path / "data.json"
    data.write_text(text)
    result = _check(cli, _failing_spec(tmp_path), "--data", str(data), *engine)
    assert "Traceback" not in result.stderr
    if where is None:
        assert result.exit_code == 1, result.stderr
        assert "MLCI-APR-001" in result.stdout
    else:
        assert result.exit_code == 2, (result.exit_code, result.stderr)
        assert f"{data}:{where}:" in result.stderr


@contextmanager
def _redirecting(target: str, status: int) -> Iterator[str]:
    """A peer that answers every request with a redirect to `target` (a proxy moving the server)."""

    class Redirect(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(status)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    with serving(Redirect) as url:
        yield url


@pytest.mark.parametrize("status", [301, 302, 303, 307])
def test_redirect_to_a_server_holding_the_pack_is_exit_3(cli, tmp_path: Path, status: int) -> None:
    """On 301/302/303 a client repeats the POST as a GET without the input: OPA decided over
    no input, every rule undefined, and a failing spec passed (exit 0)."""
    policies = sorted(p for p in (ROOT / "policies").glob("*.rego") if not p.name.endswith("_test.rego"))
    spec = _failing_spec(tmp_path)
    with running_opa(*policies) as url, _redirecting(url, status) as proxy:
        assert _check(cli, spec, "--opa-url", url, "--opa-server-policies").exit_code == 1
        result = _check(cli, spec, "--opa-url", proxy, "--opa-server-policies")
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "redirect" in result.stderr


VICTIM = (
    "package main\nimport rego.v1\n\n"
    'deny contains "the project is not allowed" if {\n  not allowed(input.project.name)\n}\n\n'
    'allowed(name) if name == "nope"\n'
)
ATTACKER = "package main\nimport rego.v1\n\nallowed(name) if true\n"


def test_an_earlier_check_leaves_nothing_on_the_server(cli, tmp_path: Path) -> None:
    """One check's uploaded modules stayed on a shared server and joined the next
    check's decision: another project's `allowed(name) if true` made it pass (exit 0)."""
    attacker, victim = tmp_path / "attacker", tmp_path / "victim"
    for folder, text in ((attacker, ATTACKER), (victim, VICTIM)):
        folder.mkdir()
        (folder / "policy.rego").write_text(text)
    spec = EXAMPLES[0] / "mlproject.yaml"
    with running_opa() as url:
        assert _check(cli, spec, "--opa-url", url, "--policies", str(attacker)).exit_code == 0
        result = _check(cli, spec, "--opa-url", url, "--policies", str(victim))
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "the project is not allowed" in result.stdout


def test_foreign_module_in_an_evaluated_package_is_exit_3(cli, tmp_path: Path) -> None:
    """A module mlci did not upload (loaded by hand, or left by a check that was killed)."""
    stale, victim = tmp_path / "stale.rego", tmp_path / "victim"
    stale.write_text(ATTACKER)
    victim.mkdir()
    (victim / "policy.rego").write_text(VICTIM)
    with running_opa(stale) as url:
        result = _check(cli, EXAMPLES[0] / "mlproject.yaml", "--opa-url", url, "--policies", str(victim))
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "did not upload" in result.stderr and "package main" in result.stderr
