"""The command line. Each command parses options, calls one core function and
turns its result into output and an exit code; `main` is the one place where
exceptions become exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mlci import __version__, progress
from mlci.errors import EXIT_OUT_OF_DATE, EXIT_UNDECIDED, EXIT_USER_ERROR, MlciError, UserError
from mlci.findings import Severity

PATHS = click.argument("paths", nargs=-1, type=click.Path(path_type=str))


class OutputSpec(click.ParamType):
    """`-o FORMAT` or `-o FORMAT=PATH`."""

    name = "format[=path]"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, str | None]:
        if isinstance(value, tuple):
            return value
        from mlci.reporters import REPORTERS

        fmt, _, path = str(value).partition("=")
        if fmt not in REPORTERS:
            self.fail(f"unknown format {fmt!r} (one of {', '.join(REPORTERS)})", param, ctx)
        return fmt, (path or None)


def _outputs_option(default: str = "text") -> Any:
    from mlci.reporters import REPORTERS  # names only: each reporter module loads when used

    return click.option(
        "-o",
        "--output",
        "outputs",
        type=OutputSpec(),
        multiple=True,
        default=[(default, None)],
        help=f"Report format, repeatable: {', '.join(REPORTERS)}; FORMAT=PATH writes to a file.",
    )


def _fail_on_option() -> Any:
    return click.option(
        "--fail-on",
        type=click.Choice([s.label for s in Severity]),
        default="low",
        show_default=True,
        help="Lowest severity that makes the command fail.",
    )


def _policy_key_option() -> Any:
    return click.option(
        "--policy-key",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Verify every --policies bundle's signature with this key: an HMAC secret, or a PEM public key "
        "(RS256/ES256, needs mlci[signing]). A bundle that is unsigned, altered or signed otherwise is exit 2.",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mlci")
@click.option("--debug", is_flag=True, help="Show tracebacks of mlci's own errors, and where each setting came from.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (.mlci.yaml or pyproject.toml) instead of the one at the repository root.",
)
@click.option("--no-config", is_flag=True, help="Ignore the repository's .mlci.yaml and [tool.mlci].")
@click.pass_context
def cli(ctx: click.Context, debug: bool, config_file: Path | None, no_config: bool) -> None:
    """mlci: one mlproject.yaml in, governed ML delivery out."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if ctx.invoked_subcommand in ("check", "policy") and not no_config:
        from mlci.config import discover_config, load_config

        config = load_config(config_file) if config_file else discover_config()
        if config is None and config_file:
            raise UserError(f"{config_file}: has no [tool.mlci] table")
        if config is not None:
            # Defaults, not values: an option given on the command line still wins.
            ctx.default_map = config.default_map()
            ctx.obj["config"] = config


def _show_settings(ctx: click.Context, names: tuple[str, ...]) -> None:
    """With --debug: each effective setting and where it came from (command line, config file, default)."""
    if not ctx.find_root().obj.get("debug"):
        return
    config = ctx.find_root().obj.get("config")
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is click.core.ParameterSource.DEFAULT_MAP and config is not None:
            origin = f"{config.origins.get(name, config.file)}"
        else:
            origin = (
                {
                    click.core.ParameterSource.COMMANDLINE: "command line",
                    click.core.ParameterSource.ENVIRONMENT: "environment",
                }.get(source, "default")
                if source
                else "default"
            )
        value = ctx.params[name]
        shown = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value or "")
        click.echo(f"mlci: setting {name}={shown or '(none)'} from {origin}", err=True)


def _emit(
    findings: list[Any],
    outputs: list[tuple[str, str | None]],
    command: str,
    fail_on: Severity,
) -> None:
    from mlci.reporters.output import CommandResult

    _write_outputs(CommandResult(command, findings, fail_on=fail_on), outputs)


def _finish(result: Any, outputs: list[tuple[str, str | None]] | None) -> None:
    """Every reporting command ends here: its one result written as `-o` asked (None: already
    written), then its exit code."""
    if outputs is not None:
        _write_outputs(result, outputs)
    sys.exit(result.exit_code)


def _write_report(text: str, path: str | None) -> None:
    """One whole report (mlci report): to the file asked for, or stdout."""
    if path:
        from mlci import safe_fs

        # Where the user asked; but a link committed below the current folder is not followed.
        safe_fs.write_text(Path(path), text, Path.cwd())
    else:
        click.echo(text, nl=False)


