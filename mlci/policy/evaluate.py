"""Run the pack over specs and map each rule's `{msg, path}` objects to findings."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from mlci.errors import PolicyEngineError
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.policy.engines import PolicyEngine
from mlci.policy.metadata import RuleMeta
from mlci.policy.pack import PolicyPack

# Rules without METADATA still count when named like conftest's conventions,
# so an organisation's existing policies work unchanged.
_CONVENTIONAL_RULES = {"deny": Severity.HIGH, "violation": Severity.HIGH, "warn": Severity.LOW}


def evaluate_specs(engine: PolicyEngine, pack: PolicyPack, specs: Sequence[Spec], today: str) -> list[Finding]:
    documents = engine.evaluate(pack, pack.data(today), [spec.data for spec in specs])
    findings: list[Finding] = []
    for spec, document in zip(specs, documents, strict=True):
        findings.extend(_findings_for(spec, document, pack, engine.name))
    return findings


def _findings_for(spec: Spec, document: dict[str, Any], pack: PolicyPack, engine: str) -> list[Finding]:
    out: list[Finding] = []
    for package, rules in _walk_packages("mlci", document):
        for rule, value in rules.items():
            meta = pack.rules.get((package, rule))
            if meta is None and rule not in _CONVENTIONAL_RULES:
                continue
            if not isinstance(value, list):
                if meta is not None:
                    raise PolicyEngineError(engine, f"rule {package}.{rule} ({meta.id}) did not return a set")
                continue
            for violation in value:
                out.append(_to_finding(spec, package, rule, meta, violation))
    return out


def _walk_packages(prefix: str, document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every (package, rules) pair under data.mlci, including nested packages."""
    found = [(prefix, document)]
    for key, value in document.items():
        if isinstance(value, dict) and not _looks_like_violation(value):
            found.extend(_walk_packages(f"{prefix}.{key}", value))
    return found


def _looks_like_violation(value: dict[str, Any]) -> bool:
    return "msg" in value


def _to_finding(spec: Spec, package: str, rule: str, meta: RuleMeta | None, violation: Any) -> Finding:
    if isinstance(violation, str):
        violation = {"msg": violation}
    if not isinstance(violation, dict):
        violation = {"msg": str(violation)}
    path = _clean_path(violation.get("path", ()))
    location = spec.location(path)
    if meta is None:
        rule_id = f"{package}.{rule}"
        severity = _CONVENTIONAL_RULES[rule]
        if "severity" in violation:
            with contextlib.suppress(ValueError):
                severity = Severity.parse(str(violation["severity"]))
        return Finding.at(
            location,
            rule_id=str(violation.get("id", rule_id)),
            severity=severity,
            message=str(violation.get("msg", rule_id)),
            path=path,
            remediation=str(violation.get("remediation", "")),
        )
    return Finding.at(
        location,
        rule_id=meta.id,
        severity=meta.severity,
        message=str(violation.get("msg", meta.title)),
        path=path,
        remediation=meta.remediation,
        title=meta.title,
        controls=meta.controls,
    )


def _clean_path(raw: Any) -> tuple[str | int, ...]:
    if isinstance(raw, str):
        raw = [p for p in raw.replace("[", ".").replace("]", "").split(".") if p and p != "$"]
        return tuple(int(p) if p.isdigit() else p for p in raw)
    if isinstance(raw, list | tuple):
        return tuple(p if isinstance(p, int) else str(p) for p in raw)
    return ()
