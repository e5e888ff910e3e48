"""The independent judges of rendered output, run the way their users run them.

Used by the tests, and runnable by hand: `python -m tests.judges DIR`.
Each judge returns (ok, output); a judge never decides from mlci's own code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from tests.crds.validate import validate_files


def prefix() -> Path:
    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("MLCI_VALIDATORS", root / ".validators")).resolve()


def tool(name: str) -> Path | None:
    base = prefix()
    for candidate in (base / "go/bin" / name, base / "py/bin" / name, base / "node/node_modules/.bin" / name):
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


@dataclass(frozen=True)
class Verdict:
    judge: str
    ok: bool
    output: str


def _run(
    judge: str, cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 900
) -> Verdict:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout, check=False)
    return Verdict(judge, proc.returncode == 0, (proc.stdout + proc.stderr).strip())


def classify(tree: Path) -> dict[str, list[Path]]:
    kinds: dict[str, list[Path]] = {
        "github": [],
        "gitlab": [],
        "jenkins": [],
        "azure": [],
        "docker": [],
        "k8s": [],
        "kustomize": [],
        "argo": [],
    }
    for path in sorted(tree.rglob("*")):
        if not path.is_file() or ".git" in path.parts or ".gitlab-ci-local" in path.parts:
            continue
        rel = path.relative_to(tree)
        if rel.parts[:2] == (".github", "workflows") and path.suffix in (".yml", ".yaml"):
            kinds["github"].append(path)
        elif path.name == ".gitlab-ci.yml":
            kinds["gitlab"].append(path)
        elif path.name.startswith("Jenkinsfile"):
            kinds["jenkins"].append(path)
        elif path.name in ("azure-pipelines.yml", "azure-pipelines.yaml"):
            kinds["azure"].append(path)
        elif path.name.startswith("Dockerfile") or path.name.endswith(".Dockerfile"):
            kinds["docker"].append(path)
        elif path.suffix in (".yml", ".yaml") and path.name != "mlproject.yaml":
            docs = [d for d in YAML(typ="safe").load_all(path.read_text()) if isinstance(d, dict)]
            if docs and all("apiVersion" in d and "kind" in d for d in docs):
                kinds["k8s"].append(path)
            if any(d.get("kind") in ARGO_WORKFLOW_KINDS for d in docs):
                kinds["argo"].append(path)
            if path.name == "kustomization.yaml":
                kinds["kustomize"].append(path)
    return kinds


# What checkov's argo_workflows framework reads (Argo Workflows' own kinds, not Rollouts' or CD's).
ARGO_WORKFLOW_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate")


def checkov(framework: str, files: list[Path]) -> Verdict:
    cmd = [str(tool("checkov")), "--quiet", "--compact", "--skip-download", "-o", "cli", "--framework", framework]
    for f in files:
        cmd += ["-f", str(f)]
    return _run(f"checkov/{framework}", cmd)


def kubernetes_validate(files: list[Path]) -> Verdict:
    return _run("kubernetes-validate", [str(tool("kubernetes-validate")), "--strict", "--no-warn", *map(str, files)])


def crd_schemas(files: list[Path]) -> Verdict:
    """Custom resources against their published CRDs' schemas (tests/crds), strictly."""
    checked, problems = validate_files(files)
    return Verdict("crd-schemas", not problems, "\n".join(problems) or f"{checked} custom resources valid")


def kustomize_build(kustomizations: list[Path], out: Path) -> Verdict:
    """`kustomize build` of each kustomization's folder, as a deploy job or Argo CD runs it;
    each result lands in `out` as one multi-document YAML file."""
    outputs = []
    for kustomization in kustomizations:
        folder = kustomization.parent
        target = out / f"{'__'.join(folder.parts[-4:])}.yaml"
        verdict = _run("kustomize", [str(tool("kustomize")), "build", str(folder), "-o", str(target)])
        if not verdict.ok:
            return Verdict("kustomize", False, f"{folder}: {verdict.output}")
        outputs.append(f"{folder} -> {target.name}")
    return Verdict("kustomize", True, "\n".join(outputs))


def built(judge: Callable[[list[Path]], Verdict]) -> Callable[[list[Path]], Verdict]:
    """Run `judge` on what kustomize builds from the kustomizations, not on their sources."""

    def run(kustomizations: list[Path]) -> Verdict:
        with tempfile.TemporaryDirectory() as tmp:
            build = kustomize_build(kustomizations, Path(tmp))
            if not build.ok:
                return build
            verdict = judge(sorted(Path(tmp).glob("*.yaml")))
            return Verdict(f"kustomize build | {verdict.judge}", verdict.ok, verdict.output)

    return run


def check_jsonschema(schema: str, files: list[Path], regex_variant: str = "default") -> Verdict:
    cmd = [str(tool("check-jsonschema")), "--builtin-schema", schema, "--regex-variant", regex_variant]
    return _run(f"schema:{schema}", [*cmd, *map(str, files)])


