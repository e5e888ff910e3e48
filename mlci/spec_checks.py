"""Checks of a spec that the JSON Schema cannot say well, run right after it accepts one.

Dataset URIs: mlci hashes local datasets (`lineage record`, `mlci run`), so a spec
from a pull request could point it at `/etc/shadow`, `../../secrets` or `/dev/zero`
(which never ends). A local dataset is a path relative to the spec that stays in the
project; remote data (s3://, gs://, https://, dvc:// of another repository, ...) is
never opened and stays allowed.
"""

from __future__ import annotations

import re

from mlci.findings import Finding, JsonPath, Severity
from mlci.loader import Spec

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)$", re.DOTALL)
_DRIVE = re.compile(r"^[A-Za-z]:")
RULE = "schema"


def check_spec(spec: Spec) -> list[Finding]:
    """Problems of a schema-valid spec, each at the line and column of what is wrong."""
    findings = []
    for index, dataset in enumerate(spec.typed.datasets):
        uri = dataset.uri
        problem = dataset_uri_problem(uri)
        if problem:
            findings.append(
                input_finding(
                    spec,
                    ("datasets", index, "uri"),
                    f"datasets[{index}].uri: {uri!r} {problem}",
                    "Name local data by a path relative to mlproject.yaml inside the project, "
                    "or by a remote URI (s3://, gs://, https://).",
                )
            )
    return findings


def input_finding(spec: Spec, path: JsonPath, message: str, remediation: str) -> Finding:
    """A problem of the spec the schema could not say, reported like a schema finding (exit 2)."""
    return Finding.at(
        spec.location(path),
        rule_id=RULE,
        severity=Severity.HIGH,
        message=message,
        path=path,
        remediation=remediation,
        source="schema",
    )


def dataset_uri_problem(uri: str) -> str | None:
    """Why mlci refuses `uri`, or None when it is remote or a local path inside the project."""
    if "\0" in uri:
        return "contains a NUL character"
    if _DRIVE.match(uri):
        return "is an absolute path; local data must be a path relative to the spec, inside the project"
    match = _SCHEME.match(uri)
    if match:
        scheme, rest = match["scheme"].lower(), match["rest"]
        if scheme == "file":
            return "is a file: URI, which names a file anywhere on the machine; use a path relative to the spec"
        if not rest.startswith("//"):
            return _local_path_problem(uri)  # `name:thing` without `//` is a relative path with a colon
        if scheme == "dvc":
            target = rest[2:]
            if target.startswith(("http", "git@")) or "://" in target:
                return None  # data of another repository, fetched by DVC
            return _local_path_problem(target)
        return None  # remote: never opened by mlci
    return _local_path_problem(uri)


def _local_path_problem(path: str) -> str | None:
    if not path:
        return "names no path"
    if path.startswith(("/", "\\")):
        return "is an absolute path; local data must be a path relative to the spec, inside the project"
    if path.startswith("~"):
        return "starts at a home folder; local data must be a path relative to the spec, inside the project"
    if ".." in re.split(r"[/\\]", path):
        return "climbs out with '..'; local data must stay inside the project"
    return None
