"""Model registries behind one small interface.

`Registry` is what mlci asks of a registry: track a run (params, metrics, the model
file), register a version, move an alias, read the version an alias points to. MLflow
is the first implementation; SageMaker, Vertex AI and Azure ML fit the same shape
(runs = experiments/trials, versions = model packages, aliases = approval states or
tags) and are added to `IMPLEMENTATIONS` by URI scheme. Nothing here imports a client
library: each implementation imports its own, lazily, after `require_extra`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlci.registry.location import RegistryLocation

# The alias the gate compares with and `promote production` moves.
CHAMPION = "champion"
# The alias `register` gives every new blessed version.
CHALLENGER = "challenger"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str | None
    source: str
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class Registry(Protocol):
    """What mlci needs of a model registry and its run tracking."""

    location: RegistryLocation

    # Tracking: one run per pipeline run.
    def start_run(self, experiment: str, tags: Mapping[str, str]) -> str: ...
    def run_tags(self, run_id: str) -> dict[str, str] | None: ...
    def set_run_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None: ...
    def log_artifact(self, run_id: str, path: Path, folder: str) -> str: ...
    def end_run(self, run_id: str, succeeded: bool) -> None: ...
    def run_metrics(self, run_id: str) -> dict[str, float]: ...
    def run_params(self, run_id: str) -> dict[str, str]: ...
    def download_artifact(self, run_id: str, path: str, destination: Path) -> Path: ...

    # Registry: versions and aliases.
    def register(self, name: str, source: str, run_id: str | None, tags: Mapping[str, str]) -> ModelVersion: ...
    def version(self, name: str, version: str) -> ModelVersion | None: ...
    def version_by_alias(self, name: str, alias: str) -> ModelVersion | None: ...
    def set_alias(self, name: str, alias: str, version: str) -> None: ...


def _mlflow(location: RegistryLocation) -> Registry:
    from mlci.registry.mlflow_registry import MlflowRegistry

    return MlflowRegistry(location)


# kind -> constructor. The location decides the kind (mlci/registry/location.py).
IMPLEMENTATIONS: dict[str, Callable[[RegistryLocation], Registry]] = {"mlflow": _mlflow}


def open_registry(location: RegistryLocation) -> Registry:
    return IMPLEMENTATIONS[location.kind](location)
