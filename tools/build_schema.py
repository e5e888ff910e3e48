"""Writes schemas/mlproject.schema.json. The schema is kept as Python here only
because a dict with helpers is easier to review than 800 lines of JSON; the JSON
file is what ships and what tests read. Run: python tools/build_schema.py
(`--check`: exit 1 when the JSON file is not what this script writes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
IDENT = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$"
# Folders and a file below the spec's folder: no '/' at either end, no empty or '..' part, and no
# part that starts with '-' (it would read as an option where the path is a command's argument).
REL_PATH = r"^(?!.*(^|/)\.\.(/|$))[A-Za-z0-9._][A-Za-z0-9._-]*(/[A-Za-z0-9._][A-Za-z0-9._-]*)*$"
DURATION = r"^[1-9][0-9]{0,5}(s|m|h)$"
ISO_PERIOD = r"^P(?!$)([0-9]{1,4}Y)?([0-9]{1,4}M)?([0-9]{1,4}W)?([0-9]{1,5}D)?$"
# One cron field: `*`, a value or a range, an optional step, comma-separated; each value within the
# field's own range, so what the schema accepts every CI accepts (GitHub refuses `0 32 * * *`).
MINUTE = r"([0-5]?[0-9])"
HOUR = r"([01]?[0-9]|2[0-3])"
DAY_OF_MONTH = r"(0?[1-9]|[12][0-9]|3[01])"
MONTH = r"(0?[1-9]|1[0-2]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
DAY_OF_WEEK = r"([0-6]|SUN|MON|TUE|WED|THU|FRI|SAT)"  # GitHub refuses 7
STEP = r"(/([1-9]|[1-9][0-9]))"


def cron_field(value: str) -> str:
    item = rf"(\*|{value}(-{value})?){STEP}?"
    return rf"{item}(,{item})*"


CRON = "^" + " ".join(cron_field(v) for v in (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)) + "$"
REGION = r"^[a-z]{2,12}(-[a-z0-9]{1,12}){1,3}$"
SHA256 = r"^[a-f0-9]{64}$"
IMAGE = r"^[a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._-]*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"
METRIC = r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"
# ci.env names that mlci refuses, because a value for them would change what the pipeline runs
# rather than hand the project's code a setting:
# - names the rendered pipelines set themselves (a second definition is a duplicate key, and
#   the parser that keeps the last one runs what the spec says): MLCI_*, and the variables
#   of the jobs' scripts;
# - names the CI systems set or read to decide what runs and where (GitLab rules read CI_*,
#   Jenkins' stages BRANCH_IS_PRIMARY, GitHub's runner ACTIONS_*, GitLab's runner FF_* and
#   DOCKER_AUTH_CONFIG, Azure refuses ENDPOINT*, INPUT*, SECRET*, PATH*, SECUREFILE*);
# - names that change the toolchain the jobs run: pip (PIP_*: index URLs, config files), the
#   interpreter (PYTHON*), the shell (BASH_ENV, ENV, PS4, IFS...), the dynamic loader (LD_*,
#   DYLD_*), git, gh, ssh, docker, kubectl, node (NODE_OPTIONS runs code in every action),
#   the JVM, MLflow (the gate's baseline), trust stores (SSL_*) and proxies.
RESERVED_ENV_PREFIXES = (
    "MLCI_",
    "PIP_",
    "PYTHON",
    "LD_",
    "DYLD_",
    "BASH",
    "GIT_",
    "GH_",
    "GITHUB_",
    "ACTIONS_",
    "RUNNER_",
    "CI_",
    "GITLAB_",
    "FF_",
    "DOCKER_",
    "BUILDKIT_",
    "KUBE",
    "NODE_",
    "NPM_CONFIG_",
    "JAVA_",
    "_JAVA_",
    "JDK_",
    "SSL_",
    "SSH_",
    "XDG_",
    "MLFLOW_",
    "SYSTEM",
    "BUILD_",
    "AGENT_",
    "PIPELINE_",
    "RELEASE_",
    "ENDPOINT",
    "INPUT",
    "SECRET",
    "SECUREFILE",
    "PATH",
    "JENKINS_",
    "HUDSON_",
    "JOB_",
    "BRANCH_",
    "CHANGE_",
    "TAG_",
    "WORKSPACE",
    "EXECUTOR_",
    "STAGE_",
    "PERL",
    "RUBY",
)
RESERVED_ENV_NAMES = (
    # The shell and the process.
    "HOME",
    "ENV",
    "SHELL",
    "SHELLOPTS",
    "PS4",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "PROMPT_COMMAND",
    "CLASSPATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "FTP_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    # The CI systems' own.
    "CI",
    "TF_BUILD",
    "ISDELIVERY",
    "ISDRIFTRUN",
    # What the rendered jobs' scripts read (templates/).
    "IMAGE",
    "IMAGE_REF",
    "IMAGE_REPOSITORY",
    "TRAINING_IMAGE",
    "TRAINING_IMAGE_REF",
    "TRAINING_IMAGE_REPOSITORY",
    "REGISTRY",
    "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD",
    "MODEL",
    "BLESSING",
    "NAMESPACE",
    "PROJECT_DIR",
    "SPEC_FILE",
    "REQUIREMENTS",
)
ENV_NAME = rf"^(?!({'|'.join(RESERVED_ENV_PREFIXES)})|({'|'.join(RESERVED_ENV_NAMES)})$)[A-Z_][A-Z0-9_]{{0,63}}$"


# Appended to every pattern (anchor_whole_strings): no newline after the end-of-string anchor.
WHOLE_STRING = r"(?!\n)"


def s(description: str, **kw):
    return {"type": "string", "description": description, **kw}


def obj(description: str, properties: dict, required=(), **kw):
    out = {"type": "object", "description": description, "additionalProperties": False, "properties": properties}
    if required:
        out["required"] = list(required)
    out.update(kw)
    return out


def arr(description: str, items: dict, **kw):
    # Every list is bounded (100 unless said otherwise): the embedded policy engine slows down
    # quadratically with list sizes and fails outright at around 15,000 items.
    return {"type": "array", "description": description, "items": items, "maxItems": 100, **kw}


def ref(name: str, description: str, **kw):
    return {"$ref": f"#/$defs/{name}", "description": description, **kw}


def resources(description: str, cpu: str, memory: str):
    """Compute resources; training and serving differ only in their defaults."""
    return obj(
        f"{description} Each value is used as both the Kubernetes request and limit.",
        {
            "cpu": s(f"CPU, in Kubernetes quantity form: '1', '500m'. Default {cpu}.", pattern=QUANTITY, default=cpu),
            "memory": s(
                f"Memory, in Kubernetes quantity form: '512Mi', '2Gi'. Default {memory}.",
                pattern=QUANTITY,
                default=memory,
            ),
            "gpu": {
                "type": "integer",
                "minimum": 0,
                "maximum": 16,
                "default": 0,
                "description": "Number of GPUs (nvidia.com/gpu). Default 0.",
            },
        },
        default={},
    )


defs = {
    "name": s("A DNS-1123 label: lower-case letters, digits and '-', at most 63 characters.", pattern=DNS_LABEL),
    "identity": s(
        "A user or group name as the CI system knows it (letters, digits, '.', '_', '@', '-').", pattern=IDENT
    ),
    "relativePath": s(
        "A path relative to the folder of mlproject.yaml: letters, digits, '.', '_' and '-' between single '/', without '..' and without a part that starts with '-'.",
        pattern=REL_PATH,
        maxLength=255,
    ),
    "command": {
        "description": "A command and its arguments. A string is split like a shell would split it, but it is never run through a shell.",
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 1000},
            {"type": "array", "items": {"type": "string", "maxLength": 1000}, "minItems": 1, "maxItems": 100},
        ],
    },
    "cron": s("A five-field cron expression (minute hour day-of-month month day-of-week), in UTC.", pattern=CRON),
    "image": s(
        "A container image reference; pin it by digest (name@sha256:...) so builds are reproducible.",
        pattern=IMAGE,
        maxLength=255,
    ),
    "region": s(
        "A cloud region, such as eu-west-1 or europe-west4; its prefix decides the jurisdiction (eu-/europe- is the EU).",
        pattern=REGION,
    ),
    "gate": obj(
        "One evaluation gate: a metric from the metrics file compared with a threshold, and optionally with the production model.",
        {
            "metric": s("Name of the metric in the metrics file.", pattern=METRIC),
            "threshold": {
                "type": "number",
                "description": "The value the metric must reach (direction: higher) or stay under (direction: lower).",
            },
            "direction": {
                "enum": ["higher", "lower"],
                "default": "higher",
                "description": "Whether higher or lower values are better. Default: higher.",
            },
            "max_regression": {
                "type": "number",
                "minimum": 0,
                "description": "Allowed worsening against the production model, in the metric's units (absolute).",
            },
            "max_regression_relative": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "Allowed worsening against the production model, as a fraction of its value (0.05 = 5 %).",
            },
            "required": {
                "type": "boolean",
                "default": True,
                "description": "A missing metric fails the gate. Default: true.",
            },
        },
        required=("metric", "threshold"),
    ),
    "canaryStep": obj(
        "One step of a canary rollout.",
        {
            "weight": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "description": "Percentage of traffic sent to the new model.",
            },
            "pause": s("How long to hold this step before the next, e.g. 10m, 1h.", pattern=DURATION),
        },
        required=("weight",),
    ),
    "waiver": obj(
        "An accepted exception to one policy rule, with who accepted it and until when.",
        {
            "rule": s("The rule id to waive, e.g. MLCI-GDPR-002.", pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"),
            "path": s(
                "A glob over the finding's JSON path (e.g. '$.datasets[0].*'); default: every path.",
                default="*",
                maxLength=500,
            ),
            "reason": s("Why the exception is acceptable. Required.", minLength=10, maxLength=2000),
            "approved_by": ref("identity", "Who accepted the exception; must not be an author of the project."),
            "expires": s(
                "Last day (YYYY-MM-DD) the waiver applies; required.", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
            ),
        },
        required=("rule", "reason", "approved_by", "expires"),
    ),
}

dataset = obj(
    "A dataset the model is trained or evaluated on.",
    {
        "name": ref("name", "Short name of the dataset, unique in this spec."),
        "uri": s(
            "Where the data lives: a path relative to the spec, or a URI (s3://, gs://, https://, dvc://).",
            minLength=1,
            maxLength=1024,
        ),
        "version": s(
            "The pinned version of the data (a date, tag or DVC revision); never 'latest'.", minLength=1, maxLength=128
        ),
        "sha256": s(
            "sha256 of the data file, 64 lower-case hex digits; `mlci lineage verify` recomputes it.", pattern=SHA256
        ),
        "dvc_rev": s(
            "A DVC revision that pins the data instead of sha256 (dataset hashes are then read from dvc.lock).",
            pattern=r"^[A-Za-z0-9._/-]{1,128}$",
        ),
        "source": s(
            "Where the data comes from (system, export, public dataset and licence).", minLength=1, maxLength=500
        ),
        "personal_data": {
            "type": "boolean",
            "default": False,
            "description": "Whether the data holds personal data under GDPR. Default: false.",
        },
        "pii_fields": arr(
            "Columns that identify a person directly or indirectly.",
            {"type": "string", "pattern": METRIC},
            uniqueItems=True,
            default=[],
        ),
        "sensitive_attributes": arr(
            "Columns with special-category or protected attributes (GDPR Art. 9); they require a fairness gate.",
            {"type": "string", "pattern": METRIC},
            uniqueItems=True,
            default=[],
        ),
        "legal_basis": {
            "enum": [
                "consent",
                "contract",
                "legal_obligation",
                "vital_interests",
                "public_task",
                "legitimate_interests",
            ],
            "description": "The GDPR Art. 6(1) legal basis for processing personal data.",
        },
        "retention": s("How long the data is kept, as an ISO-8601 period (P2Y, P18M, P90D).", pattern=ISO_PERIOD),
        "region": ref("region", "Where the data is stored."),
        "anonymisation": {
            "enum": ["none", "pseudonymised", "anonymised"],
            "description": "How personal data is de-identified before training.",
        },
    },
    required=("name", "uri"),
)

environment = obj(
    "A deployment target.",
    {
        "name": ref("name", "Name of the environment, unique in this spec (staging, production...)."),
        "tier": {
            "enum": ["development", "staging", "production"],
            "description": "What the environment is for; production tiers need approvals.",
        },
        "cluster": ref("name", "The Kubernetes cluster (as named by the platform team)."),
        "namespace": ref("name", "The Kubernetes namespace to deploy into."),
        "region": ref("region", "Where the cluster runs; personal data may only be served in its jurisdiction."),
        "replicas": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "default": 1,
            "description": "Serving replicas without autoscaling. Default 1.",
        },
        "autoscaling": obj(
            "Horizontal autoscaling of the model server: a HorizontalPodAutoscaler in this environment's overlay (with provider kserve, the predictor's own autoscaling). Without it the environment runs `replicas` servers.",
            {
                "min_replicas": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1000,
                    "description": "Lowest number of replicas.",
                },
                "max_replicas": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1000,
                    "description": "Highest number of replicas.",
                },
                "target_cpu_utilization": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 100,
                    "default": 70,
                    "description": "Average CPU use (percent of request) to aim for. Default 70.",
                },
            },
            required=("min_replicas", "max_replicas"),
        ),
        "strategy": obj(
            "How a new model version replaces the old one.",
            {
                "type": {
                    "enum": ["rolling", "canary"],
                    "default": "rolling",
                    "description": "rolling: replace pods gradually; canary: shift traffic in steps. Default rolling.",
                },
                "steps": arr(
                    # No schema default: the default steps apply to canaries only (mlci/spec computes them).
                    "Canary steps, in order (for type: canary). Default: 20 % for 10m, then 50 % for 10m, then all.",
                    {"$ref": "#/$defs/canaryStep"},
                    minItems=1,
                    maxItems=20,
                ),
                "provider": {
                    "enum": ["argo-rollouts", "kserve"],
                    "default": "argo-rollouts",
                    "description": "What runs the canary. argo-rollouts (the default): an Argo Rollouts Rollout replaces the Deployment, walks the steps and aborts when an AnalysisTemplate on serving.latency_slo_ms and the evaluation gates (measured online, in Prometheus) fails. kserve: a KServe InferenceService (Serverless mode) replaces the Deployment and Service, and the deploy job walks the steps through its canaryTrafficPercent.",
                },
            },
            default={},
        ),
        "approvals": obj(
            "Who must approve a deployment to this environment.",
            {
                "required": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 10,
                    "default": 0,
                    "description": "Number of distinct approvals needed. Default 0.",
                },
                "approvers": arr(
                    "People or groups allowed to approve.",
                    {"$ref": "#/$defs/identity"},
                    uniqueItems=True,
                    maxItems=50,
                    default=[],
                ),
                "separation_of_duties": {
                    "type": "boolean",
                    "default": True,
                    "description": "Approvers may not be the project's owners or authors. Default true.",
                },
                "wait_timer_minutes": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 43200,
                    "default": 0,
                    "description": "Minutes to wait after approval before deploying. Default 0.",
                },
            },
            default={},
        ),
    },
    required=("name", "tier", "cluster", "namespace", "region"),
)

schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://mlci.dev/schemas/mlproject.schema.json",
    "title": "mlci project spec (mlproject.yaml, apiVersion mlci/v1)",
    "description": "One declarative description of an ML project, from which mlci checks governance and renders pipelines, containers and manifests.",
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "project", "datasets", "training", "evaluation", "model"],
    "$defs": defs,
    "properties": {
        "apiVersion": {"const": "mlci/v1", "description": "The spec version. Always mlci/v1."},
        "project": obj(
            "Who and what the project is.",
            {
                "name": ref("name", "The project's name; used for images, Kubernetes objects and pipeline names."),
                "description": s("One or two sentences on what the model does.", maxLength=1000),
                "team": ref("identity", "The owning team."),
                "owners": arr(
                    "People accountable for the project.", {"$ref": "#/$defs/identity"}, minItems=1, uniqueItems=True
                ),
                "authors": arr(
                    "People who write the project's code and spec (for separation of duties).",
                    {"$ref": "#/$defs/identity"},
                    uniqueItems=True,
                    default=[],
                ),
            },
            required=("name", "owners"),
        ),
        "datasets": arr(
            "The datasets used for training and evaluation (at most 100).", {"$ref": "#/$defs/dataset"}, minItems=1
        ),
        "training": obj(
            "How the model is trained.",
            {
                "image": ref("image", "Base image for training and serving containers."),
                "requirements": ref(
                    "relativePath",
                    "The pinned Python requirements file. Default requirements.txt.",
                    default="requirements.txt",
                ),
                "command": ref("command", "The training command, run in the project folder."),
                "params": {
                    "type": "object",
                    "description": "Hyper-parameters, passed to the command as JSON in MLCI_PARAMS and recorded in the lineage.",
                    "maxProperties": 200,
                    "additionalProperties": {"$ref": "#/$defs/paramValue"},
                    "default": {},
                },
                "resources": resources("Resources of the training Job.", cpu="1", memory="2Gi"),
                "schedule": ref("cron", "When to retrain on a schedule (continuous training)."),
                "retrain_on_drift": {
                    "type": "boolean",
                    "default": False,
                    "description": "Retrain when the drift monitor exceeds its threshold. Default false.",
                },
                "timeout_minutes": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1440,
                    "default": 60,
                    "description": "Time limit of the training job. Default 60.",
                },
                "outputs": obj(
                    "What training writes.",
                    {
                        "model": ref(
                            "relativePath",
                            "The model file. Default artifacts/model.joblib.",
                            default="artifacts/model.joblib",
                        )
                    },
                    default={},
                ),
            },
            required=("command",),
        ),
        "evaluation": obj(
            "How the trained model is evaluated and what it must reach before it is deployed.",
            {
                "command": ref("command", "The evaluation command; it writes the metrics file."),
                "metrics_file": ref(
                    "relativePath",
                    "JSON object of metric name to number. Default artifacts/metrics.json.",
                    default="artifacts/metrics.json",
                ),
                "gates": arr("The gates; every one must pass before deployment.", {"$ref": "#/$defs/gate"}, default=[]),
            },
            required=("command",),
        ),
        "model": obj(
            "The model artifact.",
            {
                "name": ref("name", "Registered model name."),
                "framework": {
                    "enum": ["scikit-learn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "other"],
                    "description": "The ML framework.",
                },
                "registry": s(
                    "The model registry (URI of an MLflow server, a bucket, an OCI registry).",
                    minLength=1,
                    maxLength=500,
                ),
            },
            required=("name",),
        ),
        "serving": obj(
            "How the model is served online.",
            {
                "image": ref("image", "A separate serving image; default: the training image."),
                "command": ref("command", "The serving command."),
                "port": {
                    "type": "integer",
                    "minimum": 1024,
                    "maximum": 65535,
                    "default": 8080,
                    "description": "Port the server listens on (unprivileged). Default 8080.",
                },
                "health_path": s(
                    "HTTP path of the health check. Default /healthz.",
                    pattern=r"^/[A-Za-z0-9._/-]{0,200}$",
                    default="/healthz",
                ),
                "latency_slo_ms": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 600000,
                    "description": "Latency objective, p95 in milliseconds.",
                },
                "log_fields": arr(
                    "Request fields the server logs (must not include PII fields).",
                    {"type": "string", "pattern": METRIC},
                    uniqueItems=True,
                    default=[],
                ),
                "resources": resources("Resources of each serving pod.", cpu="500m", memory="512Mi"),
                "run_as_root": {
                    "type": "boolean",
                    "default": False,
                    "description": "Run the server as root. Default false; policies reject true.",
                },
            },
            required=("command",),
        ),
        "environments": arr(
            "Where the model is deployed, in promotion order.", {"$ref": "#/$defs/environment"}, maxItems=20, default=[]
        ),
        "monitoring": obj(
            "What is watched once the model serves.",
            {
                "drift": obj(
                    "Data drift between the training data and live data.",
                    {
                        "method": {
                            "enum": ["psi", "ks", "chi2"],
                            "default": "psi",
                            "description": "What decides drift: psi (population stability index of every feature), or ks / chi2 (statistical tests: Kolmogorov-Smirnov for numeric features, chi-square for categorical ones). Default psi.",
                        },
                        "threshold": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "default": 0.1,
                            "description": "With psi, a PSI above it is drift (0.1 to 0.25 is customary); with ks or chi2, the significance level: a p-value below it is drift (e.g. 0.05). Default 0.1.",
                        },
                        "schedule": ref("cron", "When the drift check runs."),
                        "reference": ref("relativePath", "The reference data (usually the training set)."),
                        "current": s("Where current data is read from (path or URI).", minLength=1, maxLength=1024),
                    },
                ),
                "latency": obj(
                    "Latency alerting.",
                    {
                        "p95_ms": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Alert when p95 latency exceeds this.",
                        }
                    },
                ),
                "prometheus_url": s(
                    "The Prometheus that canary analysis queries (http or https URL). Default: the Argo Rollouts controller's ARGO_ROLLOUTS_PROMETHEUS_ADDRESS.",
                    pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$",
                    maxLength=500,
                ),
                "alerts": arr(
                    "Alert destinations, as 'kind:target' (slack:#channel, email:team@example.com, pagerduty:service).",
                    {"type": "string", "pattern": r"^(slack|email|pagerduty|webhook):[!-~]{1,200}$"},
                    default=[],
                ),
            },
        ),
        "ci": obj(
            "How the pipelines are rendered.",
            {
                "providers": arr(
                    "Which CI systems to render for. Default: github, gitlab and jenkins.",
                    {"enum": ["github", "gitlab", "jenkins", "azure"]},
                    uniqueItems=True,
                    minItems=1,
                    default=["github", "gitlab", "jenkins"],
                ),
                "runner_labels": arr(
                    "Runner labels or tags for CI jobs (GitHub runs-on, GitLab tags, the Jenkins agent label, the demands "
                    "on Azure's self-hosted pool): labels select self-hosted runners, which training on personal data "
                    "requires (MLCI-EVI-003); hosted labels such as ubuntu-latest do not count. Default: the CI's hosted runners.",
                    {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},
                    uniqueItems=True,
                    default=[],
                ),
                "python_version": s(
                    "Python version for CI jobs. Default 3.11.", pattern=r"^3\.[0-9]{1,2}$", default="3.11"
                ),
                "image": ref(
                    "image",
                    "Container image for the CI jobs that run mlci (GitLab `image:`); default: none, the runner's own Python (select runners with runner_labels).",
                ),
                "repository_url": s(
                    "The git repository Argo CD deploys the rendered overlays from (https://, ssh:// or git@host:path). Default: https://git.example.com/<team>/<project>.git, a placeholder to replace.",
                    pattern=r"^(https://|ssh://|git@)[A-Za-z0-9._~:/@+-]{3,400}$",
                ),
                "repository_path": ref(
                    "relativePath",
                    "Where the render output (the folder holding k8s/) is in that repository, for Argo CD's source path. Default '.', the repository root.",
                    default=".",
                ),
                "image_registry": s(
                    "Where CI pushes the project's images, e.g. ghcr.io/acme or registry.example.com/ml. Default registry.example.com/<team>.",
                    pattern=r"^[a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._-]*)*$",
                    maxLength=200,
                ),
                "mlci_version": s(
                    "The mlci version CI installs. Default: the version that rendered the files.",
                    pattern=r"^[0-9]+\.[0-9]+\.[0-9]+([a-z0-9.+-]*)$",
                ),
                "env": {
                    "type": "object",
                    "description": "Extra environment variables for every CI job; their values are passed as data, never expanded.",
                    "propertyNames": {
                        "pattern": ENV_NAME,
                        "description": (
                            "An environment variable name (A-Z, 0-9, '_'), and not one that mlci's pipelines set or that "
                            "changes the toolchain (MLCI_*, PIP_*, PYTHON*, LD_*, BASH_ENV, PATH, HOME, CI_*, GIT_*...: "
                            "the pattern lists them all)"
                        ),
                    },
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "maxProperties": 50,
                    "default": {},
                },
                "default_branch": s(
                    "The repository's default branch: the branch whose pushes train, gate and deploy. Default main.",
                    # A git ref name a CI expression, a shell word and a YAML scalar carry as they are.
                    pattern=r"^(?!.*\.\.)(?!.*//)(?!.*\.lock$)(?!.*/$)[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}$",
                    default="main",
                ),
                "pr_evaluation": {
                    "type": "boolean",
                    "description": (
                        "Pull requests also train and evaluate the candidate and compare it with the champion "
                        "(a Markdown report in the summary / merge request). Default false."
                    ),
                    "default": False,
                },
            },
            default={},
        ),
        "governance": obj(
            "Risk, documentation and accepted exceptions.",
            {
                "risk": {
                    "enum": ["minimal", "limited", "high"],
                    "description": "Risk class of the use case (EU AI Act style); high risk needs a DPIA.",
                },
                "dpia": s("Reference of the data protection impact assessment.", minLength=1, maxLength=200),
                "model_card": ref("relativePath", "The model card."),
                "erasure_procedure": ref(
                    "relativePath", "Document that says how a data subject's erasure request is carried out."
                ),
                "waivers": arr("Accepted exceptions to policy rules.", {"$ref": "#/$defs/waiver"}, default=[]),
            },
            default={},
        ),
    },
}

# A hyper-parameter: any JSON value, with the limits of every other list (100 items) and mapping
# (200 keys) at every level, so that params is not the one open door past them.
defs["paramValue"] = {
    "type": ["string", "number", "boolean", "null", "array", "object"],
    "maxItems": 100,
    "items": {"$ref": "#/$defs/paramValue"},
    "maxProperties": 200,
    "additionalProperties": {"$ref": "#/$defs/paramValue"},
}
defs["dataset"] = dataset
defs["environment"] = environment


# ---------------------------------------------------------------------------
# Governance: what the policies in policies/ read beyond the sections above. Kept in
# one function so that schema edits of other areas merge without conflicts.

# Cloud regions of AWS and GCP (eu-west-1, europe-west4, us-central1) and of Azure
# (westeurope, germanywestcentral, eastus2): their jurisdictions are mapped in
# policies/settings.json (jurisdictions).
REGION_ANY = r"^([a-z]{2,12}(-[a-z0-9]{1,12}){1,3}|[a-z]{4,30}[0-9]?)$"
# A declared category, condition or mechanism: lower-case words joined by '_'.
WORDS = r"^[a-z][a-z0-9_]{0,63}$"
SPECIAL_CATEGORIES = (
    "health, biometric, genetic, racial_or_ethnic_origin, political_opinions, "
    "religious_or_philosophical_beliefs, trade_union_membership, sex_life_or_sexual_orientation, "
    "criminal_convictions (Art. 10)"
)
ART9_CONDITIONS = (
    "explicit_consent (a), employment_social_security (b), vital_interests (c), not_for_profit_body (d), "
    "made_public_by_data_subject (e), legal_claims (f), substantial_public_interest (g), "
    "health_or_social_care (h), public_health (i), archiving_research_statistics (j)"
)
TRANSFER_MECHANISMS = (
    "adequacy_decision (Art. 45), standard_contractual_clauses, binding_corporate_rules, approved_code_of_conduct, "
    "approved_certification, ad_hoc_contractual_clauses (Art. 46-47), or an Art. 49 derogation "
    "(explicit_consent_derogation, contract_derogation, public_interest_derogation, legal_claims_derogation, "
    "vital_interests_derogation)"
)


def add_governance(schema: dict, defs: dict) -> None:
    defs["region"]["pattern"] = REGION_ANY
    defs["region"]["description"] = (
        "A cloud region of AWS, GCP or Azure, such as eu-west-1, europe-west4 or westeurope; the policy settings "
        "map it to its jurisdiction (eu-west-2 is the UK, eu-central-2 Switzerland)."
    )
    defs["dataset"]["properties"].update(
        {
            "special_categories": arr(
                f"Special categories of personal data the dataset holds (GDPR Art. 9(1), 10): {SPECIAL_CATEGORIES}. They require a DPIA and an Art. 9(2) condition.",
                {"type": "string", "pattern": WORDS},
                uniqueItems=True,
                maxItems=20,
                default=[],
            ),
            "special_category_condition": s(
                f"The GDPR Art. 9(2) condition that allows processing the special categories: {ART9_CONDITIONS}.",
                pattern=WORDS,
            ),
            "vulnerable_subjects": arr(
                "Vulnerable data subjects the dataset is about (children (GDPR Art. 8), patients, employees, elderly...); they require a DPIA.",
                {"type": "string", "pattern": WORDS},
                uniqueItems=True,
                maxItems=20,
                default=[],
            ),
            "parental_consent": {
                "type": "boolean",
                "default": False,
                "description": "Whether consent for children's data is given or authorised by the holder of parental responsibility (GDPR Art. 8(1)). Default false.",
            },
            "data_subjects_region": s(
                "Where the people the data is about are: a jurisdiction (eu, eea, uk, us...) or a region. Default: the jurisdiction of the dataset's region. Data about people in the EEA processed outside it is a transfer (GDPR Art. 44).",
                pattern=r"^[a-z]{2,12}(-[a-z0-9]{1,12}){0,3}$",
            ),
            "transfer_mechanism": s(
                f"The GDPR Chapter V basis for processing the data outside the data subjects' jurisdiction: {TRANSFER_MECHANISMS}.",
                pattern=WORDS,
            ),
        }
    )
    schema["properties"]["training"]["properties"]["region"] = ref(
        "region", "Where the training job runs; personal data may only be trained on in its jurisdiction."
    )
    governance = schema["properties"]["governance"]["properties"]
    governance["people"] = {
        "type": "object",
        "description": "A people directory: login to e-mail address. A login and its e-mail address are one person for separation of duties, distinct approvers and waivers (with the policy settings' people).",
        "propertyNames": {"pattern": IDENT},
        "additionalProperties": s("The person's e-mail address.", pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$"),
        "maxProperties": 200,
    }
    governance["ai_act"] = obj(
        "EU AI Act classification and obligations of the AI system.",
        {
            "risk_class": {
                "enum": ["unacceptable", "high", "limited", "minimal"],
                "description": "The AI Act risk class: unacceptable (prohibited practice, Art. 5), high (Art. 6, Annex I or III), limited (transparency, Art. 50) or minimal.",
            },
            "intended_purpose": s("The intended purpose of the system (Art. 3(12), 13(3)(b)).", minLength=1, maxLength=2000),
            "annex_iii_area": s(
                "The Annex III area of a high-risk system: biometrics, critical_infrastructure, education, employment, essential_services (credit scoring, insurance, public benefits), law_enforcement, migration_border_control or justice_democracy.",
                pattern=WORDS,
            ),
            "log_retention": s(
                "How long the system's logs are kept, as an ISO-8601 period; at least six months for high-risk systems (Art. 19, 26(6)).",
                pattern=ISO_PERIOD,
            ),
            "stop_procedure": s(
                "The documented procedure to stop the system or override its output (human oversight, Art. 14(4)(e)): a path or URL.",
                minLength=1,
                maxLength=500,
            ),
            "post_market_monitoring": s(
                "The post-market monitoring plan (Art. 72): a path or URL.", minLength=1, maxLength=500
            ),
        },
    )


add_governance(schema, defs)


def anchor_whole_strings(node):
    """JSON Schema's `pattern` is a search, and Python's `$` (jsonschema uses `re.search`) also
    matches before a final newline: "credit-risk\n" would pass ^...$. The lookahead `(?!\n)`
    refuses that in Python and is a no-op in ECMAScript, so editors and mlci agree that the
    whole string must match. Every pattern must be anchored at both ends."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                assert value.startswith("^") and value.endswith("$"), f"unanchored pattern {value!r}"
                node[key] = value + WHOLE_STRING
            else:
                anchor_whole_strings(value)
    elif isinstance(node, list):
        for item in node:
            anchor_whole_strings(item)


anchor_whole_strings(schema)

out = Path(__file__).resolve().parent.parent / "schemas" / "mlproject.schema.json"
text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
if "--check" in sys.argv[1:]:
    if out.read_text(encoding="utf-8") != text:
        sys.exit(f"{out} is not what tools/build_schema.py writes: run it (never edit the JSON by hand)")
    print(f"{out} is up to date")
else:
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
