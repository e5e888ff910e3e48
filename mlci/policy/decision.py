"""Which rules of the pack mlci evaluates, and the generated module that asks for them.

Every module's rule heads are scanned (`rules.py`). A rule is *evaluated* when

- its METADATA names a `custom.id` (mlci's own convention), or
- it is named like a conftest rule, in any package: `deny`, `violation`, `warn`,
  or `deny_*`, `violation_*`, `warn_*`. Its id is `custom.id` when a METADATA block
  gives one, else `package.rule` (e.g. `main.deny`); its severity is
  `custom.severity`, else high for deny/violation and low for warn.

Any other rule is a helper (a value or a function) and is ignored: it never hides
the rules beside it. What mlci cannot interpret is refused with the Rego file's
line and column (exit 2): a METADATA block without `custom.id` on a rule that is
not conftest-named, a function or a nested ref head (`deny.a contains ...`) that
carries an id or a conftest name, a rule defined with two incompatible heads, a
rule whose value is a string/number/null literal, a user module in the reserved
package `mlci_decision`, ids used by two rules, and conftest's `exception` rules
beside conftest rules (mlci has waivers instead).

The generated module (package `mlci_decision`) has one object, `rules`, with one
key per evaluated rule, always present: a rule that is undefined (a boolean
`deny if {...}` whose body fails, a complete rule without a match) yields `false`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mlci.errors import InputError, Location, UndecidedError
from mlci.findings import Severity
from mlci.policy.metadata import RuleMeta, read_annotation
from mlci.policy.rules import ModuleScan, RegoScanError, RuleHead, is_scalar_literal, scan_module

DECISION_PACKAGE = "mlci_decision"
DECISION_MODULE = "mlci/_decision.rego"
DECISION_QUERY = f"data.{DECISION_PACKAGE}.rules"
UNDEFINED = False  # what the decision holds for a rule that is undefined
CONFTEST_EXCEPTION = "exception"
_CONFTEST_NAME = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)?$")
_EVALUATED_KINDS = ("set", "boolean", "object", "value")
_KIND_TEXT = {
    "set": "a multi-value rule (contains)",
    "boolean": "a boolean rule (if)",
    "object": "an object rule (rule[key] := value)",
    "value": "a single-value rule (:=)",
}


@dataclass(frozen=True)
class PackRule:
    """One rule mlci evaluates, and how its value turns into violations."""

    key: str  # "package.rule", the key in the decision object
    package: str
    name: str
    kind: str  # set | boolean | object | value
    meta: RuleMeta
    conventional: bool  # conftest-style: a violation object may set its own id, severity, remediation
    location: Location
    annotated: bool = False  # has a METADATA block


def conftest_severity(name: str) -> Severity:
    # conftest's warn rules are reported without failing; info is below the default --fail-on
    # (low), and `--fail-on info` is conftest's `--fail-on-warn`.
    return Severity.INFO if name.startswith("warn") else Severity.HIGH


def index_rules(modules: dict[str, str]) -> dict[str, PackRule]:
    """key -> rule, in module and source order. Raises InputError (exit 2)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=False)  # one instance: creating one scans for plug-ins
    found: dict[str, PackRule] = {}
    ids: dict[str, PackRule] = {}
    exceptions: dict[str, Location] = {}  # package -> first conftest `exception` rule
    scans = {filename: _scan(filename, source) for filename, source in modules.items()}
    builtin = {scan.package for filename, scan in scans.items() if _is_mlci_module(filename)}
    for filename, scan in scans.items():
        if not _is_mlci_module(filename):
            _refuse_reserved_package(scan, filename, builtin)
        for head in scan.heads:
            if head.name == CONFTEST_EXCEPTION:
                exceptions.setdefault(scan.package, Location(filename, head.line, head.column))
            rule = _rule_for(head, scan.package, filename, yaml)
            if rule is None:
                continue
            earlier = found.get(rule.key)
            if earlier is not None:
                rule = _merge(earlier, rule)
            clash = ids.get(rule.meta.id)
            if clash is not None and clash.key != rule.key:
                raise InputError(
                    rule.location, f"rule id {rule.meta.id} is also used by {clash.key} at {clash.location}"
                )
            ids[rule.meta.id] = rule
            found[rule.key] = rule
    _refuse_conftest_exceptions(exceptions, found)
    return found


