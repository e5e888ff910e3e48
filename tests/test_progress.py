"""Progress on a terminal for multi-project runs (never in logs, pipes or CI), and colour on a
terminal that respects NO_COLOR; both observed through a real pseudo-terminal."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.progress import Progress, colour_text_report
from tests.conftest import FIXTURES, ROOT, copy_spec

CLEAR = "\r\x1b[K"
RED_BOLD = "\x1b[1;31m"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Three projects, one of them with a high finding."""
    for name in ("credit-risk", "iris-classifier"):
        copy_spec(ROOT / "examples" / name / "mlproject.yaml", tmp_path / name)
    # A project name of its own: rendered together, the three form a monorepo (one workflow per name).
    source = FIXTURES / "policy" / "MLCI-LIN-001.yaml"
    renamed = source.read_text().replace("name: iris-classifier", "name: pinned", 1)
    copy_spec(source, tmp_path / "pinned-latest", renamed)
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR", "FORCE_COLOR", "TERM")}
    return {**env, "TERM": "xterm-256color", **extra}


def _on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run mlci with stdout and stderr on a pseudo-terminal; everything the terminal received."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlci", *args],
        cwd=cwd,
        env=env,
        stdout=follower,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


CHECK = ["check", ".", "--now", "2026-11-22"]


def test_terminal_gets_progress_and_colour(tree: Path) -> None:
    code, seen = _on_terminal(CHECK, tree, _env())
    assert code == 1
    assert f"{CLEAR}mlci: loading specs 0/3" in seen and "mlci: loading specs 3/3" in seen
    assert "checking 3 project(s) against the policies" in seen
    # The line is cleared before the report: the report's lines start clean.
    report_start = seen.index("pinned-latest/mlproject.yaml:")
    assert seen[:report_start].endswith(CLEAR)
    assert "\x1b[31mhigh\x1b[0m MLCI-LIN-001" in seen
    assert f"{RED_BOLD}mlci check: 1 failing\x1b[0m" in seen


def test_render_shows_progress_too(tree: Path) -> None:
    code, seen = _on_terminal(["render", "."], tree, _env())
    assert code == 0, seen
    # A monorepo: the three projects' files, the root's files of each, and the root pipelines.
    assert "mlci: rendering 3/3" in seen and "mlci: writing 7/7" in seen


@pytest.mark.parametrize("variable", ["CI", "NO_COLOR"])
def test_ci_hides_progress_and_no_color_hides_colour(tree: Path, variable: str) -> None:
    code, seen = _on_terminal(CHECK, tree, _env(**{variable: "true"}))
    assert code == 1
    if variable == "CI":
        assert "loading specs" not in seen and CLEAR not in seen
        assert "\x1b[31mhigh" in seen  # colour still follows the terminal
    else:
        assert "loading specs" in seen
        assert "\x1b[31m" not in seen and "\x1b[0m" not in seen


def test_one_project_shows_no_progress(tree: Path) -> None:
    code, seen = _on_terminal(["check", "pinned-latest", "--now", "2026-11-22"], tree, _env())
    assert code == 1
    assert CLEAR not in seen and "loading specs" not in seen


def test_pipes_get_neither(tree: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlci", *CHECK], cwd=tree, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr == ""
    assert "\x1b[" not in result.stdout


def test_force_color_colours_a_pipe_but_no_color_wins(tree: Path) -> None:
    forced = subprocess.run(
        [sys.executable, "-m", "mlci", *CHECK], cwd=tree, env=_env(FORCE_COLOR="1"), capture_output=True, text=True
    )
    assert "\x1b[31mhigh\x1b[0m" in forced.stdout and forced.stderr == ""
    both = subprocess.run(
        [sys.executable, "-m", "mlci", *CHECK],
        cwd=tree,
        env=_env(FORCE_COLOR="1", NO_COLOR="1"),
        capture_output=True,
        text=True,
    )
    assert "\x1b[" not in both.stdout


def test_redraws_are_throttled() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(stream, clock=lambda: now[0])
    progress.phase("loading specs", 1000)
    for _ in range(999):
        progress.advance()
    assert stream.getvalue().count(CLEAR) == 1  # no time passed: only the phase's first frame
    now[0] = 0.5
    progress.advance()  # the last item always shows
    progress.close()
    assert stream.getvalue().count(CLEAR) == 3
    assert stream.getvalue().endswith(f"1000/1000{CLEAR}")


def test_colour_marks_severity_waived_and_summary() -> None:
    report = (
        "a.yaml:1:2: critical R-1 bad\n    fix: do x\n"
        "a.yaml:3:4: high R-2 (waived) meh\nmlci check: 1 failing, 1 waived\n"
    )
    coloured = colour_text_report(report)
    assert "a.yaml:1:2: \x1b[1;31mcritical\x1b[0m R-1 bad\n" in coloured
    assert "\x1b[2m    fix: do x\x1b[0m\n" in coloured
    assert "a.yaml:3:4: \x1b[2mhigh\x1b[0m R-2 (waived) meh\n" in coloured
    assert coloured.endswith("\x1b[1;31mmlci check: 1 failing, 1 waived\x1b[0m\n")
    assert colour_text_report("mlci check: no findings\n") == "\x1b[32mmlci check: no findings\x1b[0m\n"
