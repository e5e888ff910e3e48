"""What a CI cannot enforce is reported by `mlci render` at the spec's line; `mlci graph`
draws the model."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlci.findings import Severity
from mlci.pipeline import build_pipeline, gaps
from mlci.render.github import CAPABILITIES as GITHUB
from mlci.render.gitlab import CAPABILITIES as GITLAB
from tests.conftest import run_cli
from tests.pipeline import specs
from tests.pipeline.specs import EXAMPLE, example_spec, variant


def _warnings(findings):  # type: ignore[no-untyped-def]
    return [f for f in findings if f.severity > Severity.INFO]


def test_github_cannot_enforce_two_approvals_and_says_so_at_the_required_line() -> None:
    spec = example_spec("credit-risk")
    [finding] = _warnings(gaps(build_pipeline(spec), GITHUB, spec))
    assert "asks for 2 distinct approvals" in finding.message and "GitHub Actions deploys on 1" in finding.message
    line = spec.text.splitlines()[finding.line - 1]
    assert line.strip() == "required: 2"


def test_gitlab_enforces_any_number_of_approvals_but_keeps_them_in_settings() -> None:
    spec = example_spec("credit-risk")
    findings = gaps(build_pipeline(spec), GITLAB, spec)
    assert not _warnings(findings)
    assert {f.severity for f in findings} == {Severity.INFO}
    assert all("Protected environments" in f.message for f in findings)


def test_github_needs_named_reviewers() -> None:
    def unnamed(data):  # type: ignore[no-untyped-def]
        data["environments"][1]["approvals"] = {"required": 1}

    spec = variant(unnamed)
    messages = [f.message for f in _warnings(gaps(build_pipeline(spec), GITHUB, spec))]
    assert any("names no approvers" in m for m in messages), messages


def test_more_reviewers_than_github_takes_are_reported() -> None:
    def crowd(data):  # type: ignore[no-untyped-def]
        data["environments"][1]["approvals"] = {"required": 1, "approvers": [f"r{i}" for i in range(8)]}

    spec = variant(crowd)
    messages = [f.message for f in _warnings(gaps(build_pipeline(spec), GITHUB, spec))]
    assert any("at most 6 reviewers" in m for m in messages), messages


def test_render_prints_the_gaps_and_still_succeeds(tmp_path: Path) -> None:
    folder = tmp_path / "credit-risk"
    shutil.copytree(EXAMPLE["credit-risk"], folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    result = run_cli("render", str(folder), "--target", "github")
    assert result.exit_code == 0
    assert "mlproject.yaml:104:" in result.stderr and "warning: environment production" in result.stderr
    checked = run_cli("render", str(folder), "--target", "github", "--check")
    assert checked.exit_code == 0 and "warning: environment production" in checked.stderr


def test_graph_draws_mermaid_dot_and_markdown() -> None:
    folder = str(EXAMPLE["iris-classifier"])
    mermaid = run_cli("graph", folder)
    assert mermaid.exit_code == 0
    assert mermaid.stdout.startswith("flowchart LR\n")
    assert "j_gate --> j_register" in mermaid.stdout
    # Retraining follows the drift check's findings (exit 1), not any failure of it.
    assert "j_monitor_drift -. on findings .-> j_retrain_on_drift" in mermaid.stdout
    assert 'a_j_deploy_production{{"2 approval(s) from carol, dave"}}' in mermaid.stdout
    dot = run_cli("graph", folder, "--format", "dot")
    assert dot.stdout.startswith('digraph "mlci iris-classifier" {') and '"register" -> "build-image";' in dot.stdout
    markdown = run_cli("graph", folder, "--format", "markdown")
    assert "```mermaid\nflowchart LR\n" in markdown.stdout


def test_graph_of_an_invalid_spec_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "mlproject.yaml").write_text("apiVersion: mlci/v1\nproject: {}\n")
    assert run_cli("graph", str(tmp_path)).exit_code == 2


def test_graph_labels_cannot_break_out_of_their_quotes() -> None:
    from mlci.pipeline.graph import dot, mermaid

    pipeline = build_pipeline(variant(specs.several_environments))
    assert '"' not in mermaid(pipeline).replace('["', "").replace('"]', "").replace('{{"', "").replace(
        '"}}', ""
    ).replace('(["', "").replace('"])', "")
    assert dot(pipeline).count("{") == dot(pipeline).count("}")


def test_mermaid_and_dot_draw_the_same_nodes_and_edges() -> None:
    """One walk of the lifecycle (graph.elements) feeds both formats."""
    from mlci.pipeline.graph import dot, elements, mermaid

    for spec in (example_spec(), variant(specs.several_environments)):
        pipeline = build_pipeline(spec)
        nodes, edges = elements(pipeline)
        drawn = mermaid(pipeline).splitlines()[1:]
        assert len([line for line in drawn if "->" in line]) == len(edges)
        assert len([line for line in drawn if "->" not in line]) == len(nodes)
        lines = dot(pipeline).splitlines()[2:-1]
        assert len([line for line in lines if " -> " in line]) == len(edges)
        assert len([line for line in lines if " -> " not in line]) == len(nodes)
        labelled = [edge for edge in edges if edge.label]
        assert [edge.target for edge in labelled] == ["job:retrain-on-drift"] * len(labelled)