def _is_mlci_module(filename: str) -> bool:
    from mlci.policy.rego_errors import is_mlci_module

    return filename == DECISION_MODULE or is_mlci_module(filename)


def _scan(filename: str, source: str) -> ModuleScan:
    try:
        return scan_module(source)
    except RegoScanError as exc:
        # Rego that does not even parse: the user's own module is their input (exit 2 at
        # their line); mlci's own pack failing to parse is mlci's problem (exit 3).
        where = Location(filename, exc.line, exc.column)
        if not _is_mlci_module(filename):
            raise InputError(where, f"not valid Rego: {exc.problem}") from None
        raise UndecidedError(f"mlci could not decide: {where}: cannot read this Rego module: {exc.problem}") from None


def _refuse_reserved_package(scan: ModuleScan, filename: str, builtin: set[str]) -> None:
    """A user module may not add to a package of mlci's pack, nor to the data mlci passes
    (`mlci_settings`, `mlci_runtime`) or generates (`mlci_decision`): Rego merges rules by
    package, so one extra clause such as `at_least(value, minimum) if true` in
    `package mlci.approvals` would switch built-in rules off without an error, and a rule
    in `package mlci_settings` would override the typed settings. `mlci.<yours>` is free."""
    for call in scan.unsteady_calls:
        raise InputError(
            Location(filename, call.line, call.column),
            f"{call.text}() depends on the clock, chance, the network or the engine, so the same spec could be "
            "decided differently per run or per engine; mlci passes the date as data.mlci_runtime.today",
        )
    package = scan.package
    where = Location(filename, scan.package_line, 1)
    if package.split(".")[0].startswith("mlci_"):
        raise InputError(where, f"package {package} is reserved for mlci's data and decision (mlci_*)")
    for own in sorted(builtin):
        if package == own or package.startswith(f"{own}.") or own.startswith(f"{package}."):
            raise InputError(
                where,
                f"package {package} would add rules to mlci's own package {own}, which could switch its rules "
                "off; put organisation policies in a package of their own (e.g. mlci.org or main)",
            )