def _write_outputs(result: Any, outputs: list[tuple[str, str | None]]) -> None:
    """Write what `-o` asked for: planned first (mlci/reporters/output.py), so two outputs for
    one file never overwrite each other by the luck of the options' order."""
    from mlci.reporters.output import planned_writes

    for write in planned_writes(result, outputs, tool_version=__version__):
        if write.path is None:
            colour = write.formats == ("text",) and not result.table and progress.colour_enabled(sys.stdout)
            click.echo(
                progress.colour_text_report(write.text) if colour else write.text, nl=False, color=colour or None
            )
        elif write.append:
            try:
                with open(write.path, "a", encoding="utf-8") as handle:
                    handle.write(write.text)
            except OSError as exc:
                if not write.best_effort:
                    raise UserError(f"{write.path}: cannot write: {exc.strerror or exc}") from None
                # The annotations are the report; a summary we cannot write must not fail the check.
                from mlci.reporters.github import escape_data

                problem = f"could not write the step summary to {write.path}: {exc.strerror or exc}"
                click.echo(f"::warning title=mlci::{escape_data(problem)}")
        else:
            _write_report(write.text, write.path)
    if result.table and not any(fmt == "text" and path is None for fmt, path in outputs):
        # stdout holds a machine-readable report, or nothing: the table still reaches a human, on stderr.
        click.echo(result.table, nl=False, err=True)


@cli.command()
@PATHS
@_outputs_option()
def validate(paths: tuple[str, ...], outputs: list[tuple[str, str | None]]) -> None:
    """Check mlproject.yaml files against the schema."""
    from mlci.commands.common import validate_result

    _finish(validate_result(paths), outputs)


@cli.command()
@PATHS
@_outputs_option()
@_fail_on_option()
@click.option(
    "--engine",
    type=click.Choice(["embedded", "opa"]),
    default=None,
    help="Policy engine when no --opa-url is given: embedded (regopy, in-process) or opa (the binary on PATH). "
    "Default: opa for 10 projects or more when it is installed, else embedded.",
)
@click.option("--opa-url", default=None, help="Decide on this OPA server (e.g. http://127.0.0.1:8181) instead.")
@click.option(
    "--opa-upload/--opa-server-policies",
    default=True,
    show_default=True,
    help="Upload mlci's pack to the server first, or use the policies the server already holds.",
)
@click.option(
    "--opa-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="One deadline in seconds for everything the check asks of OPA (server or binary); past it, exit 3.",
)
@click.option(
    "--policies",
    "policy_dirs",
    multiple=True,
    metavar="SOURCE",
    help="Your own Rego policies, added to the built-in pack (repeatable): a folder, an OPA bundle "
    "(bundle.tar.gz, signed or pinned as bundle.tar.gz#sha256=HEX) or git+https://…/repo.git@COMMIT#subdirectory=DIR.",
)
@_policy_key_option()
@click.option(
    "--data",
    "data_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON policy data (settings such as min_production_approvers), repeatable.",
)
@click.option(
    "--now", default=None, help="The date policies and waivers see as today (YYYY-MM-DD); default: today, UTC."
)
@click.option(
    "--waivers",
    "waiver_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML file with a 'waivers:' list, applied to every project (repeatable).",
)
@click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    help="Evaluate every project, ignoring the decision cache (MLCI_CACHE_DIR, default ~/.cache/mlci).",
)
@click.option(
    "--changed-since",
    "changed_since",
    metavar="REF",
    default=None,
    help="Check only the projects whose folder changed since the git revision REF (all of them when the "
    "policies, policy data, waivers or settings changed).",
)
def check(
    paths: tuple[str, ...],
    outputs: list[tuple[str, str | None]],
    fail_on: str,
    engine: str | None,
    policy_dirs: tuple[str, ...],
    policy_key: Path | None,
    data_files: tuple[Path, ...],
    now: str | None,
    opa_url: str | None,
    opa_upload: bool,
    opa_timeout: float,
    waiver_files: tuple[Path, ...],
    no_cache: bool,
    changed_since: str | None,
) -> None:
    """Validate specs and check them against the governance policies."""
    from mlci.commands.check import CheckOptions, check_result
    from mlci.commands.common import parse_today

    _show_settings(click.get_current_context(), ("fail_on", "engine", "policy_dirs", "data_files", "waiver_files"))

    options = CheckOptions(
        engine=engine,
        policy_dirs=policy_dirs,
        policy_key=policy_key,
        data_files=data_files,
        today=parse_today(now),
        opa_url=opa_url,
        opa_upload=opa_upload,
        opa_timeout=opa_timeout,
        waiver_files=waiver_files,
        cache=not no_cache,
        only=_changed_since(changed_since, (*_local_sources(policy_dirs), *data_files, *waiver_files)),
    )
    debug = click.get_current_context().find_root().obj.get("debug")
    note = (lambda text: click.echo(f"mlci: {text}", err=True)) if debug else None
    _finish(check_result(paths, options, Severity.parse(fail_on), note), outputs)


