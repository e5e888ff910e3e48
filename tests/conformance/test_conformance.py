"""Every CI printer expresses the lifecycle of the model: for each `ci_<target>.py` module
here (a parser of what that CI reads), for both examples and for spec variants, the job
graph read back from the rendered files equals the model's, adapted only where the
printer's `Capabilities` declare what its CI cannot express.

Adding a CI to this test is one module: `ci_<target>.py` with `TARGET`, `capabilities`
and `read(folder, pipeline) -> JobGraph`."""

from __future__ import annotations

import copy
import importlib
import io
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from ruamel.yaml import YAML

from mlci.loader import load_spec
from mlci.pipeline import Event, Pipeline, build_pipeline
from mlci.pipeline.graph import dot, mermaid
from mlci.render import RENDERERS
from tests.conformance.graph import JobGraph, differences, expected, within
from tests.conftest import run_cli
from tests.pipeline.specs import EXAMPLE, VARIANTS

HERE = Path(__file__).resolve().parent
PARSERS: list[ModuleType] = [
    importlib.import_module(f"tests.conformance.{path.stem}") for path in sorted(HERE.glob("ci_*.py"))
]
CASES = [(example, variant) for example in sorted(EXAMPLE) for variant in VARIANTS]


def render_variant(example: str, variant: str, target: str, into: Path) -> Path:
    folder = into / example
    shutil.copytree(EXAMPLE[example], folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    spec = folder / "mlproject.yaml"
    data = copy.deepcopy(load_spec(spec).data)
    VARIANTS[variant](data)
    buffer = io.StringIO()
    YAML(typ="safe").dump(data, buffer)
    spec.write_text(buffer.getvalue())
    result = run_cli("render", str(folder), "--target", target)
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder


def expected_of(parser: ModuleType, pipeline: Pipeline) -> JobGraph:
    """The model's graph, or the part of it a target runs when its parser declares a `scope`."""
    graph = expected(pipeline, parser.capabilities)
    scope = getattr(parser, "scope", None)
    return within(graph, pipeline, *scope(pipeline)) if scope else graph


def test_every_ci_target_has_a_parser() -> None:
    ci_targets = {"github", "gitlab", "jenkins", "azure", "argo"} & set(RENDERERS)
    # Parsers may land before their printer; a printer without a parser is a gap this names.
    missing = ci_targets - {parser.TARGET for parser in PARSERS}
    assert {"github", "gitlab"} <= {parser.TARGET for parser in PARSERS}
    if missing:
        pytest.skip(f"no conformance parser yet for {sorted(missing)}")


@pytest.mark.parametrize("parser", PARSERS, ids=[parser.TARGET for parser in PARSERS])
@pytest.mark.parametrize(("example", "variant"), CASES, ids=[f"{e}:{v}" for e, v in CASES])
def test_the_ci_reads_the_lifecycle_of_the_model(
    parser: ModuleType, example: str, variant: str, tmp_path: Path
) -> None:
    folder = render_variant(example, variant, parser.TARGET, tmp_path)
    pipeline = build_pipeline(load_spec(folder / "mlproject.yaml"))
    problems = differences(expected_of(parser, pipeline), parser.read(folder, pipeline))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("parser", PARSERS, ids=[parser.TARGET for parser in PARSERS])
def test_the_graph_draws_the_jobs_the_printers_emit(parser: ModuleType, tmp_path: Path) -> None:
    folder = render_variant("credit-risk", "several-environments", parser.TARGET, tmp_path)
    pipeline = build_pipeline(load_spec(folder / "mlproject.yaml"))
    emitted = set(parser.read(folder, pipeline).jobs)
    drawn_mermaid = {
        line.split('["', 1)[1].removesuffix('"]')
        for line in mermaid(pipeline).splitlines()
        if line.startswith("  j_") and '["' in line
    }
    drawn_dot = {line.split('"')[1] for line in dot(pipeline).splitlines() if line.endswith("[shape=box];")}
    in_scope = set(expected_of(parser, pipeline).jobs)
    assert drawn_mermaid == drawn_dot and drawn_mermaid & in_scope == emitted


@pytest.mark.parametrize("parser", PARSERS, ids=[parser.TARGET for parser in PARSERS])
def test_a_changed_lifecycle_is_caught(parser: ModuleType, tmp_path: Path) -> None:
    """The comparison can fail: a model that differs from the rendered file is reported."""
    folder = render_variant("iris-classifier", "as-is", parser.TARGET, tmp_path)
    pipeline = build_pipeline(load_spec(folder / "mlproject.yaml"))
    got = parser.read(folder, pipeline)
    change, named = getattr(parser, "CHANGE", ("pr-evaluation", "pr-evaluation"))
    other = build_pipeline(
        load_spec(render_variant("iris-classifier", change, "docker", tmp_path / "o") / "mlproject.yaml")
    )
    problems = differences(expected_of(parser, other), got)
    assert any(named in problem for problem in problems), problems
    if not hasattr(parser, "scope"):
        assert Event.PULL_REQUEST in got.triggers


# Rendered files edited back to acting on any failure of the drift check (what mlci printed
# before When.FINDINGS), or to publishing a verdict that is not the command's own status.
_ANY_FAILURE = {
    "github": [
        (r"needs\.monitor-drift\.outputs\.exit-code == '1' && ", ""),
        (r'echo "exit-code=\$status"', 'echo "exit-code=$(( status > 0 ))"'),
    ],
    "gitlab": [
        (r'\n *- "if \[ \\"\$verdict\\" != 1 \][^\n]*', ""),
        (r'- "echo \\"\$status\\" > ', '- "echo 1 > '),
    ],
    "jenkins": [(r"\s*&& env\.MLCI_MONITOR_DRIFT_EXIT_CODE == '1'", "")],
    "azure": [(r"eq\(dependencies\.monitor_drift\.outputs\['monitor_drift\.verdict\.exitCode'\], '1'\), ", "")],
}
_FILES = {
    "github": ".github/workflows/mlci-iris-classifier.yml",
    "gitlab": ".gitlab-ci.yml",
    "jenkins": "Jenkinsfile",
    "azure": "azure-pipelines.yml",
}


@pytest.mark.parametrize("parser", [p for p in PARSERS if p.TARGET in _ANY_FAILURE], ids=lambda p: p.TARGET)
def test_retraining_follows_only_findings_of_the_drift_check(parser: ModuleType, tmp_path: Path) -> None:
    """Retraining starts when `mlci drift` exited 1, never on 2 or 3 (it could not decide) nor
    when the job broke before it; a rendered file that acts on any failure is caught."""
    folder = render_variant("iris-classifier", "as-is", parser.TARGET, tmp_path)
    pipeline = build_pipeline(load_spec(folder / "mlproject.yaml"))
    assert parser.read(folder, pipeline).jobs["retrain-on-drift"].after == {"findings"}
    rendered = folder / _FILES[parser.TARGET]
    original = rendered.read_text()
    for pattern, replacement in _ANY_FAILURE[parser.TARGET]:
        edited, count = re.subn(pattern, replacement, original)
        assert count, pattern
        rendered.write_text(edited)
        problems = differences(expected_of(parser, pipeline), parser.read(folder, pipeline))
        assert any(problem.startswith("retrain-on-drift.after: model {findings}") for problem in problems), problems
    rendered.write_text(original)
