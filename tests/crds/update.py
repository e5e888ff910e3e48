"""Rebuild the JSON Schemas in tests/crds from the CRDs their projects publish.

    python tests/crds/update.py [--zips DIR]

Each CRD comes from its project's Go module, fetched from the Go module proxy
($GOPROXY, default proxy.golang.org) at the version pinned in SOURCES and checked
against the module's h1: hash, the one the Go checksum database (sum.golang.org)
records for that version. `--zips DIR` reads module zips already downloaded
(e.g. from $(go env GOMODCACHE)/cache/download/<module>/@v/) instead.

The conversion follows openapi2jsonschema's strict mode, which the CRDs-catalog
schemas are also made with: descriptions dropped, int-or-string and nullable
spelled out, and every object schema that lists its properties and neither
declares additionalProperties nor preserves unknown fields gets
`additionalProperties: false`, so a misspelt or misplaced field fails validation
as the API server's structural pruning would silently drop it. Not enforced:
the CEL rules (x-kubernetes-validations) and metadata (the API server checks
ObjectMeta for every kind, kubernetes-validate does it for built-in kinds).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Source:
    module: str
    version: str
    h1: str  # the module's hash as the Go checksum database records it
    paths: tuple[str, ...]  # CRD files inside the module


SOURCES = (
    Source(
        "github.com/argoproj/argo-rollouts",
        "v1.10.2",
        "h1:sEPWsY+HUvnXj3Vh0ejb+GDTceQ/palqhFo2FVQJMk0=",
        ("manifests/crds/rollout-crd.yaml", "manifests/crds/analysis-template-crd.yaml"),
    ),
    Source(
        "github.com/argoproj/argo-cd/v3",
        "v3.6.1",
        "h1:OmhqeKiR3C//awbFrhQqFdtRI+Qiv17j8vqm3UkMj/g=",
        ("manifests/crds/application-crd.yaml", "manifests/crds/appproject-crd.yaml"),
    ),
    Source(
        "github.com/prometheus-operator/prometheus-operator",
        "v0.88.0",
        "h1:3T/dCQdk7CUVRqVfwRHoC5g66fC/ML6XQQLtQVL6Q5o=",
        ("example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",),
    ),
    Source(
        "github.com/kserve/kserve",
        "v0.17.0",
        "h1:IaynaBFzVQz1Xyrw5n3ncqzd5Y7L1RkO+YWvVwwtMQE=",
        ("config/crd/full/serving.kserve.io_inferenceservices.yaml",),
    ),
    Source(
        "github.com/argoproj/argo-workflows/v4",
        "v4.0.7",
        "h1:O76Plk/nYI+gFax3vvE7elvA3BNAp0r0aJ24VmjsjLE=",
        (
            "manifests/base/crds/full/argoproj.io_workflowtemplates.yaml",
            "manifests/base/crds/full/argoproj.io_cronworkflows.yaml",
        ),
    ),
)


def module_hash(archive: zipfile.ZipFile) -> str:
    """Go's dirhash.Hash1 of a module zip."""
    names = sorted(name for name in archive.namelist() if not name.endswith("/"))
    summary = "".join(f"{hashlib.sha256(archive.read(name)).hexdigest()}  {name}\n" for name in names)
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def fetch(source: Source, zips: Path | None) -> zipfile.ZipFile:
    if zips is not None:
        data = (zips / source.module / "@v" / f"{source.version}.zip").read_bytes()
    else:
        proxy = os.environ.get("GOPROXY", "https://proxy.golang.org").split(",")[0]
        if not proxy.startswith("https://"):
            proxy = "https://proxy.golang.org"
        escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in source.module)
        with urllib.request.urlopen(f"{proxy}/{escaped}/@v/{source.version}.zip", timeout=300) as response:
            data = response.read()
    archive = zipfile.ZipFile(io.BytesIO(data))
    found = module_hash(archive)
    if found != source.h1:
        sys.exit(f"{source.module}@{source.version}: hash {found}, expected {source.h1}")
    return archive


def strict(schema: Any) -> Any:
    """One OpenAPI v3 schema node as a strict JSON Schema (draft 4 semantics, as Kubernetes uses)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("description", "example", "x-kubernetes-validations"):
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: strict(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = strict(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [strict(child) for child in value]
        else:
            out[key] = value
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def convert(crd: dict[str, Any], origin: str) -> dict[str, dict[str, Any]]:
    """{file name: JSON Schema} for every served version of one CRD."""
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schemas = {}
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = strict(version["schema"]["openAPIV3Schema"])
        schema["properties"]["apiVersion"] = {"enum": [f"{group}/{version['name']}"]}
        schema["properties"]["kind"] = {"enum": [kind]}
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
        schemas[f"{group}/{kind.lower()}_{version['name']}.json"] = {"$comment": origin, **schema}
    return schemas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zips", type=Path, help="a GOMODCACHE/cache/download folder with the module zips")
    args = parser.parse_args()
    yaml = YAML(typ="safe")
    for source in SOURCES:
        archive = fetch(source, args.zips)
        for path in source.paths:
            raw = archive.read(f"{source.module}@{source.version}/{path}")
            origin = (
                f"Converted by tests/crds/update.py from {source.module}@{source.version} {path} "
                f"(sha256 {hashlib.sha256(raw).hexdigest()}); do not edit."
            )
            for name, schema in convert(yaml.load(raw), origin).items():
                target = HERE / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
                print(f"wrote {target.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
