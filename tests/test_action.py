"""action.yml, the composite GitHub Action: actionlint-clean in a workflow that uses it, its
scripts shellcheck-clean, and its `run:` steps executed as the runner would run a composite:
in order, with the step's env, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and the step conditions."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import FIXTURES, ROOT, copy_spec, validators_prefix

ACTION = YAML(typ="safe").load((ROOT / "action.yml").read_text())
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _tool(name: str) -> str | None:
    for folder in (validators_prefix() / "go" / "bin", validators_prefix() / "py" / "bin"):
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def test_every_action_it_uses_is_pinned_by_commit() -> None:
    uses = [step["uses"] for step in ACTION["runs"]["steps"] if "uses" in step]
    assert uses and all(PINNED.match(u) for u in uses), uses
    templates = (ROOT / "templates" / "github" / "workflow.yml.j2").read_text()
    assert all(u in templates for u in uses), "use the pins the rendered workflows use"


def test_inputs_never_reach_a_script_through_an_expression() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


@pytest.mark.skipif(_tool("actionlint") is None, reason="actionlint not installed (scripts/install-validators)")
def test_a_workflow_using_the_action_is_actionlint_clean(tmp_path: Path) -> None:
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "pr.yml").write_text(
        "name: pr\non: pull_request\npermissions: {contents: read, security-events: write, actions: read}\n"
        "jobs:\n  mlci:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n"
        "        with: {persist-credentials: false}\n"
        "      - id: mlci\n        uses: ./\n"
        "        with: {path: models, fail-on: high, policies: org/policies, upload-sarif: 'false'}\n"
        "      - if: always()\n        env:\n          CODE: ${{ steps.mlci.outputs.exit-code }}\n"
        '        run: echo "mlci exited $CODE"\n'
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    lint = subprocess.run([_tool("actionlint") or "", "-no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # actionlint checks the inputs a workflow passes against action.yml: an unknown one is an error.
    (workflows / "pr.yml").write_text((workflows / "pr.yml").read_text().replace("fail-on: high", "failon: high"))
    lint = subprocess.run([_tool("actionlint") or "", "-no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert lint.returncode == 1 and "failon" in lint.stdout


@pytest.mark.skipif(_tool("check-jsonschema") is None, reason="check-jsonschema not installed")
def test_action_metadata_matches_githubs_schema() -> None:
    done = subprocess.run(
        [_tool("check-jsonschema") or "", "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
@pytest.mark.parametrize("step", [s for s in ACTION["runs"]["steps"] if "run" in s], ids=lambda s: s["name"])
def test_each_script_is_shellcheck_clean(step: dict[str, Any], tmp_path: Path) -> None:
    script = tmp_path / "step.sh"
    script.write_text("#!/usr/bin/env bash\n" + step["run"])
    done = subprocess.run(["shellcheck", "-s", "bash", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


class Composite:
    """Runs action.yml's `run:` steps the way the runner runs a composite action (the `uses:`
    steps, setup-python and the SARIF upload, are GitHub's own and are not run here)."""

    def __init__(self, workspace: Path, runner_temp: Path, python_bin: Path, inputs: dict[str, str]) -> None:
        self.workspace, self.temp, self.python_bin = workspace, runner_temp, python_bin
        self.inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()} | inputs
        self.outputs: dict[str, dict[str, str]] = {}
        self.summaries: dict[str, str] = {}
        self.logs: dict[str, str] = {}
        self.failed = False

    def expression(self, text: str) -> Any:
        """The few expressions action.yml uses: inputs, steps' outputs, runner and github contexts."""
        text = text.strip()
        if text.startswith("${{") and text.endswith("}}"):
            text = text[3:-2].strip()
        context = {
            "inputs": self.inputs,
            "steps": {k: {"outputs": v} for k, v in self.outputs.items()},
            "runner": {"temp": str(self.temp)},
            "github": {"action_path": str(ROOT), "event_name": "push", "repository": "o/r"},
        }
        python = text.replace("!cancelled()", "True").replace("&&", " and ").replace("||", " or ")
        python = re.sub(r"!=\s*''", "!= ''", python)
        python = re.sub(r"([a-z_]+(?:\.[\w-]+)+)", lambda m: repr(_lookup(context, m.group(1))), python)
        return eval(python, {"__builtins__": {}}, {"True": True})

    def interpolate(self, text: str) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self.expression(m.group(1))), text)

    def run(self) -> None:
        for step in ACTION["runs"]["steps"]:
            if "run" not in step:
                continue
            if "if" in step and not self.expression(step["if"]):
                continue
            self._run_step(step)

    def _run_step(self, step: dict[str, Any]) -> None:
        name = step.get("id", step["name"])
        output, summary = self.temp / f"{name}.output", self.temp / f"{name}.summary"
        output.write_text("")
        summary.write_text("")
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR")}
        env |= {
            "PATH": f"{self.python_bin}{os.pathsep}{os.environ['PATH']}",
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": str(self.temp),
        }
        env |= {key: self.interpolate(str(value)) for key, value in step.get("env", {}).items()}
        assert step["shell"] == "bash"
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.logs[name] = done.stdout + done.stderr
        self.outputs[name] = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        self.summaries[name] = summary.read_text()
        self.failed = self.failed or done.returncode != 0


