"""One tracked run per pipeline run, across the separate `mlci run --stage` invocations
(separate CI jobs): the train stage starts it and records its id in artifacts/run.json,
which the CI passes on with the other artifacts; the later stages log to the same run.

Tags: project, spec hash, git commit, dataset hashes. Params: training.params. The
model file is an artifact of the run; evaluation metrics are the run's metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlci import safe_fs
from mlci.loader import Spec
from mlci.registry import Registry, open_registry
from mlci.registry.location import RegistryLocation, resolve_location
from mlci.runtime.gitinfo import current_commit
from mlci.spec import thaw

RUN_FILE = "artifacts/run.json"
MODEL_FOLDER = "model"
BLESSING_FOLDER = "blessing"
# The run's numbers are at most this many metrics (a metrics file can hold anything).
MAX_METRICS = 500


def spec_location(spec: Spec, option: str | None = None) -> RegistryLocation:
    position = spec.location(("model", "registry")) if spec.typed.model.registry else None
    return resolve_location(spec.directory, spec.typed.model.registry, option, position)


def model_name(spec: Spec) -> str:
    return spec.typed.model.name


def model_file(spec: Spec) -> Path:
    return spec.directory / spec.typed.model_path


def base_tags(spec: Spec) -> dict[str, str]:
    tags = {"mlci.project": spec.typed.project.name, "mlci.spec_sha256": spec.digest}
    commit = current_commit(spec.directory)
    if commit:
        tags["mlci.commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    return tags


def dataset_tags(datasets: dict[str, Any]) -> dict[str, str]:
    """`mlci.dataset.<name>.sha256` for each dataset whose hash is known."""
    return {
        f"mlci.dataset.{name}.sha256": str(entry["sha256"])
        for name, entry in sorted(datasets.items())
        if isinstance(entry, dict) and entry.get("sha256")
    }


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics file's top-level numbers (per-group breakdowns and counts of strings stay out)."""
    import math

    chosen: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            continue
        chosen[str(key)[:250]] = float(value)
        if len(chosen) >= MAX_METRICS:
            break
    return chosen


class Tracker:
    """The pipeline run's tracked run; the registry is opened on first use."""

    def __init__(self, spec: Spec, location: RegistryLocation) -> None:
        self.spec = spec
        self.location = location
        self._registry: Registry | None = None
        self._run_id: str | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = open_registry(self.location)
        return self._registry

    @property
    def run_file(self) -> Path:
        return self.spec.directory / RUN_FILE

    def start(self) -> str:
        """A new run for a new pipeline run (the train stage)."""
        tags = {**base_tags(self.spec), "mlflow.runName": f"{self.spec.typed.project.name}-pipeline"}
        self._run_id = self.registry.start_run(self.spec.typed.project.name, tags)
        document = {"run_id": self._run_id, "registry": self.location.shown, "experiment": tags["mlci.project"]}
        safe_fs.write_text(self.run_file, json.dumps(document, indent=2, sort_keys=True) + "\n", self.spec.directory)
        return self._run_id

    def current(self) -> str:
        """The run artifacts/run.json names, when it is this pipeline run's; else a new one.

        The file is in the checkout, so a pull request can commit one naming the production
        model's run: a run is continued only in the same registry, for the same project and
        commit, so nothing is ever logged into another pipeline run's record."""
        if self._run_id is not None:
            return self._run_id
        recorded = self._recorded_run()
        if recorded:
            tags = self.registry.run_tags(recorded)
            expected = base_tags(self.spec)
            if tags is not None and all(
                tags.get(key) == expected[key] for key in ("mlci.project", "mlci.commit") if key in expected
            ):
                self._run_id = recorded
                return recorded
        return self.start()

    def _recorded_run(self) -> str | None:
        try:
            document = json.loads(self.run_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(document, dict) or document.get("registry") != self.location.shown:
            return None
        run_id = document.get("run_id")
        return run_id if isinstance(run_id, str) and run_id.isalnum() and len(run_id) <= 64 else None

    def after_train(self) -> str:
        from mlci.runtime.hashing import sha256_file
        from mlci.runtime.lineage import blessing_provenance

        run_id = self.current()
        model = model_file(self.spec)
        # The hashes of the data this very model was trained on (the lineage just recorded), else the pins.
        datasets, _ = blessing_provenance(self.spec, sha256_file(model) if model.is_file() else None)
        self.registry.log_params(run_id, thaw(self.spec.typed.training.params))
        self.registry.set_run_tags(run_id, dataset_tags(datasets))
        if model.is_file():
            self.registry.log_artifact(run_id, model, MODEL_FOLDER)
        return run_id

    def after_evaluate(self) -> str:
        from mlci.runtime.gate import read_metrics

        run_id = self.current()
        metrics_path = self.spec.directory / self.spec.typed.evaluation.metrics_file
        self.registry.log_metrics(run_id, numeric_metrics(read_metrics(metrics_path)))
        return run_id

    def after_gate(self, passed: bool) -> None:
        self.registry.set_run_tags(self.current(), {"mlci.gate": "passed" if passed else "failed"})

    def finish(self, succeeded: bool) -> None:
        if self._run_id is not None:
            self.registry.end_run(self._run_id, succeeded)
