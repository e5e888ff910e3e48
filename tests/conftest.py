"""Shared fixtures: the CLI runner, the examples, and the independent judges."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import Phase, settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/mlproject.yaml"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Property tests (tests/test_properties.py): `ci` is small and replays the same examples on every
# run; MLCI_HYPOTHESIS_PROFILE=long searches ~50x harder with fresh random examples.
# The ci profile has no deadline (a loaded CI machine is no bug); the tests bound each mlci run themselves.
# No shrinking in ci: a failure is reported as found (with its blob) instead of minutes of shrinking
# and explaining; the long profile shrinks.
settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.register_profile("long", max_examples=3000, deadline=60_000, print_blob=True)
settings.load_profile(os.environ.get("MLCI_HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden from the current renderers.")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> Result:
    """Run mlci in-process exactly as the console script does (main() is the error boundary)."""

    runner = CliRunner()
    result = runner.invoke(_MainCommand(), list(args), catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


class _MainCommand:
    """Adapter so CliRunner drives `mlci.cli.main`, the real entry point with its exit codes."""

    name = "mlci"

    def main(self, args: list[str], prog_name: str | None = None, **_: object) -> None:
        from mlci.cli import main

        main(list(args))


@pytest.fixture(autouse=True)
def _private_decision_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets an empty decision cache of its own (never the user's ~/.cache/mlci),
    so no test passes on a decision another one left behind."""
    folder = tmp_path_factory.mktemp("mlci-cache")
    monkeypatch.setenv("MLCI_CACHE_DIR", str(folder))
    monkeypatch.delenv("MLCI_CACHE_SECRET", raising=False)
    return folder


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(params=EXAMPLES, ids=[p.name for p in EXAMPLES])
def example(request: pytest.FixtureRequest) -> Path:
    return request.param


def validators_prefix() -> Path:
    return Path(os.environ.get("MLCI_VALIDATORS", ROOT / ".validators")).resolve()


def require_tool(path: Path | None, name: str) -> str:
    """The tool's path; skip when absent locally, fail in CI (MLCI_REQUIRE_JUDGES=1)."""
    if path is not None and path.exists():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed: run scripts/install-validators"
    if os.environ.get("MLCI_REQUIRE_JUDGES"):
        pytest.fail(message)
    pytest.skip(message)


def copy_spec(source: Path, folder: Path, text: str | None = None) -> Path:
    """Copy a spec (or write `text` in its place) into `folder` with the documents it references
    (model card, erasure procedure, DPIA...: MLCI-EVI-001 requires them to exist), so that a test
    that moves a spec elsewhere does not lose its evidence. Returns the written spec."""
    from ruamel.yaml import YAML

    from mlci.policy.facts import DOCUMENTS, document_path

    folder.mkdir(parents=True, exist_ok=True)
    body = source.read_text(encoding="utf-8") if text is None else text
    target = folder / "mlproject.yaml"
    target.write_text(body, encoding="utf-8")
    data = YAML(typ="safe").load(body)
    for keys, path_only in DOCUMENTS:
        value = data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, str) or not (path_only or document_path(value)):
            continue
        document = source.parent / value
        if document.is_file() and not (folder / value).exists():
            (folder / value).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(document, folder / value)
    return target