# kind -> [(judge, the tool it needs, how to run it)]
JUDGES: dict[str, list[tuple[str, str, Callable[[list[Path]], Verdict]]]] = {
    "github": [
        (
            "actionlint",
            "actionlint",
            lambda fs: _run("actionlint", [str(tool("actionlint")), "-no-color", *map(str, fs)]),
        ),
        ("schema:github-workflows", "check-jsonschema", lambda fs: check_jsonschema("vendor.github-workflows", fs)),
        ("checkov/github_actions", "checkov", lambda fs: checkov("github_actions", fs)),
    ],
    "gitlab": [
        ("schema:gitlab-ci", "check-jsonschema", lambda fs: check_jsonschema("vendor.gitlab-ci", fs)),
        ("checkov/gitlab_ci", "checkov", lambda fs: checkov("gitlab_ci", fs)),
    ],
    "jenkins": [
        (
            "npm-groovy-lint",
            "npm-groovy-lint",
            lambda fs: _run(
                "npm-groovy-lint",
                [str(tool("npm-groovy-lint")), "--failon", "warning", "--output", "txt", *map(str, fs)],
            ),
        ),
    ],
    "azure": [
        # Microsoft's schema has patterns that are not valid in ECMAScript's unicode mode.
        (
            "schema:azure-pipelines",
            "check-jsonschema",
            lambda fs: check_jsonschema("vendor.azure-pipelines", fs, regex_variant="nonunicode"),
        ),
        ("checkov/azure_pipelines", "checkov", lambda fs: checkov("azure_pipelines", fs)),
    ],
    "docker": [
        (
            "hadolint",
            "hadolint",
            lambda fs: _run(
                "hadolint", [str(tool("hadolint")), "--no-color", "--failure-threshold", "warning", *map(str, fs)]
            ),
        ),
        ("checkov/dockerfile", "checkov", lambda fs: checkov("dockerfile", fs)),
    ],
    "k8s": [
        ("kubernetes-validate", "kubernetes-validate", kubernetes_validate),
        ("checkov/kubernetes", "checkov", lambda fs: checkov("kubernetes", fs)),
    ],
    "argo": [("checkov/argo_workflows", "checkov", lambda fs: checkov("argo_workflows", fs))],
    # Every kustomization as built: what a cluster actually receives.
    "kustomize": [
        ("kustomize+kubernetes-validate", "kustomize", built(kubernetes_validate)),
        ("kustomize+checkov/kubernetes", "kustomize", built(lambda fs: checkov("kubernetes", fs))),
        ("kustomize+crd-schemas", "kustomize", built(crd_schemas)),
    ],
}


def gitlab_ci_local(
    project: Path,
    variables: dict[str, str],
    jobs: list[str] | None = None,
    merge_request: bool = True,
    path: str | None = None,
    manual: list[str] | None = None,
    file: str | None = None,
) -> Verdict:
    """Run the pipeline for real with gitlab-ci-local's shell executor, from a git copy of `project`
    (`file`: another pipeline file than the root's .gitlab-ci.yml, relative to `project`)."""
    git = ["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    if not (project / ".git").exists():
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project, check=True)
        subprocess.run([*git, "add", "-A"], cwd=project, check=True)
        subprocess.run([*git, "commit", "-qm", "rendered"], cwd=project, check=True)
        subprocess.run(
            [*git, "remote", "add", "origin", "https://gitlab.example.invalid/group/project.git"],
            cwd=project,
            check=True,
        )
    cmd = [str(tool("gitlab-ci-local")), "--shell-executor-no-image"]
    if file:
        cmd += ["--file", file]
    source = (
        {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "1"}
        if merge_request
        else {"CI_PIPELINE_SOURCE": "push"}
    )
    for key, value in {**source, **variables}.items():
        cmd += ["--variable", f"{key}={value}"]
    if jobs:
        cmd += ["--needs", *jobs]
    if manual:
        # Manual jobs (approvals) that later jobs need: gitlab-ci-local refuses the pipeline unless
        # told to play them, where GitLab blocks the later jobs until someone does.
        cmd += ["--manual", *manual]
    env = dict(os.environ)
    if path:
        env["PATH"] = path
    return _run("gitlab-ci-local", cmd, cwd=project, env=env, timeout=1500)


def judge_tree(tree: Path) -> list[Verdict]:
    verdicts = []
    for kind, files in classify(tree).items():
        if files:
            verdicts += [judge(files) for _, _, judge in JUDGES[kind]]
    return verdicts


if __name__ == "__main__":
    results = judge_tree(Path(sys.argv[1]))
    for verdict in results:
        print(f"{'PASS' if verdict.ok else 'FAIL'}  {verdict.judge}")
        if not verdict.ok:
            print(verdict.output[-3000:])
    sys.exit(0 if all(v.ok for v in results) else 1)
