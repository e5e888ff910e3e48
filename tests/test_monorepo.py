"""A monorepo rendered from its root: each CI's files where that CI reads them (GitHub's
workflows in the root .github/workflows, GitLab's root pipeline triggering one child per
project, a root Jenkinsfile with a stage per project, Azure's pipeline per project), `render
--check` from the root and from the pipelines themselves, hand-written root files kept, every
judge green, and GitLab's pipelines run by gitlab-ci-local."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests import judges
from tests.conftest import require_tool, run_cli
from tests.monorepo import PROJECTS, build_monorepo, git

EXIT_OUT_OF_DATE = 4
# Each CI's pipeline file, from where that CI reads it in the monorepo (GitHub: the root).
CI_FILE = {
    "github": ".github/workflows/mlci-{name}.yml",
    "gitlab": ".gitlab-ci.yml",
    "jenkins": "Jenkinsfile",
    "azure": "azure-pipelines.yml",
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The monorepo rendered from its root (the current folder)."""
    repo = build_monorepo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    result = run_cli("render", ".")
    assert result.exit_code == 0, result.stdout + result.stderr
    return repo


def _yaml(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


def test_each_ci_reads_its_files_from_the_repository_root(repo: Path) -> None:
    for folder, (name, _) in PROJECTS.items():
        # GitHub: the root's workflows, filtered on the project's folder, run in it.
        workflow = _yaml(repo / ".github" / "workflows" / f"mlci-{name}.yml")
        assert f"{folder}/**" in workflow["on"]["pull_request"]["paths"]
        assert workflow["defaults"]["run"]["working-directory"] == folder
        assert not (repo / folder / ".github").exists()
        # GitLab: the project's own pipeline in its folder, started by the root's.
        assert (repo / folder / ".gitlab-ci.yml").is_file()
        # Docker and Kubernetes stay with the project; its pipeline builds and deploys them there.
        assert (repo / folder / "Dockerfile").is_file()
        assert f"--file {folder}/Dockerfile" in (repo / ".github" / "workflows" / f"mlci-{name}.yml").read_text()
    root = _yaml(repo / ".gitlab-ci.yml")
    triggers = {job: body for job, body in root.items() if isinstance(body, dict) and "trigger" in body}
    assert {body["trigger"]["include"] for body in triggers.values()} == {f"{f}/.gitlab-ci.yml" for f in PROJECTS}
    for folder, (name, _) in PROJECTS.items():
        changes = [rule["changes"] for rule in triggers[f"mlci-{name}"]["rules"] if "changes" in rule]
        assert changes == [[f"{folder}/**/*", ".gitlab-ci.yml"]]
    # Jenkins: a stage per project, run when its folder changed.
    jenkinsfile = (repo / "Jenkinsfile").read_text()
    for folder, (name, _) in PROJECTS.items():
        assert f"stage('{name}')" in jenkinsfile
        assert f"changeset pattern: '{folder}/**'" in jenkinsfile
        assert f"build job: 'mlci-{name}/'" in jenkinsfile
    # Azure (credit-risk asks for it): one pipeline per project, with path filters.
    azure = _yaml(repo / "projects" / "credit" / "azure-pipelines.yml")
    assert [path for path in azure["trigger"]["paths"]["include"] if path.startswith("projects/credit/")]


def test_render_check_from_the_root_and_from_the_pipelines(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("render", "--check").exit_code == 0
    assert run_cli("render", ".", "--check").exit_code == 0
    # The pipelines' own check runs from the project's folder with the arguments they carry.
    workflow = (repo / ".github" / "workflows" / "mlci-iris-b.yml").read_text()
    args = re.search(r"run: mlci render (.*) --check", workflow)
    assert args is not None and args[1] == "../.. --root ../.."
    monkeypatch.chdir(repo / "projects" / "iris-b")
    assert run_cli("render", *args[1].split(), "--check").exit_code == 0

    spec = repo / "projects" / "credit" / "mlproject.yaml"
    spec.write_text(spec.read_text().replace("timeout_minutes: 45", "timeout_minutes: 46", 1))
    stale = run_cli("render", *args[1].split(), "--check")
    assert stale.exit_code == EXIT_OUT_OF_DATE, stale.stdout + stale.stderr
    assert "projects/credit" in stale.stderr


def test_rendering_part_of_the_monorepo_is_refused_and_touches_nothing(repo: Path) -> None:
    """The root's files list every project: a render of some of them would drop the others."""
    before = {path: path.read_bytes() for path in repo.rglob("*") if path.is_file() and ".git" not in path.parts}
    for args in (("projects/iris", "projects/credit"), ("projects/iris",), ("projects/iris", "--root", ".")):
        result = run_cli("render", *args)
        assert result.exit_code == 2, (args, result.stdout + result.stderr)
        assert "projects/iris-b/mlproject.yaml" in result.stderr and "mlci render ." in result.stderr
    after = {path: path.read_bytes() for path in repo.rglob("*") if path.is_file() and ".git" not in path.parts}
    assert after == before


def test_projects_rendered_one_by_one_before_move_to_the_root_layout(tmp_path: Path, monkeypatch) -> None:
    repo = build_monorepo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    for folder in PROJECTS:
        assert run_cli("render", folder).exit_code == 0
    old = repo / "projects" / "iris" / ".github" / "workflows" / "mlci-iris-classifier.yml"
    assert old.is_file()
    result = run_cli("render", ".")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert not old.exists()  # mlci's own file from the earlier layout, unedited: removed
    assert (repo / ".github" / "workflows" / "mlci-iris-classifier.yml").is_file()
    assert run_cli("render", ".", "--check").exit_code == 0


def test_hand_written_root_pipelines_are_kept_and_mlci_says_how_to_include_its_own(tmp_path: Path) -> None:
    repo = build_monorepo(tmp_path / "repo")
    own_gitlab = "lint:\n  script:\n    - make lint\n"
    own_jenkins = "pipeline {\n    agent any\n    stages {\n        stage('Lint') { steps { sh 'make' } }\n    }\n}\n"
    (repo / ".gitlab-ci.yml").write_text(own_gitlab)
    (repo / "Jenkinsfile").write_text(own_jenkins)
    result = run_cli("render", str(repo))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (repo / ".gitlab-ci.yml").read_text() == own_gitlab
    assert (repo / "Jenkinsfile").read_text() == own_jenkins
    assert "include: .gitlab-ci.mlci.yml" in result.stderr
    assert "script { load('Jenkinsfile.mlci.groovy').runChangedProjects() }" in result.stderr
    included = _yaml(repo / ".gitlab-ci.mlci.yml")
    assert "workflow" not in included and "stages" not in included  # the repository's own file has them
    assert {job for job in included if job.startswith("mlci-")} == {f"mlci-{name}" for name, _ in PROJECTS.values()}
    assert "runChangedProjects" in (repo / "Jenkinsfile.mlci.groovy").read_text()
    assert run_cli("render", str(repo), "--check").exit_code == 0
    # Every project's files were written all the same.
    assert all((repo / folder / "Dockerfile").is_file() for folder in PROJECTS)


@pytest.mark.judges
def test_every_judge_accepts_the_monorepo(repo: Path, tmp_path: Path) -> None:
    kinds = judges.classify(repo)
    assert len(kinds["github"]) == 3 and len(kinds["gitlab"]) == 4 and len(kinds["jenkins"]) == 4, kinds
    failures = []
    for kind, files in kinds.items():
        for name, tool, run in judges.JUDGES[kind] if files else []:
            require_tool(judges.tool(tool), tool)
            verdict = run(files)
            if not verdict.ok:
                failures.append(f"{kind}/{name}: {verdict.output[-3000:]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.judges
def test_every_judge_accepts_the_files_included_by_hand_written_root_pipelines(tmp_path: Path) -> None:
    repo = build_monorepo(tmp_path / "repo")
    (repo / ".gitlab-ci.yml").write_text("lint:\n  script:\n    - make lint\n")
    (repo / "Jenkinsfile").write_text("pipeline {\n    agent any\n    stages {\n    }\n}\n")
    assert run_cli("render", str(repo)).exit_code == 0
    require_tool(judges.tool("check-jsonschema"), "check-jsonschema")
    require_tool(judges.tool("npm-groovy-lint"), "npm-groovy-lint")
    gitlab = judges.check_jsonschema("vendor.gitlab-ci", [repo / ".gitlab-ci.mlci.yml"])
    assert gitlab.ok, gitlab.output
    (_, _, groovy_lint) = judges.JUDGES["jenkins"][0]
    groovy = groovy_lint([repo / "Jenkinsfile.mlci.groovy"])
    assert groovy.ok, groovy.output[-3000:]


def _host_path() -> str:
    # The shell executor uses the host: the python running these tests has this mlci installed.
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


@pytest.mark.judges
def test_gitlab_ci_local_runs_the_root_pipeline_and_the_changed_projects_pipeline(repo: Path) -> None:
    """A merge request changing one project: the root pipeline starts that project's child only.
    gitlab-ci-local runs trigger jobs, but hands the child the trigger job's variables unexpanded
    (GitLab expands them in the parent), so the child does not see the merge request's pipeline
    source there: the changed project's pipeline file is then run by itself, as the merge request's."""
    require_tool(judges.tool("gitlab-ci-local"), "gitlab-ci-local")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the projects and their pipelines")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "remote", "add", "origin", "https://gitlab.example.invalid/group/project.git")
    git(repo, "checkout", "-q", "-b", "change-iris-b")  # the merge request's source branch
    (repo / "projects" / "iris-b" / "NOTES.md").write_text("a change to one project\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change iris-b")

    root = judges.gitlab_ci_local(repo, {}, path=_host_path())
    assert root.ok, root.output[-6000:]
    ran = set(re.findall(r"^\s*PASS\s+(\S+)\s*$", root.output, re.M))
    assert ran == {"mlci-iris-b"}, root.output[-6000:]

    child = judges.gitlab_ci_local(repo, {}, path=_host_path(), file="projects/iris-b/.gitlab-ci.yml")
    assert child.ok, child.output[-6000:]
    assert re.search(r"^\s*PASS\s+policy-check\s*$", child.output, re.M), child.output[-6000:]
    assert "mlci render ../.. --root ../.. --check" in child.output
    assert "generated file(s) up to date" in child.output


def test_each_projects_pipeline_is_the_lifecycle_of_its_monorepo_placement(repo: Path) -> None:
    """The conformance parsers read every project's rendered pipeline (from where its CI reads
    it) back to the model built with the monorepo's placement: the Dockerfile and k8s/ in the
    project's folder, GitLab's child unfiltered (its root pipeline filters)."""
    from mlci.loader import load_spec
    from mlci.pipeline import Placement, build_pipeline
    from mlci.render.monorepo import check_args
    from tests.conformance.graph import differences
    from tests.conformance.test_conformance import PARSERS, expected_of

    compared = set()
    for folder in PROJECTS:
        spec = load_spec(repo / folder / "mlproject.yaml")
        args = tuple(check_args((".",), repo, repo / folder, ()))
        for parser in PARSERS:
            where = repo if parser.TARGET == "github" else repo / folder
            placement = Placement(folder, args, folder, path_filtered=parser.TARGET != "gitlab")
            pipeline = build_pipeline(spec, placement)
            assert pipeline.generated("Dockerfile") == f"{folder}/Dockerfile"
            try:
                got = parser.read(where, pipeline)
            except FileNotFoundError:
                continue  # the project does not ask for this CI
            problems = differences(expected_of(parser, pipeline), got)
            assert not problems, f"{folder} {parser.TARGET}: " + "\n".join(problems)
            compared.add(parser.TARGET)
            if parser.TARGET in CI_FILE:
                # Every deployment works in the overlay the model places (the folder's, not the root's).
                text = (where / CI_FILE[parser.TARGET].format(name=pipeline.project)).read_text()
                for promotion in pipeline.promotions:
                    assert pipeline.generated(f"k8s/overlays/{promotion.environment}") in text
    assert {"github", "gitlab"} <= compared
