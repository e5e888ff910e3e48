"""`mlci check`: schema, then the governance policies on a chosen engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlci import progress
from mlci.commands.common import Outcome, load_and_validate, outcome_result
from mlci.extras import require_extra
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.policy.cache import DecisionCache, evaluate_with_cache
from mlci.policy.engines import ENGINES, PolicyEngine
from mlci.policy.pack import PolicyPack, load_pack
from mlci.reporters.output import CommandResult


@dataclass(frozen=True)
class CheckOptions:
    engine: str = "embedded"
    policy_dirs: tuple[str | Path, ...] = ()  # folders, bundles, pinned git URLs (mlci/policy/sources)
    policy_key: Path | None = None  # verifies signed bundles
    data_files: tuple[Path, ...] = ()
    today: str = ""
    opa_url: str | None = None
    opa_upload: bool = True
    opa_timeout: float = 30.0  # one deadline for everything asked of OPA
    waiver_files: tuple[Path, ...] = ()
    cache: bool = True  # the decision cache (mlci/policy/cache.py); --no-cache turns it off


def make_engine(options: CheckOptions) -> PolicyEngine:
    if options.opa_url:
        require_extra("opa-server", "--opa-url")
        return ENGINES["opa-server"](options.opa_url, upload=options.opa_upload, timeout=options.opa_timeout)
    if options.engine == "opa":
        return ENGINES["opa"](timeout=options.opa_timeout)
    return ENGINES[options.engine]()


def run_check(
    paths: tuple[str, ...], options: CheckOptions, engine: PolicyEngine | None = None
) -> tuple[Outcome, PolicyPack]:
    outcome = load_and_validate(paths)
    pack = load_pack(options.policy_dirs, options.data_files, options.policy_key)
    if outcome.specs:
        engine = engine or make_engine(options)
        progress.current().phase(f"checking {len(outcome.specs)} project(s) against the policies")
        cache = DecisionCache.from_environment() if options.cache else None
        findings = evaluate_with_cache(engine, pack, outcome.specs, options.today, cache)
        outcome.findings.extend(_with_waivers(outcome.specs, findings, pack, options))
    return outcome, pack


def _with_waivers(specs: list[Spec], findings: list[Finding], pack: PolicyPack, options: CheckOptions) -> list[Finding]:
    from mlci.policy.waivers import DEFAULT_MAX_DAYS, apply_waivers, load_waiver_files, spec_waivers

    shared = load_waiver_files(options.waiver_files)
    rules = {meta.id: meta for meta in pack.rules.values()}
    max_days = int(pack.settings.get("max_waiver_days", DEFAULT_MAX_DAYS))
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        by_file.setdefault(finding.file, []).append(finding)
    out: list[Finding] = []
    for spec in specs:
        mine = by_file.get(spec.display_path, [])
        directory = pack.settings.get("people", {})  # login -> e-mail, for who may approve a waiver
        out += apply_waivers(spec, mine, spec_waivers(spec) + shared, rules, options.today, max_days, directory)
    return out


def check_result(paths: tuple[str, ...], options: CheckOptions, fail_on: Severity) -> CommandResult:
    """`mlci check` as one result: findings, the metadata of every rule (SARIF), the exit code."""
    with progress.shown():
        outcome, pack = run_check(paths, options)
    return outcome_result(outcome, "check", fail_on, rule_metadata(pack))


def rule_metadata(pack: PolicyPack) -> dict[str, dict[str, object]]:
    return {
        m.id: {
            "title": m.title,
            "description": m.description,
            "severity": m.severity.label,
            "controls": list(m.controls),
            "remediation": m.remediation,
            "help_uri": m.help_uri,
        }
        for m in pack.rules.values()
    }
