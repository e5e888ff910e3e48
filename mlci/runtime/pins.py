"""The data pins, enforced before training: each dataset's `sha256` in the spec and what
dvc.lock (or a `.dvc` file) pins for it must match the data as it is now.

A mismatch is a finding at the dataset's line (exit 1), reported before the training
command runs, so a model is never trained, gated and blessed on data nobody pinned.
Remote data is hashed by streaming it (mlci/runtime/remote.py); data mlci cannot read
is never taken as verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlci.findings import Finding, JsonPath, Severity
from mlci.loader import Spec
from mlci.runtime.dvc import DvcIndex
from mlci.runtime.lineage import DatasetState, dataset_states, local_path

RULE = "data-pin"
TITLES = {
    "sha256": "Dataset differs from its sha256 pin",
    "dvc": "Dataset differs from what DVC pins",
    "missing": "Pinned dataset not found",
    "unverifiable": "Pinned dataset that mlci cannot read",
}


@dataclass(frozen=True)
class PinOutcome:
    states: list[DatasetState]  # the data as hashed now: the lineage of the run records these
    findings: list[Finding]
    notes: list[str]  # one line per dataset whose pins hold, or that nothing pins


def _short(digest: str | None) -> str:
    return "none" if digest is None else digest[:12]


def _finding(spec: Spec, index: int, rule: str, message: str, remediation: str) -> Finding:
    where: JsonPath = ("datasets", index)
    return Finding.at(
        spec.location(where),
        rule_id=f"{RULE}/{rule}",
        title=TITLES[rule],
        severity=Severity.HIGH,
        message=message,
        path=where,
        remediation=remediation,
        source="data",
    )


RESTORE = "Restore the data the pin names, or, if the change is intended, update the pin in a reviewed change."


def verify_pins(spec: Spec) -> PinOutcome:
    """Hash every dataset and hold it against its pins."""
    dvc = DvcIndex(spec.directory)
    states = dataset_states(spec, dvc)
    findings: list[Finding] = []
    notes: list[str] = []
    for index, state in enumerate(states):
        label = f"dataset {state.name!r} ({state.path or state.uri})"
        local = local_path(spec, state.uri)
        dvc_pins = dvc.pins(local) if local is not None else []
        pinned = bool(state.declared_sha256 or dvc_pins)
        before = len(findings)
        if state.kind == "missing" and pinned:
            findings.append(
                _finding(spec, index, "missing", f"{label}: not found, so its pin cannot be verified", RESTORE)
            )
        elif state.unverifiable and pinned:
            findings.append(
                _finding(
                    spec,
                    index,
                    "unverifiable",
                    f"{label}: pinned, but {state.unverifiable}",
                    "Hash data mlci can read, or copy it into the project (DVC) before training.",
                )
            )
        if state.declared_sha256 and state.sha256 and state.sha256 != state.declared_sha256:
            kind = "mlci's folder hash" if state.kind == "folder" else "sha256"
            findings.append(
                _finding(
                    spec,
                    index,
                    "sha256",
                    f"{label}: {kind} is {state.sha256} ({state.size} bytes), the spec pins {state.declared_sha256}",
                    RESTORE,
                )
            )
        for pin in dvc_pins:
            if state.md5 is not None and not pin.matches(state.md5, state.md5_dos2unix):
                lock = pin.lock.name if pin.stage is None else f"{pin.lock.name} (stage {pin.stage})"
                findings.append(
                    _finding(
                        spec,
                        index,
                        "dvc",
                        f"{label}: md5 is {state.md5}, {lock} pins {pin.md5}",
                        "Run `dvc checkout` (or `dvc repro`) to restore the pinned data, or commit the new dvc.lock.",
                    )
                )
        if len(findings) == before and pinned and state.sha256:
            sources = (["sha256"] if state.declared_sha256 else []) + (["dvc.lock"] if dvc_pins else [])
            notes.append(f"{label}: {' and '.join(sources)} pin verified ({_short(state.sha256)})")
        elif not pinned:
            now = f"sha256 {_short(state.sha256)}" if state.sha256 else state.unverifiable or "not found"
            notes.append(f"{label}: not pinned ({now}); set datasets[{index}].sha256 to pin it")
    return PinOutcome(states, findings, notes)
