"""`mlci check`: schema, then the governance policies on a chosen engine.

A project the decision cache (mlci/policy/cache.py) vouches for is answered from it before
anything heavy is imported: no YAML parser, schema validator, policy pack or engine. Only
the other projects are loaded, validated and evaluated, together, in one engine call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlci import progress
from mlci.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USER_ERROR
from mlci.findings import Finding, Severity, failing, sort_findings
from mlci.reporters.output import CommandResult

if TYPE_CHECKING:
    from mlci.commands.common import Outcome
    from mlci.loader import Spec
    from mlci.policy.cache import RunCache
    from mlci.policy.engines import PolicyEngine
    from mlci.policy.pack import PolicyPack
    from mlci.policy.waivers import Waiver
    from mlci.safe_fs import ReadRecord

# With no --engine, trees of at least this many projects are evaluated by the `opa` binary
# when it is installed: one `opa eval` compiles the pack once for all of them, where regopy
# costs about 0.2 CPU-seconds per project (30 projects: 7.5 s of CPU embedded, 1.1 s on opa).
# Both engines give the same findings (tests/test_engine_parity.py); a single project stays
# in-process, so a machine without opa and a one-project check behave exactly as before.
AUTO_OPA_PROJECTS = 10


@dataclass(frozen=True)
class CheckOptions:
    engine: str | None = "embedded"  # None: choose (choose_engine)
    policy_dirs: tuple[str | Path, ...] = ()  # folders, bundles, pinned git URLs (mlci/policy/sources)
    policy_key: Path | None = None  # verifies signed bundles
    data_files: tuple[Path, ...] = ()
    today: str = ""
    opa_url: str | None = None
    opa_upload: bool = True
    opa_timeout: float = 30.0  # one deadline for everything asked of OPA
    waiver_files: tuple[Path, ...] = ()
    cache: bool = True  # the decision cache (mlci/policy/cache.py); --no-cache turns it off
    only: Callable[[list[Path]], list[Path]] | None = None  # narrows the specs found (--changed-since)


def opa_executable() -> str | None:
    import shutil

    return os.environ.get("MLCI_OPA") or shutil.which("opa")


def choose_engine(options: CheckOptions, projects: int) -> tuple[str, str]:
    """The engine's name, and why it was chosen."""
    if options.opa_url:
        return "opa-server", "--opa-url"
    if options.engine:
        return options.engine, "chosen"
    if projects >= AUTO_OPA_PROJECTS and opa_executable():
        return "opa", f"{projects} projects (>= {AUTO_OPA_PROJECTS}) and opa is installed; --engine embedded overrides"
    return "embedded", "default"


def make_engine(options: CheckOptions, name: str | None = None) -> PolicyEngine:
    from mlci.extras import require_extra
    from mlci.policy.engines import ENGINES

    name = name or choose_engine(options, 1)[0]
    if name == "opa-server":
        require_extra("opa-server", "--opa-url")
        return ENGINES["opa-server"](options.opa_url, upload=options.opa_upload, timeout=options.opa_timeout)
    if name == "opa":
        return ENGINES["opa"](timeout=options.opa_timeout)
    return ENGINES[name]()


@dataclass
class CheckRun:
    """One check: its findings, whether any input was invalid, and what it looked at."""

    findings: list[Finding] = field(default_factory=list)
    invalid_input: bool = False
    files: list[str] = field(default_factory=list)  # every valid spec, hits included, in order
    specs: list[Spec] = field(default_factory=list)  # the valid specs loaded (all with keep_specs)
    pack: PolicyPack | None = None
    rules: dict[str, dict[str, object]] | None = None
    engine: str = ""
    engine_reason: str = ""


