"""The spec once the schema accepted it: frozen, typed, every default filled in.

`Spec.typed` (mlci/loader.py) is the usual way in; `typed_spec(data)` builds one from
validated data. The raw `Spec.data` stays what policies see and what positions map."""

from __future__ import annotations

from mlci.spec.build import freeze, thaw, typed_spec
from mlci.spec.defaults import schema_default, with_defaults
from mlci.spec.model import (
    BLESSING_FILE,
    CI,
    DEFAULT_CANARY_STEPS,
    Approvals,
    Autoscaling,
    CanaryStep,
    Command,
    Dataset,
    Drift,
    Environment,
    Evaluation,
    Gate,
    Governance,
    Latency,
    MLProject,
    Model,
    Monitoring,
    Outputs,
    Project,
    Resources,
    Serving,
    Strategy,
    Training,
    Waiver,
    as_argv,
    seconds,
)

__all__ = [
    "BLESSING_FILE",
    "CI",
    "DEFAULT_CANARY_STEPS",
    "Approvals",
    "Autoscaling",
    "CanaryStep",
    "Command",
    "Dataset",
    "Drift",
    "Environment",
    "Evaluation",
    "Gate",
    "Governance",
    "Latency",
    "MLProject",
    "Model",
    "Monitoring",
    "Outputs",
    "Project",
    "Resources",
    "Serving",
    "Strategy",
    "Training",
    "Waiver",
    "as_argv",
    "freeze",
    "schema_default",
    "seconds",
    "thaw",
    "typed_spec",
    "with_defaults",
]