def _local_sources(policy_sources: tuple[str, ...]) -> tuple[Path, ...]:
    """The --policies sources in the repository (folders, bundles without their pin): a
    change to one of them changes every project's decision. A git URL pins its own commit."""
    return tuple(Path(source.partition("#")[0]) for source in policy_sources if "://" not in source)


def _changed_since(ref: str | None, shared_inputs: tuple[Path, ...]) -> Any:
    """The filter of `--changed-since REF`: the specs a change touched (mlci/changed.py), or None."""
    if ref is None:
        return None
    from mlci.changed import changed_files, touched_projects

    config = click.get_current_context().find_root().obj.get("config")
    shared = (*shared_inputs, *((Path(config.file),) if config is not None else ()))
    changed = changed_files(ref)  # now: an unknown REF is exit 2 before any spec is read

    def only(files: list[Path]) -> list[Path]:
        touched = touched_projects(files, changed, shared)
        click.echo(f"mlci: --changed-since {ref}: {len(touched)} of {len(files)} project(s) changed", err=True)
        return touched

    return only


@cli.command()
@PATHS
@click.option(
    "--target", "targets", multiple=True, help="Render only these targets (repeatable); default: all the spec asks for."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder; default: the folder of each mlproject.yaml.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Monorepo: the repository root, where each CI's files go (default with several projects: git's top level).",
)
@click.option(
    "--check", "check_only", is_flag=True, help="Write nothing; exit 4 if files are out of date or edited by hand."
)
@click.option("--force", is_flag=True, help="Overwrite files that mlci did not generate or that were edited by hand.")
def render(
    paths: tuple[str, ...], targets: tuple[str, ...], out: Path | None, root: Path | None, check_only: bool, force: bool
) -> None:
    """Render pipelines, Dockerfile and Kubernetes manifests from specs."""
    from mlci.commands.render import run_render
    from mlci.discover import display_path

    with progress.shown():
        result = run_render(paths, targets, out, check=check_only, force=force, root=root)
    for hint in result.hints:
        click.echo(f"mlci render: {hint}", err=True)
    if result.outcome.invalid_input:
        _emit(result.outcome.sorted(), [("text", None)], "render", Severity.INFO)
        sys.exit(EXIT_USER_ERROR)
    for finding in result.unenforced:
        # Not a failure: what the CI cannot enforce, said where the spec asks for it.
        from mlci.reporters.log_safety import one_line

        level = "warning" if finding.severity > Severity.INFO else "info"
        click.echo(one_line(f"{finding.file}:{finding.line}:{finding.column}: {level}: {finding.message}"), err=True)
    if check_only:
        stale = [item for report in result.checks for item in report.out_of_date]
        for path, why in stale:
            click.echo(f"{display_path(path)}: {why}", err=True)
        in_the_way = [path for report in result.checks for path in report.in_the_way]
        if in_the_way:
            # `mlci render` would refuse them: never advise a render that overwrites someone's file.
            click.echo(
                f"mlci render --check: {len(stale)} file(s) out of date; {len(in_the_way)} of them were not "
                "generated by mlci or were edited by hand, and `mlci render` will not overwrite them: "
                "move them away (or carry the edits into the spec) first",
                err=True,
            )
            sys.exit(EXIT_OUT_OF_DATE)
        if stale:
            click.echo(f"mlci render --check: {len(stale)} file(s) out of date; run `mlci render` and commit", err=True)
            sys.exit(EXIT_OUT_OF_DATE)
        total = sum(len(plan.files) for plan in result.plans)
        click.echo(f"mlci render --check: {total} generated file(s) up to date")
        return
    for report in result.writes:
        for path in report.written:
            click.echo(f"wrote {display_path(path)}")
        for path in report.removed:
            click.echo(f"removed {display_path(path)} (no longer generated)")
        for path in report.kept_orphans:
            click.echo(f"kept {display_path(path)}: no longer generated, but not mlci's unedited output", err=True)
    written = sum(len(r.written) for r in result.writes)
    unchanged = sum(len(r.unchanged) for r in result.writes)
    click.echo(f"mlci render: {written} written, {unchanged} unchanged")


