"""`mlci promote ENV`: move the environment's alias (a production tier: `champion`;
any other: the environment's name) to a registered, blessed version.

What the deploy jobs call after the CI's approval. The version comes from
artifacts/registered.json (written by `mlci register` in the same pipeline) or
`--version N`. It is promoted only when the registry shows it blessed and the blessing
stored with its run is the one its tag names (sha256), for this project and this
model file; anything else is refused with exit 1 and the alias stays where it was.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.errors import UserError
from mlci.loader import Spec
from mlci.registry import CHAMPION, ModelVersion, Registry, open_registry
from mlci.registry.location import RegistryLocation
from mlci.registry.tracking import BLESSING_FOLDER, model_name


@dataclass(frozen=True)
class Promotion:
    name: str
    alias: str
    version: str
    previous: str | None  # the version the alias held before
    refusal: str = ""


def environment_alias(spec: Spec, environment: str, champion_alias: str = CHAMPION) -> str:
    for entry in spec.typed.environments:
        if entry.name == environment:
            return champion_alias if entry.tier == "production" else environment
    names = ", ".join(e.name for e in spec.typed.environments) or "none"
    raise UserError(f"{spec.display_path}: no environment {environment!r} (the spec has: {names})")


def registered_version(spec: Spec) -> str:
    from mlci.commands.register import REGISTERED_FILE, read_json_object

    path = spec.directory / REGISTERED_FILE
    if not path.is_file():
        raise UserError(f"{REGISTERED_FILE} not found: run `mlci register` first, or pass --version N")
    record = read_json_object(path)
    if record.get("name") != model_name(spec):
        raise UserError(f"{REGISTERED_FILE}: registers {record.get('name')!r}, not {model_name(spec)!r}")
    version = record.get("version")
    if not isinstance(version, str | int) or not str(version).isdigit():
        raise UserError(f"{REGISTERED_FILE}: no version number")
    return str(version)


def blessing_refusal(spec: Spec, registry: Registry, version: ModelVersion) -> str:
    """Why `version` must not be promoted, or ''."""
    import json

    tags = version.tags
    expected = tags.get("mlci.blessing_sha256", "")
    if tags.get("mlci.blessed") != "true" or not expected:
        return "it carries no blessing (registered outside `mlci register`?)"
    if tags.get("mlci.project") != spec.typed.project.name:
        return f"it was registered for project {tags.get('mlci.project')!r}"
    if not version.run_id:
        return "it has no run holding its blessing"
    with tempfile.TemporaryDirectory(prefix="mlci-promote-") as folder:
        local = registry.download_artifact(version.run_id, f"{BLESSING_FOLDER}/blessing.json", Path(folder))
        raw = local.read_bytes() if local.is_file() else b""
    if not raw or hashlib.sha256(raw).hexdigest() != expected:
        return "the blessing stored with its run is not the one its tag names (sha256 differs)"
    try:
        document: Any = json.loads(raw)
    except ValueError:
        return "its blessing is not JSON"
    if not isinstance(document, dict) or document.get("blessed") is not True:
        return "its blessing says the gates did not pass"
    if document.get("model_sha256") != tags.get("mlci.model_sha256"):
        return "its blessing is for another model file"
    return ""


def run_promote(
    spec: Spec, environment: str, location: RegistryLocation, version: str | None, champion_alias: str = CHAMPION
) -> Promotion:
    alias = environment_alias(spec, environment, champion_alias)
    number = version or registered_version(spec)
    name = model_name(spec)
    registry = open_registry(location)
    found = registry.version(name, number)
    if found is None:
        return Promotion(name, alias, number, None, f"{name} has no version {number} in {location.shown}")
    refusal = blessing_refusal(spec, registry, found)
    if refusal:
        return Promotion(name, alias, number, None, f"{name} version {number} is not promoted: {refusal}")
    before = registry.version_by_alias(name, alias)
    registry.set_alias(name, alias, number)
    return Promotion(name, alias, number, before.version if before else None)