def refuse_rules_in_tests(tests: dict[str, str]) -> None:
    """`*_test.rego` files are run by `mlci policy test`, never by `check`; a deny or an
    annotated rule in one would be skipped without a word (conftest evaluates it), so it
    is refused at its line."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=False)
    for filename, source in tests.items():
        if _is_mlci_module(filename):
            continue
        scan = _scan(filename, source)
        for head in scan.heads:
            if head.name.startswith("test_"):
                continue
            annotation = read_annotation(head.metadata, filename, yaml) if head.metadata else None
            if _CONFTEST_NAME.match(head.name) or (annotation is not None and annotation.rule_id):
                raise InputError(
                    Location(filename, head.line, head.column),
                    f"rule {scan.package}.{head.name} is in a test file (*_test.rego), which `mlci check` does not "
                    "evaluate; move it to a policy file",
                )


def _refuse_conftest_exceptions(exceptions: dict[str, Location], rules: dict[str, PackRule]) -> None:
    """conftest's `exception` rules switch deny rules off; mlci does not apply them (it has
    waivers, with an owner and an expiry), and ignoring them would change the decision silently."""
    for package, where in exceptions.items():
        if any(rule.package == package and rule.conventional for rule in rules.values()):
            raise InputError(
                where,
                f"{package}.exception is a conftest exception, which mlci does not apply: record a waiver "
                "(governance.waivers or --waivers) for the rule instead",
            )


def _rule_for(head: RuleHead, package: str, filename: str, yaml: Any) -> PackRule | None:
    where = Location(filename, head.line, head.column)
    annotation = read_annotation(head.metadata, filename, yaml) if head.metadata else None
    conventional = bool(_CONFTEST_NAME.match(head.name))
    custom_id = annotation.rule_id if annotation else None
    if head.kind not in _EVALUATED_KINDS:
        if custom_id is not None or conventional:
            what = {"function": "a function (it takes arguments)", "ref": "a nested rule head"}.get(
                head.kind, "a rule head mlci cannot read"
            )
            why = f"has METADATA custom.id {custom_id}" if custom_id else "is named like a conftest rule"
            raise InputError(where, f"{package}.{head.name} {why} but is {what}, which mlci cannot evaluate")
        return None  # a helper function or nested value: never a rule of its own
    if annotation is not None and custom_id is None and not conventional:
        raise InputError(
            annotation.location,
            f"rule {head.name} has METADATA but no custom.id, so mlci cannot tell which rule it is: "
            "add custom.id, or name the rule deny, violation or warn (or deny_<name>, ...)",
        )
    if custom_id is None and not conventional:
        return None  # a helper value
    if is_scalar_literal(head.literal_value):
        raise InputError(
            where,
            f"rule {package}.{head.name} is the constant {head.literal_value}, not a set, boolean or object of "
            "violations",
        )
    key = f"{package}.{head.name}"
    rule_id = custom_id or key
    severity = conftest_severity(head.name) if conventional else Severity.MEDIUM
    if annotation is not None:
        meta = annotation.to_meta(package, head.name, rule_id, severity, filename)
    else:
        meta = RuleMeta(package=package, rule=head.name, id=rule_id, severity=severity, source_file=filename)
    return PackRule(
        key=key,
        package=package,
        name=head.name,
        kind="value" if head.is_default else head.kind,
        meta=meta,
        conventional=conventional and custom_id is None,
        location=where,
        annotated=annotation is not None,
    )


def _merge(earlier: PackRule, later: PackRule) -> PackRule:
    """One rule defined by several heads (incremental definitions, a default)."""
    kinds = {earlier.kind, later.kind}
    if len(kinds) == 1:
        kind = earlier.kind
    elif kinds == {"boolean", "value"}:
        kind = "value"
    else:
        raise InputError(
            later.location,
            f"rule {later.key} is defined as {_KIND_TEXT[later.kind]} here but as {_KIND_TEXT[earlier.kind]} at "
            f"{earlier.location}",
        )
    annotated = [r for r in (earlier, later) if r.annotated]
    if len(annotated) == 2 and earlier.meta.id != later.meta.id:
        raise InputError(
            later.location,
            f"rule {later.key} has custom.id {later.meta.id} here but {earlier.meta.id} at {earlier.location}",
        )
    base = annotated[0] if annotated else earlier
    return PackRule(
        key=earlier.key,
        package=earlier.package,
        name=earlier.name,
        kind=kind,
        meta=base.meta,
        conventional=earlier.conventional and later.conventional,
        location=earlier.location,
        annotated=bool(annotated),
    )


def decision_module(rules: dict[str, PackRule]) -> str:
    """Rego v1 that every engine (regopy 1.5.2, opa eval, an OPA server) evaluates the
    same way: one complete rule with a default per evaluated rule, so an undefined
    rule is `false` and never drops out of the object."""
    lines = [
        "# Generated by mlci: the decision over every rule mlci evaluates. Do not edit.",
        f"package {DECISION_PACKAGE}",
        "",
        "import rego.v1",
        "",
    ]
    entries = []
    for index, rule in enumerate(rules.values()):
        name = f"rule_{index}"
        ref = "data" + "".join(f"[{json.dumps(part)}]" for part in [*rule.package.split("."), rule.name])
        lines += [f"# {rule.key}", f"default {name} := {json.dumps(UNDEFINED)}", "", f"{name} := {ref}", ""]
        entries.append(f"\t{json.dumps(rule.key)}: {name},")
    lines += ["rules := {", *entries, "}", ""]
    return "\n".join(lines)