def _single_spec(path: str) -> Any:
    from mlci.commands.common import load_and_validate

    outcome = load_and_validate((path,))
    if outcome.invalid_input:
        _emit(outcome.sorted(), [("text", None)], "validate", Severity.INFO)
        sys.exit(EXIT_USER_ERROR)
    if len(outcome.specs) != 1:
        raise UserError(f"{path}: holds {len(outcome.specs)} projects; name one mlproject.yaml")
    return outcome.specs[0]


def _registry_options(function: Any) -> Any:
    """--registry and --champion-alias, for the commands that talk to the model registry."""
    function = click.option(
        "--champion-alias",
        default="champion",
        show_default=True,
        envvar="MLCI_CHAMPION_ALIAS",
        help="The registry alias of the production model (the gate's baseline; `promote` of a production tier).",
    )(function)
    return click.option(
        "--registry",
        "registry_uri",
        default=None,
        help="MLflow tracking URI; default MLFLOW_TRACKING_URI, then model.registry (an http(s) server), "
        "then the embedded store .mlci/registry.db.",
    )(function)


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "markdown"]),
    default="mermaid",
    help="Mermaid (default), Graphviz dot, or Mermaid in Markdown (for a step summary or a merge request).",
)
def graph(path: str, fmt: str) -> None:
    """Draw the lifecycle the rendered pipelines run: triggers, jobs, needs and approvals."""
    from mlci.pipeline import build_pipeline
    from mlci.pipeline.graph import draw

    click.echo(draw(build_pipeline(_single_spec(path)), fmt), nl=False)


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--metrics",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Metrics JSON; default: evaluation.metrics_file of the spec.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Metrics of the production model (offline), instead of the registry's champion.",
)
@click.option(
    "--blessing",
    "blessing_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the blessing when every gate passes; default artifacts/blessing.json.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the pull-request evaluation report (Markdown): metrics vs champion, verdict, lineage diff.",
)
@_registry_options
@_outputs_option("text")
def gate(
    path: str,
    metrics: Path | None,
    baseline: Path | None,
    blessing_path: Path | None,
    report_path: Path | None,
    registry_uri: str | None,
    champion_alias: str,
    outputs: list[tuple[str, str | None]],
) -> None:
    """Compare evaluation metrics with the spec's gates and the champion; bless the model if all pass."""
    from mlci.commands.gate import BaselineChoice, run_gate

    spec = _single_spec(path)
    outcome = run_gate(spec, metrics, BaselineChoice(baseline, registry_uri, champion_alias), blessing_path)
    result = _report_gate(outcome, outputs)
    if report_path is not None:
        from mlci import safe_fs
        from mlci.registry.report import pr_report
        from mlci.spec import thaw

        params = thaw(spec.typed.training.params)
        # Where the user asked; but a link committed below the current folder is not followed.
        safe_fs.write_text(report_path, pr_report(spec.typed.project.name, outcome, params), Path.cwd())
        click.echo(f"wrote the evaluation report {report_path}", err=True)
    _finish(result, outputs=None)


