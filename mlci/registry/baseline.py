"""The gate's baseline: the metrics of the model in production.

By default that is the registered version holding the champion alias. No champion yet
(a first model): the gate compares with the absolute thresholds only, and every report
says so. A registry that does not answer, or a champion without the metrics a gate
compares, is exit 3: the gate cannot decide, and never passes by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import UndecidedError
from mlci.loader import Spec
from mlci.registry import CHAMPION, ModelVersion
from mlci.registry.location import RegistryLocation
from mlci.registry.tracking import model_name, spec_location


@dataclass(frozen=True)
class Baseline:
    source: str  # champion | file | none
    statement: str  # the sentence every report carries
    metrics: dict[str, Any] | None = None
    version: ModelVersion | None = None
    registry: str | None = None
    lineage: dict[str, str] = field(default_factory=dict)  # the champion's commit, spec, datasets, params
    alias: str = CHAMPION  # the registry alias the champion was read from
    file: str | None = None  # the --baseline file, as given

    @property
    def label(self) -> str:
        """How a gate's reason names the baseline it compared with."""
        if self.version is not None:
            return f"the {self.alias} (version {self.version.version})"
        if self.file is not None:
            return f"the --baseline file {self.file}"
        return "no baseline (absolute thresholds only)"

    @property
    def column(self) -> str:
        """The heading of the baseline's column in a table: what it actually is, never a guess
        such as "production" (a --baseline file or no champion is not what serves)."""
        if self.version is not None:
            return f"{self.alias} v{self.version.version}"
        if self.file is not None:
            return "--baseline file"
        return "no baseline"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "statement": self.statement,
            "registry": self.registry,
            "model": self.version.name if self.version else None,
            "version": self.version.version if self.version else None,
            "metrics": self.metrics,
        }


def file_baseline(path: Path, metrics: dict[str, Any]) -> Baseline:
    return Baseline("file", f"Baseline: the metrics in {path} (--baseline).", metrics, file=str(path))


def no_champion(location: RegistryLocation, name: str, alias: str) -> Baseline:
    return Baseline(
        "none",
        f"No champion: no version of {name} holds the {alias!r} alias in {location.describe()}; "
        "the gates compare with the absolute thresholds only.",
        registry=location.shown,
        alias=alias,
    )


def champion_baseline(spec: Spec, registry_option: str | None = None, alias: str = CHAMPION) -> Baseline:
    from mlci.registry import open_registry
    from mlci.runtime.gate import regression_metrics

    location = spec_location(spec, registry_option)
    name = model_name(spec)
    if location.database is not None and not location.database.is_file():
        # No embedded store yet: nothing was ever registered, and nothing to import or create.
        return no_champion(location, name, alias)
    registry = open_registry(location)
    version = registry.version_by_alias(name, alias)
    if version is None:
        return no_champion(location, name, alias)
    where = f"{name} version {version.version} ({alias!r} in {location.shown})"
    metrics = registry.run_metrics(version.run_id) if version.run_id else {}
    if not metrics:
        raise UndecidedError(
            f"the champion {where} has no metrics (no run, or a run that logged none): "
            "the gate cannot compare with the champion"
        )
    lacking = [metric for metric in regression_metrics(spec.typed.evaluation.gates) if metric not in metrics]
    if lacking:
        raise UndecidedError(
            f"the champion {where} has no {', '.join(lacking)} metric: the gate cannot compare with the champion"
        )
    lineage = {key: value for key, value in version.tags.items() if key.startswith("mlci.")}
    if version.run_id:
        lineage.update({f"param.{k}": v for k, v in registry.run_params(version.run_id).items()})
    return Baseline(
        "champion",
        f"Baseline: the champion, {where}.",
        metrics,
        version,
        location.shown,
        lineage,
        alias,
    )
