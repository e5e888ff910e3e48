"""Spec variants for the lifecycle tests: an example's spec with parts changed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from mlci.loader import Spec, load_spec
from tests.conftest import EXAMPLES

EXAMPLE = {path.name: path for path in EXAMPLES}


def example_spec(name: str = "iris-classifier") -> Spec:
    return load_spec(EXAMPLE[name] / "mlproject.yaml")


def variant(change: Callable[[dict[str, Any]], None], name: str = "iris-classifier") -> Spec:
    """The example's spec with `change` applied to a copy of its document (positions kept)."""
    spec = example_spec(name)
    data = copy.deepcopy(spec.data)
    change(data)
    return Spec(spec.path, spec.display_path, data, spec.positions, spec.text)


def no_environments(data: dict[str, Any]) -> None:
    data.pop("environments", None)


def no_schedules(data: dict[str, Any]) -> None:
    data["training"].pop("schedule", None)
    data["training"]["retrain_on_drift"] = False
    data.pop("monitoring", None)


def canary_everywhere(data: dict[str, Any]) -> None:
    for env in data["environments"]:
        env["strategy"] = {"type": "canary", "steps": [{"weight": 25, "pause": "5m"}]}


def several_environments(data: dict[str, Any]) -> None:
    base = data["environments"][0]
    data["environments"] = [
        {**base, "name": "dev", "tier": "development", "approvals": {"wait_timer_minutes": 5}},
        {**base, "name": "qa", "tier": "staging", "approvals": {"required": 1, "approvers": ["qa-lead"]}},
        {**base, "name": "staging", "tier": "staging"},
        {**base, "name": "prod-eu", "tier": "production"},
        {
            **base,
            "name": "prod-us",
            "tier": "production",
            "approvals": {"required": 3, "approvers": ["a", "b", "c"], "wait_timer_minutes": 30},
        },
    ]


def drift_without_retraining(data: dict[str, Any]) -> None:
    data["training"]["retrain_on_drift"] = False


def drift_from_bucket(data: dict[str, Any]) -> None:
    data["monitoring"]["drift"]["current"] = "s3://bucket/live.csv"


def pr_evaluation(data: dict[str, Any]) -> None:
    data.setdefault("ci", {})["pr_evaluation"] = True


def default_branch_trunk(data: dict[str, Any]) -> None:
    data.setdefault("ci", {})["default_branch"] = "trunk"


VARIANTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "as-is": lambda data: None,
    "no-environments": no_environments,
    "no-schedules": no_schedules,
    "canary": canary_everywhere,
    "several-environments": several_environments,
    "drift-without-retraining": drift_without_retraining,
    "drift-from-bucket": drift_from_bucket,
    "pr-evaluation": pr_evaluation,
    "trunk": default_branch_trunk,
}


def all_variants() -> list[tuple[str, Spec]]:
    return [(f"{example}:{name}", variant(change, example)) for example in EXAMPLE for name, change in VARIANTS.items()]


__all__ = ["VARIANTS", "all_variants", "example_spec", "variant"]
