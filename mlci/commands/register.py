"""`mlci register`: the blessed model becomes a new registered version with the alias
`challenger`, tagged with what blessed it (blessing, spec, commit, data hashes); the
version is written to artifacts/registered.json for the image build and `mlci promote`.

A model that is not blessed, or that is not the file the blessing names, is refused
(exit 1): the registry only ever holds models that passed the gates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import safe_fs
from mlci.errors import InputError, Location, UserError
from mlci.loader import Spec
from mlci.registry import CHALLENGER, ModelVersion
from mlci.registry.location import RegistryLocation
from mlci.registry.tracking import (
    BLESSING_FOLDER,
    MODEL_FOLDER,
    Tracker,
    dataset_tags,
    model_file,
    model_name,
    numeric_metrics,
)
from mlci.runtime.hashing import sha256_file

REGISTERED_FILE = "artifacts/registered.json"
MAX_BLESSING_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Registration:
    version: ModelVersion | None
    location: RegistryLocation
    refusal: str = ""  # why nothing was registered
    path: Path | None = None  # registered.json


def read_json_object(path: Path) -> dict[str, Any]:
    """A small JSON object from a regular file (the blessing, registered.json)."""
    from mlci.runtime.hashing import open_regular

    try:
        with open_regular(path) as handle:
            raw = handle.read(MAX_BLESSING_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: not found") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        value = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_BLESSING_BYTES else None
    except (UnicodeDecodeError, RecursionError, json.JSONDecodeError):
        value = None
    if not isinstance(value, dict):
        raise InputError(Location(str(path)), "expected a JSON object written by mlci")
    return value


def blessing_problem(spec: Spec, document: dict[str, Any], model_sha256: str | None) -> str:
    """Why this blessing does not bless this model of this project, or ''."""
    if document.get("blessed") is not True:
        return "the blessing says the gates did not pass"
    if document.get("project") != spec.typed.project.name:
        return f"the blessing is for project {document.get('project')!r}"
    if not model_sha256:
        return "the model file is missing"
    if document.get("model_sha256") != model_sha256:
        return "the model file changed since the gate blessed it (sha256 differs)"
    return ""


def version_tags(spec: Spec, document: dict[str, Any], blessing_sha256: str) -> dict[str, str]:
    tags = {
        "mlci.blessed": "true",
        "mlci.blessing_sha256": blessing_sha256,
        "mlci.model_sha256": str(document["model_sha256"]),
        "mlci.spec_sha256": str(document.get("spec_sha256") or spec.digest),
        "mlci.project": spec.typed.project.name,
    }
    if document.get("commit"):
        tags["mlci.commit"] = str(document["commit"])
    datasets = document.get("datasets")
    return {**tags, **dataset_tags(datasets if isinstance(datasets, dict) else {})}


def run_register(spec: Spec, location: RegistryLocation) -> Registration:
    blessing_path = spec.directory / spec.typed.blessing_file
    if not blessing_path.is_file():
        return Registration(
            None, location, f"{spec.typed.blessing_file} not found: the gate has not blessed this model"
        )
    document = read_json_object(blessing_path)
    model = model_file(spec)
    model_sha256 = sha256_file(model) if model.is_file() else None
    problem = blessing_problem(spec, document, model_sha256)
    if problem:
        return Registration(None, location, f"{spec.typed.blessing_file}: {problem}; nothing registered")
    tracker = Tracker(spec, location)
    run_id = tracker.current()
    registry = tracker.registry
    # The metrics that blessed the model are the version's: the next gate's baseline once it is
    # champion, even when this job could not continue the training run (no artifacts/run.json).
    metrics = document.get("metrics")
    registry.log_metrics(run_id, numeric_metrics(metrics if isinstance(metrics, dict) else {}))
    # The model and its blessing travel with the run, so `promote` can check one against the other.
    source = registry.log_artifact(run_id, model, MODEL_FOLDER)
    registry.log_artifact(run_id, blessing_path, BLESSING_FOLDER)
    tags = version_tags(spec, document, sha256_file(blessing_path))
    version = registry.register(model_name(spec), source, run_id, tags)
    registry.set_alias(version.name, CHALLENGER, version.version)
    record = {
        "name": version.name,
        "version": version.version,
        "uri": version.uri,
        "registry": location.shown,
        "run_id": run_id,
        "model_sha256": model_sha256,
        "blessing_sha256": tags["mlci.blessing_sha256"],
    }
    target = spec.directory / REGISTERED_FILE
    safe_fs.write_text(target, json.dumps(record, indent=2, sort_keys=True) + "\n", spec.directory)
    return Registration(version, location, path=target)
