"""Kubernetes manifests: a Kustomize base, one overlay per environment, the training Job
and the Argo CD objects that deploy the overlays.

    k8s/base/                    what every environment runs: the model server (Deployment,
                                 Service, PodDisruptionBudget), the retraining CronJob, the
                                 ServiceAccount, ConfigMap and NetworkPolicies
    k8s/overlays/<env>/          what Argo CD syncs for one environment: the base in its
                                 namespace with its labels, plus its HorizontalPodAutoscaler
                                 (when the environment sets autoscaling), its canary (an Argo
                                 Rollouts Rollout and AnalysisTemplate, or a KServe
                                 InferenceService, in place of the Deployment) and its alerts
                                 (a PrometheusRule, when the spec declares monitoring)
    k8s/overlays/<env>/train/    the training Job in that environment, created on demand
    k8s/jobs/train/              the training Job, environment-neutral
    k8s/argocd/                  an AppProject and one Application per environment

The training Job is kept out of what is applied and synced: a Job's pod template is
immutable, so a Job in the synced set breaks the next deploy that changes its image, and
recreating it on each sync would retrain on each deploy. It is created when a run is wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mlci.errors import UserError
from mlci.render.base import RenderedFile
from mlci.render.jinja import k8s_name, render_template

Condition = Callable[[dict[str, Any]], bool]

# Argo CD's own namespace, where its Applications and AppProjects live (its install default).
ARGOCD_NAMESPACE = "argocd"
# How often a canary's objectives are measured while it runs.
ANALYSIS_INTERVAL = "2m"


def _always(context: dict[str, Any]) -> bool:
    return True


def _serving(context: dict[str, Any]) -> bool:
    return context["serving"] is not None


def _scheduled(context: dict[str, Any]) -> bool:
    return context["training"]["schedule"] is not None


def _workload_is(kind: str) -> Condition:
    return lambda context: context["workload"] == kind


def _hpa(context: dict[str, Any]) -> bool:
    # KServe scales its predictor itself (minReplicas/maxReplicas in the InferenceService).
    return context["workload"] in ("deployment", "rollout") and context["env"]["autoscaling"] is not None


def _analysed(context: dict[str, Any]) -> bool:
    return context["workload"] == "rollout" and bool(context["analysis_metrics"])


def _alerting(context: dict[str, Any]) -> bool:
    return bool(context["alert_rules"])


# (file name, when it is rendered, [API group, kind] of what it holds); each kustomization.yaml
# lists the files rendered beside it, and the AppProject allows exactly these kinds.
BASE_FILES: tuple[tuple[str, Condition, tuple[tuple[str, str], ...]], ...] = (
    ("serviceaccount.yaml", _always, (("", "ServiceAccount"),)),
    ("configmap.yaml", _always, (("", "ConfigMap"),)),
    ("networkpolicy.yaml", _always, (("networking.k8s.io", "NetworkPolicy"),)),
    ("deployment.yaml", _serving, (("apps", "Deployment"),)),
    ("service.yaml", _serving, (("", "Service"),)),
    ("poddisruptionbudget.yaml", _serving, (("policy", "PodDisruptionBudget"),)),
    ("cronjob.yaml", _scheduled, (("batch", "CronJob"),)),
)
OVERLAY_FILES: tuple[tuple[str, Condition, tuple[tuple[str, str], ...]], ...] = (
    ("horizontalpodautoscaler.yaml", _hpa, (("autoscaling", "HorizontalPodAutoscaler"),)),
    ("rollout.yaml", _workload_is("rollout"), (("argoproj.io", "Rollout"),)),
    ("analysistemplate.yaml", _analysed, (("argoproj.io", "AnalysisTemplate"),)),
    ("inferenceservice.yaml", _workload_is("inferenceservice"), (("serving.kserve.io", "InferenceService"),)),
    ("networkpolicy-kserve.yaml", _workload_is("inferenceservice"), (("networking.k8s.io", "NetworkPolicy"),)),
    ("prometheusrule.yaml", _alerting, (("monitoring.coreos.com", "PrometheusRule"),)),
)
JOB_FILES: tuple[tuple[str, Condition, tuple[tuple[str, str], ...]], ...] = (
    ("job.yaml", _always, (("batch", "Job"),)),
)


def workload(context: dict[str, Any], env: dict[str, Any]) -> str | None:
    """What serves the model in `env`: deployment, rollout, inferenceservice, or None."""
    if context["serving"] is None:
        return None
    strategy = env["strategy"]
    if strategy["type"] != "canary":
        return "deployment"
    return "inferenceservice" if strategy["provider"] == "kserve" else "rollout"


@dataclass(frozen=True)
class Objective:
    """One measured objective of a canary, as an Argo Rollouts metric."""

    name: str
    what: str
    source: str
    query: str
    operator: str  # the value passes when `value <operator> threshold`
    threshold: float | int

    @property
    def opposite(self) -> str:
        return {">=": "<", "<=": ">"}[self.operator]


def analysis_metrics(context: dict[str, Any], env: dict[str, Any]) -> list[Objective]:
    """The canary's objectives: the latency SLO, and every evaluation gate measured online.

    Queries select the new version's pods by the pod-template hash Argo Rollouts gives them.
    """
    selector = f'namespace="{env["namespace"]}", rollouts_pod_template_hash="{{{{args.canary-hash}}}}"'
    objectives = []
    slo = context["serving"]["latency_slo_ms"] if context["serving"] else None
    if slo is not None:
        objectives.append(
            Objective(
                name="latency-p95",
                what="p95 latency in ms",
                source="serving.latency_slo_ms",
                query=(
                    "1000 * histogram_quantile(0.95, sum by (le) "
                    f"(rate(mlci_request_duration_seconds_bucket{{{selector}}}[5m])))"
                ),
                operator="<=",
                threshold=slo,
            )
        )
    for index, gate in enumerate(context["evaluation"]["gates"]):
        objectives.append(
            Objective(
                name=f"gate-{k8s_name(gate['metric'])}",
                what=gate["metric"],
                source=f"evaluation.gates[{index}]",
                query=f'max(mlci_model_metric{{{selector}, metric="{gate["metric"]}"}})',
                operator="<=" if gate["direction"] == "lower" else ">=",
                threshold=gate["threshold"],
            )
        )
    return objectives


def alert_rules(context: dict[str, Any], env: dict[str, Any]) -> list[dict[str, Any]]:
    """PrometheusRule alerts from the monitoring section: latency wherever the model serves,
    drift in production-tier environments (drift is measured on production's data)."""
    project = context["project"]["name"]
    rules = []
    p95 = context["latency_p95_ms"]
    if p95 is not None and context["serving"] is not None:
        selector = f'namespace="{env["namespace"]}", service="{project}"'
        rules.append(
            {
                "alert": "MlciModelLatencyHigh",
                "expr": (
                    "1000 * histogram_quantile(0.95, sum by (le) "
                    f"(rate(mlci_request_duration_seconds_bucket{{{selector}}}[5m]))) > {p95}"
                ),
                "for": "10m",
                "severity": "critical" if env["tier"] == "production" else "warning",
                "summary": f"{project}: p95 latency above {p95} ms in {env['name']}",
                "description": (
                    f"The 95th percentile of {project}'s request latency in {env['name']} has been above "
                    f"{p95} ms (monitoring.latency.p95_ms) for 10 minutes."
                ),
            }
        )
    drift = context["drift"]
    if drift is not None and env["tier"] == "production":
        method, threshold = drift["method"], drift["threshold"]
        # PSI is drift when high; the ks and chi2 tests' p-values are drift when low.
        statistic = "PSI" if method == "psi" else f"{method} p-value"
        aggregate, comparison = ("max", ">") if method == "psi" else ("min", "<")
        drift_selector = f'project="{project}", method="{method}"'
        rules.append(
            {
                "alert": "MlciDataDrift",
                "expr": f"{aggregate}(mlci_drift_score{{{drift_selector}}}) {comparison} {threshold}",
                "for": "15m",
                "severity": "warning",
                "summary": f"{project}: the live data has drifted from the training data",
                "description": (
                    f"The latest drift check of {project} found a feature whose {statistic} is "
                    f"{'above' if comparison == '>' else 'below'} {threshold} (monitoring.drift.threshold)"
                    + (
                        ": retraining is due (training.retrain_on_drift)."
                        if context["training"]["retrain_on_drift"]
                        else "."
                    )
                ),
            }
        )
    return rules


def ignored_differences(context: dict[str, Any], env: dict[str, Any]) -> list[dict[str, Any]]:
    """What Argo CD must not undo in `env`: the image the deploy job pinned (and the model
    version copied from it), and the traffic share a KServe canary's steps set."""
    project = context["project"]["name"]
    version = '["mlci.dev/model-version"]'
    ignored = []
    kind = workload(context, env)
    if kind in ("deployment", "rollout"):
        group, name = ("apps", "Deployment") if kind == "deployment" else ("argoproj.io", "Rollout")
        paths = [".spec.template.spec.containers[].image", f".spec.template.metadata.annotations{version}"]
        ignored.append({"group": group, "kind": name, "name": project, "paths": paths})
    elif kind == "inferenceservice":
        paths = [
            ".spec.predictor.containers[].image",
            f".spec.predictor.annotations{version}",
            ".spec.predictor.canaryTrafficPercent",
        ]
        ignored.append({"group": "serving.kserve.io", "kind": "InferenceService", "name": project, "paths": paths})
    if context["training"]["schedule"] is not None:
        paths = [".spec.jobTemplate.spec.template.spec.containers[].image"]
        ignored.append({"group": "batch", "kind": "CronJob", "name": f"{project[:44]}-retrain", "paths": paths})
    return ignored


def _source_path(context: dict[str, Any], env: dict[str, Any]) -> str:
    """Where Argo CD finds the overlay in the repository."""
    return str(PurePosixPath(context["gitops"]["repository_path"]) / "k8s" / "overlays" / env["name"])


def _render_folder(
    folder: str,
    templates: str,
    files: tuple[tuple[str, Condition, tuple[tuple[str, str], ...]], ...],
    context: dict[str, Any],
) -> tuple[list[RenderedFile], list[tuple[str, str]]]:
    chosen = [(name, kinds) for name, condition, kinds in files if condition(context)]
    names = [name for name, _ in chosen]
    rendered = [RenderedFile(f"{folder}/{name}", render_template(f"{templates}/{name}.j2", context)) for name in names]
    kustomization = render_template(f"{templates}/kustomization.yaml.j2", {**context, "resources": names})
    kinds = [kind for _, found in chosen for kind in found]
    return [*rendered, RenderedFile(f"{folder}/kustomization.yaml", kustomization)], kinds


@dataclass(frozen=True)
class KubernetesRenderer:
    name: str = "kubernetes"
    description: str = "Kubernetes manifests (Kustomize base and overlays, training Job, Argo CD)"

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        context = {
            **context,
            "local_datasets": [d for d in context["datasets"] if _is_local(d["uri"])],
            "argocd_namespace": ARGOCD_NAMESPACE,
            "analysis_interval": ANALYSIS_INTERVAL,
        }
        files, kinds = _render_folder("k8s/base", "kubernetes/base", BASE_FILES, context)
        job_files, _ = _render_folder("k8s/jobs/train", "kubernetes/jobs", JOB_FILES, context)
        files += job_files
        for env in context["environments"]:
            env_context = {
                **context,
                "env": env,
                "workload": workload(context, env),
                "analysis_metrics": analysis_metrics(context, env),
                "alert_rules": alert_rules(context, env),
                "source_path": _source_path(context, env),
            }
            folder = f"k8s/overlays/{env['name']}"
            overlay, overlay_kinds = _render_folder(folder, "kubernetes/overlay", OVERLAY_FILES, env_context)
            kinds += overlay_kinds
            train = render_template("kubernetes/jobs/overlay-kustomization.yaml.j2", env_context)
            files += [*overlay, RenderedFile(f"{folder}/train/kustomization.yaml", train)]
        if context["environments"]:
            files += self._argocd(context, kinds)
        refuse_oversized_configmaps(files, context["spec_file"])
        return files

    def _argocd(self, context: dict[str, Any], kinds: list[tuple[str, str]]) -> list[RenderedFile]:
        names = ["appproject.yaml"]
        files = [
            RenderedFile(
                "k8s/argocd/appproject.yaml",
                render_template(
                    "kubernetes/argocd/appproject.yaml.j2", {**context, "namespaced_kinds": sorted(set(kinds))}
                ),
            )
        ]
        for env in context["environments"]:
            name = f"application-{env['name']}.yaml"
            env_context = {
                **context,
                "env": env,
                "source_path": _source_path(context, env),
                "ignored": ignored_differences(context, env),
            }
            files.append(
                RenderedFile(
                    f"k8s/argocd/{name}", render_template("kubernetes/argocd/application.yaml.j2", env_context)
                )
            )
            names.append(name)
        kustomization = render_template("kubernetes/argocd/kustomization.yaml.j2", {**context, "resources": names})
        return [*files, RenderedFile("k8s/argocd/kustomization.yaml", kustomization)]


# The API server refuses a ConfigMap whose data (keys and values, in bytes) exceeds 1 MiB.
CONFIGMAP_MAX_BYTES = 1024 * 1024


class ConfigMapTooLarge(UserError):
    """The spec renders a ConfigMap Kubernetes would refuse: the spec's values are too large."""

    def __init__(self, spec_file: str, path: str, name: str, size: int, largest: list[tuple[str, int]]) -> None:
        keys = ", ".join(f"{key} ({length} bytes)" for key, length in largest)
        super().__init__(
            f"{spec_file}: the ConfigMap {name!r} in {path} would hold {size} bytes of data; Kubernetes "
            f"stores at most {CONFIGMAP_MAX_BYTES} (1 MiB). Largest keys: {keys}. Keep the values they "
            "come from (such as training.params) small, and put large data in files"
        )


def configmap_sizes(files: list[RenderedFile]) -> list[tuple[str, str, int, list[tuple[str, int]]]]:
    """(file, name, size of data in bytes, its three largest keys) of every rendered ConfigMap,
    measured as the API server does: keys plus values of data and binaryData."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=False)
    found = []
    for rendered in files:
        if "ConfigMap" not in rendered.body:
            continue
        for document in yaml.load_all(rendered.body):
            if not isinstance(document, dict) or document.get("kind") != "ConfigMap":
                continue
            sizes = [
                (str(key), len(str(key).encode()) + len(str(value).encode()))
                for section in ("data", "binaryData")
                for key, value in (document.get(section) or {}).items()
            ]
            name = str((document.get("metadata") or {}).get("name", ""))
            largest = sorted(sizes, key=lambda item: -item[1])[:3]
            found.append((rendered.path, name, sum(size for _, size in sizes), largest))
    return found


def refuse_oversized_configmaps(files: list[RenderedFile], spec_file: str) -> None:
    for path, name, size, largest in configmap_sizes(files):
        if size > CONFIGMAP_MAX_BYTES:
            raise ConfigMapTooLarge(spec_file, path, name, size, largest)


def _is_local(uri: str) -> bool:
    """A dataset inside the project folder (the schema forbids '..', this is belt and braces)."""
    return "://" not in uri and not uri.startswith("/") and ".." not in uri.split("/")


KUBERNETES = KubernetesRenderer()
