"""Property-based tests over load -> validate -> check -> render, driven through the real CLI.

Whatever a pull request puts in mlproject.yaml (any YAML document, any string in
any field, any value of any type, any folder name), mlci answers with an exit
code of the contract and a message, never a traceback and never a hang; and
whatever it renders still parses, keeps the pipeline's shape, is up to date for
`render --check` and passes actionlint.

The CI profile (tests/conftest.py) is small and deterministic; set
MLCI_HYPOTHESIS_PROFILE=long to search much harder (see README).
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests import judges
from tests.conftest import ROOT, Result, require_tool, run_cli
from tests.strategies import (
    Mutation,
    any_documents,
    dump,
    examples,
    folder_names,
    replaced,
    string_field_edits,
    text_mutations,
    type_confusions,
)

TODAY = "2026-11-29"  # policies see a fixed date, so a failure replays
SECONDS_PER_RUN = 30  # far above any honest run: more than this is a hang
CONTRACT_EXIT_CODES = {0, 1, 2, 3}
# The embedded engine with the built-in pack decides every spec: exit 3 there is mlci's bug.
DECIDED = {0, 1, 2}
POSITION = re.compile(r":\d+:\d+|line=\d+,col=\d+")
GITHUB = ("--target", "github")
CI_FILES = {"github": ".github/workflows", "gitlab": ".gitlab-ci.yml", "azure": "azure-pipelines.yml"}


def scaled(fraction: float) -> int:
    """A share of the loaded profile's max_examples: the slow properties get fewer examples."""
    return max(1, int(settings.default.max_examples * fraction))