def check(
    paths: tuple[str, ...], options: CheckOptions, engine: PolicyEngine | None = None, keep_specs: bool = False
) -> CheckRun:
    """Check the specs under `paths`; `keep_specs` loads every spec and the pack even when
    the cache answers (for commands that need them, such as `mlci report`)."""
    from mlci.discover import display_path, find_specs

    files = find_specs(paths)
    if options.only is not None:
        files = options.only(files)
    run = CheckRun()
    run.engine, run.engine_reason = (engine.name, "given") if engine else choose_engine(options, len(files))
    cache = _open_cache(options, run.engine) if options.cache else None
    answered: dict[Path, list[Finding]] = {}
    keys: dict[Path, str] = {}
    for path in files:
        raw = _spec_bytes(path) if cache is not None else None
        if cache is None or raw is None:
            continue
        keys[path] = cache.spec_key(display_path(path), raw)
        hit = cache.findings(keys[path], path.parent)
        if hit is not None:
            answered[path] = hit
    to_load = files if keep_specs else [path for path in files if path not in answered]
    if to_load or keep_specs:
        _load_and_evaluate(run, to_load, options, engine, cache, keys, answered)
    elif cache is not None:
        run.rules = cache.rules()
    if run.rules is None:
        run.pack = run.pack or _pack(options)
        run.rules = rule_metadata(run.pack)
    valid = {spec.path for spec in run.specs} | set(answered)
    run.files = [display_path(path) for path in files if path in valid]
    for path in files:
        run.findings.extend(answered.get(path, ()))
    return run


def _load_and_evaluate(
    run: CheckRun,
    files: list[Path],
    options: CheckOptions,
    engine: PolicyEngine | None,
    cache: RunCache | None,
    keys: dict[Path, str],
    answered: dict[Path, list[Finding]],
) -> None:
    """Load and validate `files`, then evaluate the valid ones the cache did not answer."""
    prepared = _prepare(files, set(answered))
    run.findings.extend(prepared.findings)
    run.invalid_input = prepared.invalid_input
    run.specs = prepared.specs
    # The pack loads even when no spec is valid: a broken policy is reported either way.
    run.pack = _pack(options)
    run.rules = rule_metadata(run.pack)
    if cache is not None:
        cache.remember_rules(run.rules)
    if not prepared.pending:
        return
    from mlci.policy.evaluate import evaluate_inputs
    from mlci.policy.waivers import load_waiver_files

    engine = engine or make_engine(options, run.engine)
    pending = prepared.pending
    progress.current().phase(f"checking {len(pending)} project(s) against the policies ({engine.name})")
    per_spec = evaluate_inputs(engine, run.pack, pending, prepared.inputs, options.today)  # raises: nothing stored
    shared = load_waiver_files(options.waiver_files)
    for spec, found, read in zip(pending, per_spec, prepared.reads, strict=True):
        final = _with_waivers(spec, found, run.pack, shared, options.today)
        answered[spec.path] = final
        key = keys.get(spec.path)
        if cache is not None and key is not None:
            cache.remember(key, spec.directory, final, read)
    if cache is not None:
        cache.prune()


# From this many spec files on, loading and validating them (the YAML parser and the schema
# validator, most of a cold check's time) is split across worker processes, one chunk each.
PARALLEL_LOAD_FILES = 64


@dataclass
class _Prepared:
    """Loaded specs and, for those still to evaluate, their policy inputs and the reads behind their facts."""

    findings: list[Finding] = field(default_factory=list)
    invalid_input: bool = False
    specs: list[Spec] = field(default_factory=list)
    pending: list[Spec] = field(default_factory=list)
    inputs: list[dict[str, object]] = field(default_factory=list)
    reads: list[list[ReadRecord]] = field(default_factory=list)


def _prepare(files: list[Path], answered: set[Path], workers: int | None = None) -> _Prepared:
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if len(files) < PARALLEL_LOAD_FILES or workers < 2:
        return _prepare_chunk(files, answered)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(files) // workers)
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    progress.current().phase(f"loading {len(files)} specs in {len(chunks)} processes")
    try:
        # fork: workers inherit the imported modules and the cache of the schema validator.
        with ProcessPoolExecutor(len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_prepare_quietly, chunks, [answered] * len(chunks)))
    except Exception:
        # An error (a file that vanished, a link): prepare here, where it is reported as usual.
        return _prepare_chunk(files, answered)
    whole = _Prepared()
    for part in parts:
        whole.findings += part.findings
        whole.invalid_input = whole.invalid_input or part.invalid_input
        whole.specs += part.specs
        whole.pending += part.pending
        whole.inputs += part.inputs
        whole.reads += part.reads
    return whole


