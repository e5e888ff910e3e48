"""The Argo Workflows target: the model's training chain in the cluster, read back as a job graph
(tests/conformance/argo.py) and compared with the lifecycle model, for both examples and the
lifecycle's spec variants; strict against Argo's published CRDs; hardened; and what it refuses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlci.loader import Spec
from mlci.pipeline import SPEC, Event, Pipeline, StepKind, build_pipeline
from mlci.render import RENDERERS
from mlci.render.argo import cluster_jobs
from mlci.render.context import build_context
from tests import judges
from tests.conformance.argo import ArgoWorkflow, load, parse
from tests.conftest import EXAMPLES, require_tool, run_cli
from tests.crds.validate import findings
from tests.pipeline.specs import all_variants, example_spec

VARIANTS = all_variants()


def _rendered(spec: Spec) -> dict[str, str]:
    context = build_context(spec, spec.directory, ("argo",))
    return {f.path: f.body for f in RENDERERS["argo"].render(context)}


def _documents(files: dict[str, str]) -> list[dict[str, Any]]:
    return load(*(body for path, body in files.items() if not path.endswith("kustomizeconfig.yaml")))


def _one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind]
    assert len(found) == 1, [d["kind"] for d in documents]
    return found[0]


def _assert_conforms(workflow: ArgoWorkflow, pipeline: Pipeline) -> None:
    jobs = cluster_jobs(pipeline)
    names = {job.name for job in jobs}
    assert [task.name for task in workflow.tasks] == [job.name for job in jobs]
    for job in jobs:
        task = workflow.task(job.name)
        assert task.needs == tuple(need for need in job.needs if need in names), job.name
        assert task.when == job.condition.when.value, job.name
        assert task.timeout_minutes == job.timeout_minutes, job.name
        expected = tuple(
            tuple(pipeline.spec_file if arg == SPEC else arg for arg in step.args) for step in job.mlci_steps()
        )
        assert task.commands == expected, job.name
        install = next(step for step in job.steps if step.kind is StepKind.INSTALL)
        assert (task.installs, task.installs_requirements) == (install.extras, install.requirements), job.name
        wanted = {name for step in job.mlci_steps() for name in step.secrets}
        assert {name for name, _, _ in task.secrets} == wanted, job.name
        # Every artifact the job reads or writes lies in a folder the run's claim carries.
        for artifact in (*job.inputs, *job.outputs):
            assert any(
                artifact.directory == folder or artifact.directory.startswith(folder + "/")
                for folder in task.workspace_folders
            ), (job.name, artifact)
    schedule = pipeline.trigger(Event.TRAINING_SCHEDULE)
    assert workflow.schedule == (schedule.cron if schedule else None)


# Conformance: the workflow is the model's training chain ---------------------------------


@pytest.mark.parametrize(("name", "spec"), VARIANTS, ids=[name for name, _ in VARIANTS])
def test_the_workflow_is_the_models_training_chain(name: str, spec: Spec) -> None:
    files = _rendered(spec)
    documents = _documents(files)
    _assert_conforms(parse(documents), build_pipeline(spec))
    assert findings(documents, name) == [], "strict against Argo's published CRDs"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_train_evaluate_gate_and_register_in_the_cluster(example: Path) -> None:
    workflow = parse(_documents(_rendered(example_spec(example.name))))
    assert workflow.edges() == (
        ("train", "evaluate"),
        ("train", "gate"),
        ("evaluate", "gate"),
        ("train", "register"),
        ("evaluate", "register"),
        ("gate", "register"),
    )
    assert [task.commands[0][0] for task in workflow.tasks] == ["run", "run", "gate", "register"]
    assert workflow.task("train").commands == (("run", "mlproject.yaml", "--stage", "train"),)
    assert workflow.schedule is not None and workflow.timezone == "Etc/UTC"
    # The tracking URI is required: without it mlci would register into a registry inside the pod.
    for task in workflow.tasks:
        assert ("MLFLOW_TRACKING_URI", f"{workflow.name.removesuffix('-retrain')}-mlflow", False) in task.secrets
        assert task.workspace_folders == ("artifacts",), "the model and run records pass on the claim"


def test_no_schedule_no_cronworkflow_but_the_template_stays() -> None:
    spec = dict(VARIANTS)["iris-classifier:no-schedules"]
    files = _rendered(spec)
    assert "k8s/argo/cronworkflow.yaml" not in files
    assert parse(_documents(files)).schedule is None
    kustomization = YAML(typ="safe").load(files["k8s/argo/kustomization.yaml"])
    assert kustomization["resources"] == ["rbac.yaml", "workflowtemplate.yaml"]


def test_the_parser_reads_what_it_is_given() -> None:
    """The conformance parser is no echo of the model: a hand-edited DAG reads differently."""
    documents = _documents(_rendered(example_spec()))
    template = _one(documents, "WorkflowTemplate")
    dag = template["spec"]["templates"][0]["dag"]["tasks"]
    dag[3]["dependencies"] = ["train"]
    with pytest.raises(AssertionError):
        _assert_conforms(parse(documents), build_pipeline(example_spec()))
    dag[3].pop("dependencies")
    dag[3]["depends"] = "gate.Failed"
    assert parse(documents).task("register").when == "failure"


# Which targets render ------------------------------------------------------------------


def _copy(example: Path, tmp_path: Path) -> Path:
    folder = tmp_path / example.name
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    return folder


def test_a_scheduled_spec_renders_argo_by_default_an_unscheduled_one_on_request(tmp_path: Path) -> None:
    scheduled = _copy(EXAMPLES[0], tmp_path / "a")
    assert run_cli("render", str(scheduled)).exit_code == 0
    assert (scheduled / "k8s/argo/cronworkflow.yaml").is_file()
    assert "!mlproject.yaml" in (scheduled / ".dockerignore").read_text(), "the workflow runs mlci on the spec"
    unscheduled = _copy(EXAMPLES[0], tmp_path / "b")
    spec = unscheduled / "mlproject.yaml"
    data = YAML(typ="safe").load(spec.read_text())
    del data["training"]["schedule"]
    with spec.open("w") as handle:
        YAML(typ="safe").dump(data, handle)
    assert run_cli("render", str(unscheduled)).exit_code == 0
    assert not (unscheduled / "k8s/argo").exists()
    assert run_cli("render", str(unscheduled), "--target", "argo").exit_code == 0
    assert (unscheduled / "k8s/argo/workflowtemplate.yaml").is_file()
    assert not (unscheduled / "k8s/argo/cronworkflow.yaml").exists()


def test_a_model_at_the_project_top_is_refused_not_lost(tmp_path: Path) -> None:
    folder = _copy(EXAMPLES[0], tmp_path)
    spec = folder / "mlproject.yaml"
    spec.write_text(spec.read_text().replace("model: artifacts/model.joblib", "model: model.joblib"))
    result = run_cli("render", str(folder), "--target", "argo")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "training.outputs.model" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("  registry: s3://mlci-dev-models/credit-risk", "  registry: https://mlflow.acme-ml.eu/{{workflow.name}}"),
        ('    version: "2026-10-31"', "    version: \"{{=sprig.env('HOME')}}\""),
    ],
)
def test_argo_expressions_from_the_spec_are_refused(field: str, value: str, tmp_path: Path) -> None:
    folder = _copy(EXAMPLES[0], tmp_path)
    spec = folder / "mlproject.yaml"
    assert field in spec.read_text()
    spec.write_text(spec.read_text().replace(field, value))
    line = spec.read_text().splitlines().index(value) + 1
    result = run_cli("render", str(folder), "--target", "argo")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"mlproject.yaml:{line}:" in result.stderr and "Argo Workflows evaluates" in result.stderr
    assert not (folder / "k8s/argo").exists(), "nothing is written"


# Hardened, pinned, and as a cluster receives it ------------------------------------------


def test_the_workflow_is_hardened() -> None:
    documents = _documents(_rendered(example_spec("credit-risk")))
    spec = _one(documents, "WorkflowTemplate")["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] != "default"
    assert spec["executor"]["serviceAccountName"] != spec["serviceAccountName"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["volumeClaimGC"] == {"strategy": "OnWorkflowCompletion"}
    containers = [c for t in spec["templates"] if "container" in t for c in [t["container"], *t["initContainers"]]]
    assert len(containers) == 8
    for container in containers:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] == container["resources"]["limits"]
        assert "@sha256:" in container["image"], "images are pinned by digest"
    accounts = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ServiceAccount"}
    assert all(account["automountServiceAccountToken"] is False for account in accounts.values())
    (role,) = [d for d in documents if d["kind"] == "Role"]
    assert role["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
    ]


@pytest.mark.judges
def test_the_kustomization_pins_the_workflows_image(tmp_path: Path) -> None:
    folder = _copy(EXAMPLES[1], tmp_path)
    assert run_cli("render", str(folder)).exit_code == 0
    kustomize = str(require_tool(judges.tool("kustomize"), "kustomize"))
    argo = folder / "k8s/argo"
    digest = "sha256:" + "1" * 64
    subprocess.run(
        [kustomize, "edit", "set", "image", f"ghcr.io/mlci-dev/iris-classifier@{digest}"], cwd=argo, check=True
    )
    built = subprocess.run([kustomize, "build", str(argo)], capture_output=True, text=True, check=True).stdout
    documents = load(built)
    template = _one(documents, "WorkflowTemplate")
    images = {
        c["image"]
        for t in template["spec"]["templates"]
        if "container" in t
        for c in [t["container"], *t["initContainers"]]
    }
    assert images == {f"ghcr.io/mlci-dev/iris-classifier@{digest}"}
    assert findings(documents, "built") == []
    for _, tool, run in judges.JUDGES["argo"]:
        require_tool(judges.tool(tool), tool)
        verdict = run([argo / "workflowtemplate.yaml"])
        assert verdict.ok, verdict.output[-4000:]