def budget(fraction: float) -> settings:
    return settings(
        max_examples=scaled(fraction),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# ------------------------------------------------------------- known bugs

# Failure classes already routed to the area that owns them, each with an xfail reproduction at
# the end of this file. The properties skip examples that fail only this way, so they keep
# searching for new classes; delete an entry once its fix is merged (its xfail then passes).
# MLCI_FUZZ_STRICT=1 reports them like any other failure.
KNOWN_BUGS: dict[str, re.Pattern[str]] = {}
# Render once wrote the spec's path raw into each file's header comment; folder names with line
# breaks are now refused (exit 2 at the spec), so the folder property tries them too.
MARKER_TAKES_RAW_LINE_BREAKS = False
LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029", "\x0b", "\x0c")


@contextmanager
def known_bugs_skipped() -> Iterator[None]:
    try:
        yield
    except AssertionError as exc:
        if os.environ.get("MLCI_FUZZ_STRICT") or not any(p.search(str(exc)) for p in KNOWN_BUGS.values()):
            raise
        reject()


# --------------------------------------------------------------------- running


class Hang(BaseException):
    """Raised from a timer; a BaseException, so mlci's error boundary cannot turn it into an exit code."""


@contextmanager
def no_hang(seconds: int = SECONDS_PER_RUN) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def mlci(*args: str) -> Result:
    with no_hang():
        return run_cli(*args)


def assert_contract(result: Result, what: object, allowed: set[int] = CONTRACT_EXIT_CODES) -> None:
    """An exit code of the contract, a message with it, and no crash in disguise."""
    output = result.stdout + result.stderr
    context = f"{what!r}\nexit {result.exit_code}\nstdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
    assert result.exit_code in allowed, context
    assert "Traceback" not in output, context
    # The boundary turns an unexpected exception into exit 3 "internal error": still a crash.
    assert "internal error" not in output, context
    if result.exit_code == 2:
        assert POSITION.search(output), f"exit 2 without file:line:col\n{context}"
    if result.exit_code == 3:
        assert result.stderr.strip(), f"exit 3 without a message\n{context}"


@contextmanager
def project(text: bytes, folder: str = "proj") -> Iterator[Path]:
    """A temporary repository holding the spec at <folder>/mlproject.yaml (known bugs skipped inside)."""
    with tempfile.TemporaryDirectory(prefix="mlci-fuzz-") as tmp, known_bugs_skipped():
        spec_dir = Path(tmp) / folder
        spec_dir.mkdir()
        (spec_dir / "mlproject.yaml").write_bytes(text)
        yield spec_dir


# -------------------------------------------------- judging a rendered tree


def rendered_files(out: Path) -> dict[str, Path]:
    return {
        p.relative_to(out).as_posix(): p
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "mlproject.yaml" and not p.relative_to(out).as_posix().startswith(".mlci/")
    }


def parse_rendered(out: Path) -> dict[str, Any]:
    """Every YAML and JSON file parsed (a failure is the finding); what each CI file looks like."""
    shapes: dict[str, Any] = {}
    for rel, path in rendered_files(out).items():
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yml", ".yaml"):
            try:
                documents = list(YAML(typ="safe").load_all(text))
            except Exception as exc:  # any parser error is the failure we report
                raise AssertionError(f"{rel} does not parse as YAML: {exc}{_around(text, exc)}") from None
            shapes[rel] = _shape(rel, documents)
        elif path.suffix == ".json":
            try:
                shapes[rel] = sorted(json.loads(text))
            except ValueError as exc:
                raise AssertionError(f"{rel} does not parse as JSON: {exc}") from None
        else:
            shapes[rel] = None
    return shapes


# The syntax each CI expands before any shell runs. mlci writes some of it itself; a value from
# the spec must never add more (it would run as an expression or read a secret).
EXPANDED = {CI_FILES["github"]: ("${{",), CI_FILES["azure"]: ("${{", "$[", "$(")}


def _expressions(rel: str, document: Any) -> dict[str, int]:
    syntaxes = next((s for ci, s in EXPANDED.items() if rel == ci or rel.startswith(ci + "/")), ())
    strings = list(_strings(document))
    return {syntax: sum(s.count(syntax) for s in strings) for syntax in syntaxes}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _around(text: str, exc: Exception) -> str:
    """The rendered lines around a parser's error mark."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return ""
    lines = text.split("\n")
    return "\n" + "\n".join(repr(line) for line in lines[max(0, mark.line - 2) : mark.line + 2])


def _shape(rel: str, documents: list[Any]) -> Any:
    """The structure a value must never change: CI files' top-level keys and jobs; manifests' kinds."""
    if any(rel == ci or rel.startswith(ci + "/") for ci in CI_FILES.values()):
        assert len(documents) == 1, f"{rel}: {len(documents)} YAML documents"
        doc = documents[0]
        assert isinstance(doc, dict), f"{rel}: top level is {type(doc).__name__}"
        jobs = doc.get("jobs", {})
        stages = [s.get("stage") for s in doc.get("stages", [])] if rel == CI_FILES["azure"] else []
        return {
            "keys": sorted(map(str, doc)),
            "jobs": sorted(map(str, jobs)),
            "stages": stages,
            "expressions": _expressions(rel, doc),
        }
    return [d.get("kind") if isinstance(d, dict) else type(d).__name__ for d in documents]


@functools.cache
def clean_shapes(example_name: str, *extra: str, in_root: bool = False) -> dict[str, Any]:
    """The shape of an unmodified example's render, laid out like the fuzzed ones."""
    example = next(e for e in examples() if e.name == example_name)
    with project(dump(example.data).encode()) as spec_dir:
        out = spec_dir.parent if in_root else spec_dir.parent / "out"
        result = mlci("render", str(spec_dir), "--out", str(out), *extra)
        assert result.exit_code == 0, result.stdout + result.stderr
        return parse_rendered(out)


def assert_same_shape(clean: dict[str, Any], fuzzed: dict[str, Any], mutation: object) -> None:
    """Same files, keys and jobs as the clean render, allowing for a renamed project or environment."""
    old, new = getattr(mutation, "old", None), getattr(mutation, "new", None)

    def renamed(value: Any) -> Any:
        if not (isinstance(old, str) and isinstance(new, str) and old):
            return value
        if isinstance(value, str):
            return value.replace(old, new)
        if isinstance(value, list):
            return sorted((renamed(v) for v in value), key=repr)
        if isinstance(value, dict):
            return {renamed(k): renamed(v) for k, v in value.items()}
        return value

    if fuzzed != clean:
        expected = renamed(clean)
        assert sorted(fuzzed) == sorted(expected), f"{mutation!r}: other files than the clean render"
        for rel, shape in fuzzed.items():
            if isinstance(shape, dict) and shape["expressions"] != expected[rel]["expressions"]:
                raise AssertionError(
                    f"{mutation!r}: {rel} has CI expression syntax from the spec: "
                    f"{shape['expressions']}, the clean render {expected[rel]['expressions']}"
                )
            if shape != clean.get(rel):
                got, want = _azure_ids(renamed(shape)), _azure_ids(expected[rel])
                assert got == want, f"{mutation!r}: {rel} changed shape\n{clean.get(rel)}\n{shape}"


def _azure_ids(shape: Any) -> Any:
    """Azure stage names are identifiers: a renamed environment's '-' becomes '_' there."""
    if isinstance(shape, dict) and shape.get("stages"):
        return {**shape, "stages": [str(stage).replace("-", "_") for stage in shape["stages"]]}
    return shape


def render_and_judge(
    spec_dir: Path, mutation: object, clean: dict[str, Any] | None, *extra: str, out: Path | None = None
) -> Path | None:
    """Render; when mlci accepts the spec, the output parses, keeps its shape and is up to date."""
    out = out or spec_dir.parent / "out"
    result = mlci("render", str(spec_dir), "--out", str(out), *extra)
    assert_contract(result, mutation, {0, 2})
    if result.exit_code != 0:
        return None
    shapes = parse_rendered(out)
    if clean is not None:
        assert_same_shape(clean, shapes, mutation)
    again = mlci("render", str(spec_dir), "--out", str(out), "--check", *extra)
    assert_contract(again, mutation, {0})
    return out


# ------------------------------------------------------------ report formats

REPORT_FILES = {"json": "report.json", "sarif": "report.sarif", "junit": "report.xml", "gitlab": "codequality.json"}


def assert_reports_hold(command: str, spec_dir: Path, mutation: object, *extra: str) -> Result:
    """Every machine-readable report parses, and GitHub gets exactly one workflow command per finding."""
    reports = spec_dir.parent / "reports"
    outputs = [f"-o{fmt}={reports / name}" for fmt, name in REPORT_FILES.items()]
    outputs += [f"-omarkdown={reports / 'report.md'}", "-ogithub"]
    result = mlci(command, str(spec_dir), *outputs, *extra)
    assert_contract(result, mutation, DECIDED)
    document = json.loads((reports / REPORT_FILES["json"]).read_text(encoding="utf-8"))
    json.loads((reports / REPORT_FILES["sarif"]).read_text(encoding="utf-8"))
    json.loads((reports / REPORT_FILES["gitlab"]).read_text(encoding="utf-8"))
    try:
        ElementTree.fromstring((reports / REPORT_FILES["junit"]).read_bytes())
    except ElementTree.ParseError as exc:
        raise AssertionError(f"{mutation!r}: the JUnit report is not XML: {exc}") from None
    # The runner reads workflow commands line by line, a line ending at CR, LF or CRLF.
    lines = [line for line in re.split(r"\r\n|\r|\n", result.stdout) if line]
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == len(document["findings"]), f"{mutation!r}: forged workflow commands\n{result.stdout}"
    assert len(lines) == len(document["findings"]) + 1, f"{mutation!r}: stray lines\n{result.stdout}"
    return result


# ------------------------------------------------------------ the properties

any_spec_file = st.one_of(any_documents(), text_mutations().map(lambda m: m.text))


@budget(1.0)
@given(any_spec_file)
def test_any_file_is_validated_or_refused_with_a_position(text: bytes) -> None:
    with project(text) as spec_dir:
        result = mlci("validate", str(spec_dir))
        assert_contract(result, text, {0, 2})
        if result.exit_code == 0:
            render_and_judge(spec_dir, text, clean=None)


@budget(0.4)
@given(text_mutations())
def test_mutated_examples_are_validated_and_rendered_or_refused(mutation: Mutation) -> None:
    with project(mutation.text) as spec_dir:
        result = mlci("validate", str(spec_dir))
        assert_contract(result, mutation, {0, 2})
        if result.exit_code == 0:
            render_and_judge(spec_dir, mutation, clean=None)


@budget(0.25)
@given(any_spec_file)
def test_any_file_is_checked_or_refused(text: bytes) -> None:
    with project(text) as spec_dir:
        assert_contract(mlci("check", str(spec_dir), "--now", TODAY), text, DECIDED)


@budget(1.0)
@given(string_field_edits())
def test_any_string_in_any_field_is_validated_and_reported(mutation: Mutation) -> None:
    with project(mutation.text) as spec_dir:
        result = assert_reports_hold("validate", spec_dir, mutation)
        assert result.exit_code in (0, 2), mutation


@budget(0.25)
@given(string_field_edits())
def test_any_string_in_any_field_is_checked_and_reported(mutation: Mutation) -> None:
    with project(mutation.text) as spec_dir:
        assert_reports_hold("check", spec_dir, mutation, "--now", TODAY)


@budget(0.75)
@given(string_field_edits())
def test_any_string_in_any_field_renders_the_same_pipelines_or_is_refused(mutation: Mutation) -> None:
    clean = clean_shapes(mutation.example)
    with project(mutation.text) as spec_dir:
        render_and_judge(spec_dir, mutation, clean)


@pytest.mark.judges
@budget(0.15)
@given(string_field_edits(schema_valid_only=True))
def test_accepted_strings_give_a_github_workflow_actionlint_accepts(mutation: Mutation) -> None:
    actionlint = require_tool(judges.tool("actionlint"), "actionlint")
    with project(mutation.text) as spec_dir:
        out = render_and_judge(spec_dir, mutation, clean_shapes(mutation.example, *GITHUB), *GITHUB)
        if out is None:
            return
        workflows = sorted(str(p) for p in (out / ".github" / "workflows").glob("*.yml"))
        proc = subprocess.run(
            [actionlint, "-no-color", *workflows], capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, f"{mutation!r}\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"


@budget(0.5)
@given(type_confusions())
def test_any_value_of_any_type_is_validated_and_rendered_or_refused(mutation: Mutation) -> None:
    with project(mutation.text) as spec_dir:
        result = assert_reports_hold("validate", spec_dir, mutation)
        assert result.exit_code in (0, 2), mutation
        if result.exit_code == 0:
            render_and_judge(spec_dir, mutation, clean=None)


@budget(0.2)
@given(type_confusions())
def test_any_value_of_any_type_is_checked_or_refused(mutation: Mutation) -> None:
    with project(mutation.text) as spec_dir:
        assert_contract(mlci("check", str(spec_dir), "--now", TODAY), mutation, DECIDED)


@budget(0.3)
@given(st.sampled_from([e.name for e in examples()]), folder_names)
def test_any_folder_name_is_checked_and_rendered(example: str, folder: str) -> None:
    if MARKER_TAKES_RAW_LINE_BREAKS and not os.environ.get("MLCI_FUZZ_STRICT"):
        assume(not any(c in folder for c in LINE_BREAKS))
    data = next(e for e in examples() if e.name == example).data
    with project(dump(data).encode(), folder) as spec_dir:
        result = mlci("check", str(spec_dir), "--now", TODAY)
        assert_contract(result, folder, DECIDED)
        # Rendered at the repository root, as in a monorepo: the folder lands in the CI files.
        render_and_judge(spec_dir, folder, clean_shapes(example, in_root=True), out=spec_dir.parent)


# ------------------------------------------------ the console script itself


def run_console_script(*args: str, cwd: Path) -> Result:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "mlci", *args],
        capture_output=True,
        text=True,
        errors="replace",
        cwd=cwd,
        env=env,
        timeout=SECONDS_PER_RUN * 4,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@budget(0.05)
@given(st.one_of(string_field_edits(), type_confusions(), text_mutations()))
def test_console_script_answers_every_spec_without_a_traceback(mutation: Mutation) -> None:
    with project(mutation.text) as spec_dir:
        for args in (["validate", "."], ["check", ".", "--now", TODAY], ["render", ".", "--out", "../out"]):
            assert_contract(run_console_script(*args, cwd=spec_dir), (mutation, args))


# ------------------------------------- known failure classes, one reproduction each
# Found by the properties above; each is routed to the area that owns it (see KNOWN_BUGS).

KNOWN_REPRODUCTIONS = [
    pytest.param(
        "credit-risk",
        ("project", "description"),
        "a\x7fb",
        "proj",
        id="DEL-in-description-reaches-argocd-appproject",
    ),
    pytest.param(
        "credit-risk",
        ("datasets", 0, "uri"),
        "data/a\x80.csv",
        "proj",
        id="C1-control-in-dataset-uri-reaches-training-job",
    ),
    pytest.param(
        "credit-risk",
        ("monitoring", "alerts", 0),
        "slack:#a\x1bb",
        "proj",
        id="ESC-in-alert-reaches-prometheusrule",
    ),
    pytest.param(
        "iris-classifier",
        (),
        None,
        "x\njobs: {}\n#",
        id="newline-in-folder-name-injects-yaml-through-the-marker",
    ),
    pytest.param(
        "iris-classifier",
        (),
        None,
        "a: b",
        id="colon-in-folder-name-breaks-azure-plain-scalar",
    ),
]


KNOWN_REPRODUCTIONS += [
    pytest.param(
        "iris-classifier",
        (),
        None,
        folder,
        id=f"{target}-expression-in-folder-name",
    )
    for target, folder in (("github", "${{ github.token }}"), ("azure", "$(System.AccessToken)"))
]


@pytest.mark.parametrize("tag", ["!!timestamp 2026-02-30", "!!int 0x_", "!!bool maybe", "!custom x", "2026-02-30"])
def test_known_failure_class_explicit_tag_is_refused_with_a_position(tag: str) -> None:
    text = next(e for e in examples() if e.name == "iris-classifier").text
    with project(text.replace("max_depth: 4", f"max_depth: {tag}").encode()) as spec_dir:
        result = mlci("validate", str(spec_dir))
    assert result.exit_code == 2, result.stderr
    assert "mlproject.yaml:27:" in result.stdout, result.stdout


@pytest.mark.parametrize("merged", ["1", "*name"])
def test_known_failure_class_merge_of_a_scalar_is_refused_with_a_position(merged: str) -> None:
    text = f"apiVersion: mlci/v1\nname: &name x\nproject:\n  name: x\n  <<: {merged}\n"
    with project(text.encode()) as spec_dir:
        result = mlci("validate", str(spec_dir))
    assert result.exit_code == 2, result.stderr
    assert "mlproject.yaml:5:" in result.stdout, result.stdout


@pytest.mark.parametrize("cron", ["99 * * * *", "0 32 * * *", "0 0 0 * *", "0 0 * 38 *"])
def test_known_failure_class_cron_out_of_range_is_refused(cron: str) -> None:
    data = next(e for e in examples() if e.name == "iris-classifier").data
    with project(dump(replaced(data, ("training", "schedule"), cron)).encode()) as spec_dir:
        result = mlci("validate", str(spec_dir))
    assert result.exit_code == 2, f"{cron!r} reaches the pipelines, and GitHub refuses it"


@pytest.mark.parametrize(("example", "path", "value", "folder"), KNOWN_REPRODUCTIONS)
def test_known_failure_class_is_fixed(example: str, path: tuple[Any, ...], value: str | None, folder: str) -> None:
    data = next(e for e in examples() if e.name == example).data
    text = dump(replaced(data, path, value) if path else data).encode()
    with tempfile.TemporaryDirectory(prefix="mlci-known-") as tmp:
        spec_dir = Path(tmp) / folder
        spec_dir.mkdir()
        (spec_dir / "mlproject.yaml").write_bytes(text)
        out = render_and_judge(spec_dir, (example, path, value, folder), None, out=Path(tmp))
        if out is None:
            return  # refused as input, at a position (the contract checked it): fixed by refusal
        assert parse_rendered(out) == clean_shapes(example, in_root=True)