def _prepare_quietly(files: list[Path], answered: set[Path]) -> _Prepared:
    with progress.silenced():
        return _prepare_chunk(files, answered)


def _prepare_chunk(files: list[Path], answered: set[Path]) -> _Prepared:
    from mlci.commands.common import load_and_validate_files
    from mlci.policy.facts import with_facts
    from mlci.safe_fs import recording_reads

    outcome = load_and_validate_files(files)
    prepared = _Prepared(outcome.findings, outcome.invalid_input, outcome.specs)
    for spec in outcome.specs:
        if spec.path in answered:
            continue
        with recording_reads() as seen:  # the files the facts read: a cache hit replays them
            prepared.inputs.append(with_facts(spec))
        prepared.pending.append(spec)
        prepared.reads.append(seen)
    return prepared


def _open_cache(options: CheckOptions, engine: str) -> RunCache | None:
    from mlci.policy.cache import RunCache, RunInputs

    inputs = RunInputs(
        policy_dirs=options.policy_dirs,
        policy_key=options.policy_key,
        data_files=options.data_files,
        waiver_files=options.waiver_files,
        today=options.today,
        engine=engine,
        executable=(opa_executable() or "") if engine == "opa" else "",
    )
    return RunCache.open(inputs)


def _spec_bytes(path: Path) -> bytes | None:
    """The spec file's bytes, the key's part of it; None when too big or unreadable (the loader says why)."""
    from mlci.loader import MAX_FILE_BYTES

    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return raw if len(raw) <= MAX_FILE_BYTES else None


def _pack(options: CheckOptions) -> PolicyPack:
    from mlci.policy.pack import load_pack

    return load_pack(options.policy_dirs, options.data_files, options.policy_key)


def _with_waivers(
    spec: Spec, findings: list[Finding], pack: PolicyPack, shared: list[Waiver], today: str
) -> list[Finding]:
    from mlci.policy.waivers import DEFAULT_MAX_DAYS, apply_waivers, spec_waivers

    rules = {meta.id: meta for meta in pack.rules.values()}
    max_days = int(pack.settings.get("max_waiver_days", DEFAULT_MAX_DAYS))
    directory = pack.settings.get("people", {})  # login -> e-mail, for who may approve a waiver
    return apply_waivers(spec, findings, spec_waivers(spec) + shared, rules, today, max_days, directory)


def run_check(
    paths: tuple[str, ...], options: CheckOptions, engine: PolicyEngine | None = None
) -> tuple[Outcome, PolicyPack]:
    """Every spec loaded and checked, with the pack: for commands that build on the specs."""
    from mlci.commands.common import Outcome

    run = check(paths, options, engine, keep_specs=True)
    assert run.pack is not None  # keep_specs always loads it
    return Outcome(findings=run.findings, invalid_input=run.invalid_input, specs=run.specs), run.pack


def check_result(
    paths: tuple[str, ...], options: CheckOptions, fail_on: Severity, note: Callable[[str], None] | None = None
) -> CommandResult:
    """`mlci check` as one result: findings, the metadata of every rule (SARIF), the exit code."""
    with progress.shown():
        run = check(paths, options)
    if note is not None and run.engine_reason not in ("chosen", "given"):
        note(f"engine {run.engine} ({run.engine_reason})")
    code = EXIT_FINDINGS if failing(run.findings, fail_on) else EXIT_OK
    if run.invalid_input:
        code = EXIT_USER_ERROR
    return CommandResult(
        "check",
        sort_findings(run.findings),
        exit_code=code,
        fail_on=fail_on,
        rules=run.rules or {},
        files=tuple(run.files),
    )


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
