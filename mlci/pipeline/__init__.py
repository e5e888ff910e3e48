"""The lifecycle model: built once from the spec (`build_pipeline`), printed by every CI
renderer (mlci/render), drawn by `mlci graph` (mlci/pipeline/graph.py)."""

from __future__ import annotations

from mlci.pipeline.build import Placement, build_pipeline
from mlci.pipeline.capabilities import Capabilities, gaps
from mlci.pipeline.model import (
    DELIVERY_EVENTS,
    FINDINGS_EXIT_CODE,
    SPEC,
    Approval,
    Artifact,
    CanaryStep,
    Condition,
    Event,
    Job,
    KeptCache,
    Pipeline,
    Promotion,
    Report,
    Runner,
    Step,
    StepKind,
    Strategy,
    Trigger,
    When,
)

__all__ = [
    "DELIVERY_EVENTS",
    "FINDINGS_EXIT_CODE",
    "SPEC",
    "Approval",
    "Artifact",
    "CanaryStep",
    "Capabilities",
    "Condition",
    "Event",
    "Job",
    "KeptCache",
    "Pipeline",
    "Placement",
    "Promotion",
    "Report",
    "Runner",
    "Step",
    "StepKind",
    "Strategy",
    "Trigger",
    "When",
    "build_pipeline",
    "gaps",
]