def _report_gate(outcome: Any, outputs: list[tuple[str, str | None]]) -> Any:
    from mlci.commands.gate import gate_result

    result = gate_result(outcome)
    _write_outputs(result, outputs)
    if result.details and result.details["blessing"]:
        click.echo(f"blessed: wrote {result.details['blessing']}", err=True)
    return result


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(["train", "evaluate", "gate", "register"]),
    help="Run only these stages (repeatable); default: train, evaluate, gate, register.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Metrics of the production model (offline), for the gate stage; default: the registry's champion.",
)
@_registry_options
@click.option(
    "--lineage/--no-lineage",
    "record",
    default=True,
    show_default=True,
    help="Record the training run's lineage (artifacts/lineage.json) after the train stage.",
)
def run(
    path: str,
    stages: tuple[str, ...],
    baseline: Path | None,
    record: bool,
    registry_uri: str | None,
    champion_alias: str,
) -> None:
    """Run the pipeline's stages locally, in order, stopping at the first failure; one tracked run in the registry."""
    from mlci.commands.gate import BaselineChoice, run_gate
    from mlci.commands.lineage import run_record
    from mlci.discover import display_path
    from mlci.registry.tracking import Tracker, spec_location
    from mlci.runtime.stages import STAGES, run_stages

    spec = _single_spec(path)
    chosen = tuple(s for s in STAGES if s in stages) if stages else STAGES
    location = spec_location(spec, registry_uri)

    def gate_stage(spec: Any) -> int:
        outcome = run_gate(spec, baseline=BaselineChoice(baseline, registry_uri, champion_alias))
        return int(_report_gate(outcome, [("text", None)]).exit_code)

    verified: dict[str, Any] = {}

    def verify_data(spec: Any) -> int:
        from mlci.runtime.pins import verify_pins

        outcome = verify_pins(spec)
        for note in outcome.notes:
            click.echo(f"    data: {note}", err=True)
        if outcome.findings:
            _emit(outcome.findings, [("text", None)], "run", Severity.INFO)
            return 1
        verified["states"] = outcome.states
        return 0

    def register_stage(spec: Any) -> int:
        return _register(spec, location)

    def record_lineage(spec: Any) -> str:
        return f"recorded lineage in {display_path(run_record(spec, states=verified.get('states')).path)}"

    results = run_stages(
        spec,
        chosen,
        gate_stage,
        lambda line: click.echo(line, err=True),
        record_lineage if record else None,
        before_train=verify_data,
        tracker=Tracker(spec, location),
        run_register=register_stage,
    )
    summary = ", ".join(f"{r.stage} {r.seconds:.1f}s" for r in results)
    failed = next((r for r in results if r.exit_code != 0), None)
    click.echo(f"mlci run: {'failed at ' + failed.stage if failed else 'all stages passed'} ({summary})", err=True)
    sys.exit(failed.exit_code if failed else 0)


def _register(spec: Any, location: Any) -> int:
    from mlci.commands.register import run_register
    from mlci.discover import display_path

    registration = run_register(spec, location)
    if registration.version is None:
        click.echo(f"mlci register: {registration.refusal}", err=True)
        return 1
    version = registration.version
    click.echo(
        f"mlci register: {version.name} version {version.version} ({version.uri}) in {location.describe()}, "
        f"alias challenger; wrote {display_path(registration.path or Path())}",
        err=True,
    )
    return 0


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--registry",
    "registry_uri",
    default=None,
    help="MLflow tracking URI; default MLFLOW_TRACKING_URI, then model.registry, then .mlci/registry.db.",
)
def register(path: str, registry_uri: str | None) -> None:
    """Register the blessed model as a new version (alias challenger); write artifacts/registered.json."""
    from mlci.registry.tracking import spec_location

    spec = _single_spec(path)
    sys.exit(_register(spec, spec_location(spec, registry_uri)))


@cli.command()
@click.argument("environment")
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--version",
    "version",
    type=click.IntRange(min=1),
    default=None,
    help="The registered version to promote; default: the one in artifacts/registered.json.",
)
@_registry_options
def promote(environment: str, path: str, version: int | None, registry_uri: str | None, champion_alias: str) -> None:
    """Move ENVIRONMENT's alias (production tier: champion) to a blessed registered version."""
    from mlci.commands.promote import run_promote
    from mlci.registry.tracking import spec_location

    spec = _single_spec(path)
    location = spec_location(spec, registry_uri)
    promotion = run_promote(spec, environment, location, str(version) if version else None, champion_alias)
    if promotion.refusal:
        click.echo(f"mlci promote: {promotion.refusal}", err=True)
        sys.exit(1)
    was = f" (was version {promotion.previous})" if promotion.previous else " (first holder)"
    click.echo(
        f"mlci promote: {promotion.name} version {promotion.version} is now {promotion.alias!r}{was} "
        f"in {location.describe()}"
    )


@cli.group()
def lineage() -> None:
    """Record and verify which data, code and parameters made a model."""


