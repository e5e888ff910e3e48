"""Load the model the registry holds, by version: what a deployed image serves.

The image build pins the version `mlci register` registered (MLCI_MODEL_VERSION) and the
deployment names the registry (MLFLOW_TRACKING_URI, from the cluster's secret). With both
set, serve.py downloads models:/<name>/<version> and checks it against the sha256 the
version was blessed with; without them it loads the local file (MLCI_MODEL_PATH), the
local loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from common import fail

MODEL_NAME = "iris-classifier"  # model.name in mlproject.yaml


def registered_model_file() -> Path | None:
    """The registered version's model file, downloaded; None when no version is pinned."""
    version = os.environ.get("MLCI_MODEL_VERSION", "").strip()
    registry = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not version or not registry:
        return None
    if not version.isdigit():
        fail("MLCI_MODEL_VERSION must be a version number")
    name = os.environ.get("MLCI_MODEL_NAME") or MODEL_NAME
    try:
        from mlflow.artifacts import download_artifacts
        from mlflow.tracking import MlflowClient
    except ImportError:
        fail("MLCI_MODEL_VERSION is set: loading a registered model needs mlflow-skinny (requirements.txt)")
    uri = f"models:/{name}/{version}"
    try:
        expected = MlflowClient(registry, registry).get_model_version(name, version).tags.get("mlci.model_sha256")
        local = Path(download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp(prefix="model-")))
    except Exception as exc:  # the registry's client raises many kinds; any of them means no model
        fail(f"cannot load {uri} from the registry: {type(exc).__name__}")
    files = sorted(local.rglob("*.joblib")) if local.is_dir() else [local]
    if len(files) != 1:
        fail(f"{uri} holds {len(files)} model files, expected one")
    if not expected or hashlib.sha256(files[0].read_bytes()).hexdigest() != expected:
        fail(f"{uri} is not the model it was blessed as (sha256 differs, or the version has no mlci.model_sha256)")
    print(json.dumps({"event": "model", "uri": uri}), file=sys.stderr, flush=True)
    return files[0]
