"""Validate custom resources against the JSON Schemas of their published CRDs (see update.py).

    python -m tests.crds.validate FILE...

Built-in kinds are left to kubernetes-validate. A custom resource whose CRD is not kept
here is a finding too, so that nothing rendered goes unchecked.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent


def is_custom(api_version: str) -> bool:
    """Custom resources live in a dotted API group that is not Kubernetes' own (*.k8s.io)."""
    group = api_version.rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


@functools.cache
def validator(api_version: str, kind: str) -> Draft4Validator | None:
    group, _, version = api_version.rpartition("/")
    path = HERE / group / f"{kind.lower()}_{version}.json"
    if not path.is_file():
        return None
    # Draft 4: the semantics of Kubernetes' OpenAPI v3 schemas (boolean exclusiveMinimum...).
    return Draft4Validator(json.loads(path.read_text()))


def findings(documents: Iterable[Any], source: str) -> list[str]:
    """One line per problem in the custom resources among `documents`."""
    problems = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict) or not is_custom(str(document.get("apiVersion", ""))):
            continue
        api_version, kind = str(document["apiVersion"]), str(document.get("kind"))
        name = document.get("metadata", {}).get("name", f"#{index}")
        check = validator(api_version, kind)
        if check is None:
            problems.append(f"{source}: {kind} {name}: no CRD schema for {api_version} {kind} in tests/crds")
            continue
        for error in sorted(check.iter_errors(document), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(part) for part in error.absolute_path) or "(root)"
            problems.append(f"{source}: {kind} {name}: {where}: {error.message}")
    return problems


def validate_files(files: Iterable[Path]) -> tuple[int, list[str]]:
    """(custom resources checked, problems) for the YAML files."""
    yaml = YAML(typ="safe")
    checked, problems = 0, []
    for path in files:
        documents = [d for d in yaml.load_all(path.read_text()) if isinstance(d, dict)]
        checked += sum(is_custom(str(d.get("apiVersion", ""))) for d in documents)
        problems += findings(documents, str(path))
    return checked, problems


if __name__ == "__main__":
    count, found = validate_files(Path(arg) for arg in sys.argv[1:])
    print("\n".join(found) or f"{count} custom resources valid")
    sys.exit(1 if found else 0)