@lineage.command("record")
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write; default artifacts/lineage.json (artifacts/openlineage.json with --format openlineage).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mlci", "openlineage"]),
    default="mlci",
    show_default=True,
    help="mlci's lineage file (what `verify` reads), or an OpenLineage RunEvent.",
)
def lineage_record(path: str, out: Path | None, fmt: str) -> None:
    """Hash the datasets and the model; record commit, params and package versions."""
    from mlci.commands.lineage import run_record
    from mlci.discover import display_path

    outcome = run_record(_single_spec(path), out, fmt)
    document = outcome.document
    if fmt == "openlineage":
        inputs, model = len(document["inputs"]), document["outputs"][0]["facets"]["mlci_hashes"]["sha256"]
    else:
        inputs, model = len(document["datasets"]), document["model"]["sha256"]
    for warning in outcome.warnings:
        click.echo(f"warning: {warning}", err=True)
    shown_model = model[:12] if model else "not found"
    click.echo(f"mlci lineage record: wrote {display_path(outcome.path)} ({inputs} dataset(s), model {shown_model})")


@lineage.command("verify")
@click.argument("path", default=".", type=click.Path(path_type=str))
@click.option(
    "--lineage",
    "lineage_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The lineage file to verify against; default artifacts/lineage.json.",
)
@_outputs_option()
@_fail_on_option()
def lineage_verify(path: str, lineage_file: Path | None, outputs: list[tuple[str, str | None]], fail_on: str) -> None:
    """Recompute the lineage; exit 1 if data, model, params or commit differ from the record."""
    from mlci.commands.lineage import run_verify, verify_result

    _finish(verify_result(run_verify(_single_spec(path), lineage_file), Severity.parse(fail_on)), outputs)


@cli.command()
@click.argument("path", required=False, type=click.Path(path_type=str))
@click.option(
    "--reference",
    default=None,
    help="Reference data, CSV or Parquet: a file, or s3://, gs://, abfs://, https:// (mlci[remote]); "
    "default monitoring.drift.reference of the spec.",
)
@click.option(
    "--current",
    default=None,
    help="Current data to compare, a file or a URI as for --reference; default monitoring.drift.current of the spec.",
)
@click.option("--method", type=click.Choice(["psi", "ks", "chi2"]), default=None, help="Override the spec's method.")
@click.option(
    "--threshold",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Override the spec's threshold (PSI above it, or p-value below it for ks/chi2, is drift).",
)
@click.option("--column", "columns", multiple=True, help="Compare only these columns (repeatable).")
@click.option("--exclude", multiple=True, help="Leave these columns out (repeatable), e.g. identifiers.")
@click.option(
    "--pushgateway",
    envvar="MLCI_PUSHGATEWAY_URL",
    default=None,
    help="Publish the scores (mlci_drift_score, what the rendered alert reads) to this Prometheus Pushgateway; "
    "default $MLCI_PUSHGATEWAY_URL.",
)
@_outputs_option()
def drift(
    path: str | None,
    reference: str | None,
    current: str | None,
    method: str | None,
    threshold: float | None,
    columns: tuple[str, ...],
    exclude: tuple[str, ...],
    pushgateway: str | None,
    outputs: list[tuple[str, str | None]],
) -> None:
    """Compare current data with the reference: PSI and KS or chi-square per feature."""
    from mlci.extras import require_extra

    require_extra("ml", "mlci drift")
    from mlci.commands.drift import data_source, drift_result, publish_scores, run_drift

    # Without PATH, a spec in the current folder supplies the settings; without one, the defaults do.
    spec = _single_spec(path or ".") if path or Path("mlproject.yaml").is_file() else None
    if pushgateway and spec is None:
        raise UserError("--pushgateway needs the project's spec: its project.name labels the scores the alert reads")
    ref = data_source(reference, "--reference") if reference else None
    cur = data_source(current, "--current") if current else None
    outcome = run_drift(spec, ref, cur, method, threshold, columns, exclude)
    result = drift_result(outcome)
    _write_outputs(result, outputs)
    if pushgateway:
        # After the report: a Pushgateway that is down fails the job (exit 3), the scores still shown.
        click.echo(f"published drift scores to {publish_scores(spec, outcome, pushgateway)}", err=True)
    _finish(result, outputs=None)


@cli.group()
def policy() -> None:
    """Work with the policy pack."""