def _lookup(context: dict[str, Any], dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return value


@pytest.fixture(scope="module")
def setup_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What actions/setup-python leaves on PATH: a Python, here with this test run's packages
    visible so that installing mlci needs no downloads besides its build backend."""
    import sysconfig

    venv = tmp_path_factory.mktemp("setup-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # mlci's dependencies come from this test run's environment (a path line in a .pth file);
    # mlci itself is installed into the new one by the Action's install step.
    (site / "_test_run.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """This checkout built once, for the tests that pass `pip-spec` (the first test installs from source)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(out)], check=True)
    return str(next(out.glob("mlci-*.whl")))


def _workspace(tmp_path: Path, spec: Path) -> Path:
    workspace = tmp_path / "workspace"
    copy_spec(spec, workspace / "models" / "one")
    rendered = subprocess.run([sys.executable, "-m", "mlci", "render", "models"], cwd=workspace, capture_output=True)
    assert rendered.returncode == 0, rendered.stderr
    (tmp_path / "runner-temp").mkdir()
    return workspace


def test_the_composite_steps_pass_a_clean_project(tmp_path: Path, setup_python: Path) -> None:
    workspace = _workspace(tmp_path, ROOT / "examples" / "iris-classifier" / "mlproject.yaml")
    action = Composite(workspace, tmp_path / "runner-temp", setup_python, {"path": "models"})
    action.run()
    assert not action.failed, action.logs
    assert (setup_python / "mlci").exists()  # the Install step installed this checkout
    assert action.outputs["check"]["exit-code"] == "0"
    assert "mlci check" in action.summaries["check"]
    sarif = json.loads(Path(action.outputs["check"]["sarif-file"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    assert "up to date" in action.logs["Check the generated files are up to date"]
    # The upload step would run: its condition holds on a push with a SARIF file.
    upload = next(step for step in ACTION["runs"]["steps"] if "upload-sarif" in step.get("uses", ""))
    assert action.expression(upload["if"]) is True


def test_the_composite_steps_fail_with_annotations_summary_and_sarif(
    tmp_path: Path, setup_python: Path, wheel: str
) -> None:
    workspace = _workspace(tmp_path, FIXTURES / "policy" / "MLCI-LIN-001.yaml")
    inputs = {"path": "models\nmodels/one", "fail-on": "high", "render-check": "false", "pip-spec": wheel}
    action = Composite(workspace, tmp_path / "runner-temp", setup_python, inputs)
    action.run()
    assert action.failed
    assert action.outputs["check"]["exit-code"] == "1"
    log = action.logs["check"]
    assert "::error file=models/one/mlproject.yaml,line=16,col=5" in log and "MLCI-LIN-001" in log
    assert "MLCI-LIN-001" in action.summaries["check"]
    sarif = json.loads(Path(action.outputs["check"]["sarif-file"]).read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["MLCI-LIN-001"]
    assert "Check the generated files are up to date" not in action.logs  # render-check: 'false'
    # fail-on above the finding's severity: the same steps pass.
    relaxed = Composite(workspace, tmp_path / "runner-temp", setup_python, {**inputs, "fail-on": "critical"})
    relaxed.run()
    assert not relaxed.failed and relaxed.outputs["check"]["exit-code"] == "0"


def test_an_input_with_shell_syntax_is_data_not_code(tmp_path: Path, setup_python: Path, wheel: str) -> None:
    workspace = _workspace(tmp_path, ROOT / "examples" / "iris-classifier" / "mlproject.yaml")
    marker = tmp_path / "pwned"
    inputs = {"path": f"models;touch${{IFS}}{marker}", "fail-on": f"$(touch {marker})", "pip-spec": wheel}
    action = Composite(workspace, tmp_path / "runner-temp", setup_python, inputs)
    action.run()
    assert action.failed and action.outputs["check"]["exit-code"] == "2"
    assert not marker.exists()
