"""Run the pack over specs and turn each rule's value in the decision into findings.

The decision (see pack.py) holds one value per evaluated rule. How a value maps:

- a set or array: one violation per element, a string (the message) or an object
  `{"msg", "path", ...}`;
- `true`: one violation, with the rule's title (or id) as message; `false` (also
  what the decision holds for an undefined rule): none;
- an object (`deny[k] := v`): one violation per entry, whose value is the message,
  a violation object (its message defaults to the key) or `true` (the key is the
  message). A single-value rule whose value is one violation object (it has
  `msg`) is that violation.

Anything else (a number, a null, a list of numbers...) is a rule mlci cannot
interpret: PolicyEngineError naming the rule, exit 3, never skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from mlci.errors import PolicyEngineError
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.policy.decision import PackRule
from mlci.policy.engines import PolicyEngine, checked_decision
from mlci.policy.pack import PolicyPack


def evaluate_specs(engine: PolicyEngine, pack: PolicyPack, specs: Sequence[Spec], today: str) -> list[Finding]:
    from mlci.policy.facts import with_facts

    per_spec = evaluate_inputs(engine, pack, specs, [with_facts(spec) for spec in specs], today)
    return [finding for findings in per_spec for finding in findings]


def evaluate_inputs(
    engine: PolicyEngine, pack: PolicyPack, specs: Sequence[Spec], inputs: list[dict[str, Any]], today: str
) -> list[list[Finding]]:
    """The findings of each spec, from its policy input (`facts.with_facts`), in one engine call."""
    documents = engine.evaluate(pack, pack.data(today), inputs)
    return [findings_for(spec, document, pack, engine.name) for spec, document in zip(specs, documents, strict=True)]


def findings_for(spec: Spec, decision: Any, pack: PolicyPack, engine: str) -> list[Finding]:
    """The findings of one spec from its decision object."""
    # The engines check this already; one shared check keeps a new engine from skipping it.
    decision = checked_decision(engine, pack, decision)
    out: list[Finding] = []
    for key, rule in pack.decision_rules.items():
        try:
            violations = violations_of(rule, decision[key])
        except ValueError as exc:
            raise PolicyEngineError(engine, f"rule {rule.key} ({rule.meta.id}, {rule.location}): {exc}") from None
        out.extend(_to_finding(spec, rule, violation) for violation in violations)
    return out


def violations_of(rule: PackRule, value: Any) -> list[dict[str, Any]]:
    """The violation objects of a rule's value. Raises ValueError when mlci cannot interpret it."""
    if value is False:
        return []
    if value is True:
        return [{"msg": rule.meta.title or rule.meta.id}]
    if isinstance(value, list):
        return [_violation(item, None) for item in value]
    if isinstance(value, dict):
        if rule.kind != "object" and "msg" in value:
            return [_violation(value, None)]
        return [_violation(item, key) for key, item in value.items() if item is not False]
    if isinstance(value, str) and rule.kind == "value":
        return [{"msg": value}]
    raise ValueError(f"its value {_shown(value)} is not a set, boolean or object of violations")


def _violation(item: Any, key: str | None) -> dict[str, Any]:
    if isinstance(item, str):
        return {"msg": item}
    if item is True and key is not None:
        return {"msg": key}
    if isinstance(item, dict):
        message = item.get("msg", key)
        if message is not None and not isinstance(message, str):
            raise ValueError(f"a violation's msg {_shown(message)} is not a string")
        return {**item, "msg": message} if message is not None else dict(item)
    raise ValueError(f"a violation {_shown(item)} is neither a message string nor an object")


def _to_finding(spec: Spec, rule: PackRule, violation: dict[str, Any]) -> Finding:
    meta = rule.meta
    path = _clean_path(violation.get("path", ()))
    location = spec.location(path)
    message = violation.get("msg") or meta.title or meta.id
    if rule.conventional:
        # conftest-style rules: a violation may name its own id, severity and remediation.
        severity = meta.severity
        if "severity" in violation:
            with contextlib.suppress(ValueError):
                severity = Severity.parse(str(violation["severity"]))
        return Finding.at(
            location,
            rule_id=str(violation.get("id", meta.id)),
            severity=severity,
            message=message,
            path=path,
            remediation=str(violation.get("remediation", meta.remediation)),
            title=meta.title,
            controls=meta.controls,
        )
    return Finding.at(
        location,
        rule_id=meta.id,
        severity=meta.severity,
        message=message,
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


def _shown(value: Any) -> str:
    import json

    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