@policy.command("test")
@click.option(
    "--policies",
    "policy_dirs",
    multiple=True,
    metavar="SOURCE",
    help="Also load and test these policies: a folder, a verified OPA bundle or a pinned git+ URL (as for check).",
)
@_policy_key_option()
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write a JUnit XML report."
)
@click.option("--now", default=None, help="The date the tests see as today (YYYY-MM-DD).")
@click.option("-v", "--verbose", is_flag=True, help="List every test, not only failures.")
def policy_test(
    policy_dirs: tuple[str, ...], policy_key: Path | None, junit: Path | None, now: str | None, verbose: bool
) -> None:
    """Run the Rego unit tests (*_test.rego) on the embedded engine."""
    from mlci.commands.common import parse_today
    from mlci.policy.pack import load_pack
    from mlci.policy.testing import junit_xml, run_policy_tests

    results = run_policy_tests(load_pack(policy_dirs, policy_key=policy_key), parse_today(now))
    if not results:
        raise UserError("no test_ rules found in *_test.rego files")
    for r in results:
        if verbose or not r.passed:
            click.echo(f"{'PASS' if r.passed else 'FAIL'}: data.{r.package}.{r.name} ({r.seconds * 1000:.1f}ms)")
            if r.detail:
                click.echo(f"    {r.detail}")
    failed = sum(not r.passed for r in results)
    if junit:
        from mlci import safe_fs

        safe_fs.write_text(junit, junit_xml(results), Path.cwd())
    click.echo(f"mlci policy test: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default=None, help="Project name; default: the folder's name as a DNS label.")
@click.option("--team", default=None, help="Owning team.")
def init(folder: Path, name: str | None, team: str | None) -> None:
    """Write a commented starter mlproject.yaml (never overwrites one)."""
    from mlci.commands.init import init_project

    target = init_project(folder, name, team)
    click.echo(f"wrote {target}; next: edit it, then `mlci check {folder}`")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of mlproject.yaml."""
    from mlci.resources import schema_path

    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)


# --- mlci report (control matrix); one block to keep merges of cli.py easy ---
@cli.command()
@PATHS
@click.option("--framework", required=True, help="gdpr or eu-ai-act: whose controls the matrix lists.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("-o", "--output", "output", default=None, help="Write the report to this file instead of stdout.")
@click.option("--engine", type=click.Choice(["embedded", "opa"]), default="embedded", show_default=True)
@click.option("--policies", "policy_dirs", multiple=True, metavar="SOURCE", help="As for check (folder, bundle, git).")
@_policy_key_option()
@click.option("--data", "data_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--now", default=None, help="The date policies and waivers see as today (YYYY-MM-DD).")
@click.option("--waivers", "waiver_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-cache", "no_cache", is_flag=True, help="Ignore the decision cache.")
def report(
    paths: tuple[str, ...],
    framework: str,
    fmt: str,
    output: str | None,
    engine: str,
    policy_dirs: tuple[str, ...],
    policy_key: Path | None,
    data_files: tuple[Path, ...],
    now: str | None,
    waiver_files: tuple[Path, ...],
    no_cache: bool,
) -> None:
    """Control matrix of a framework: each control, its rules, and pass/fail/waived/not applicable per project.

    Exit 1 when any control fails, as `mlci check` does; 2 on invalid input."""
    from mlci.commands.check import CheckOptions, run_check
    from mlci.commands.common import parse_today
    from mlci.commands.report import RENDERERS, build_matrix, framework_named
    from mlci.reporters import REPORTERS, ReportContext

    chosen = framework_named(framework)
    options = CheckOptions(
        engine=engine,
        policy_dirs=policy_dirs,
        policy_key=policy_key,
        data_files=data_files,
        today=parse_today(now),
        waiver_files=waiver_files,
        cache=not no_cache,
    )
    with progress.shown():
        outcome, pack = run_check(paths, options)
    if outcome.invalid_input:
        # No matrix over projects mlci could not read: say why, on stderr, and exit 2.
        context = ReportContext(command="report", fail_on=Severity.INFO, tool_version=__version__)
        click.echo(REPORTERS["text"](outcome.sorted(), context), err=True, nl=False)
        sys.exit(EXIT_USER_ERROR)
    matrix = build_matrix(chosen, pack, outcome.specs, outcome.findings)
    _write_report(RENDERERS[fmt](matrix), output)
    sys.exit(1 if matrix.failed else 0)


def main(argv: list[str] | None = None) -> None:
    """Entry point: the one place where exceptions become exit codes."""
    from mlci.reporters.log_safety import TEXT, defuse

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="mlci", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_USER_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USER_ERROR)
    except MlciError as exc:
        # Messages quote the user's values, and stderr lands in the CI log too.
        click.echo(defuse(f"mlci: {exc.message}", TEXT), err=True)
        if debug and not isinstance(exc, UserError):
            raise
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        problem = f"mlci: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"
        click.echo(defuse(problem, TEXT), err=True)
        sys.exit(EXIT_UNDECIDED)
