"""The wheel carries schemas, policies and templates, and an installed mlci
finds them from anywhere; `check` and `render` never import scikit-learn."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_contains_the_data_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    names = set(zipfile.ZipFile(next(tmp_path.glob("mlci-*.whl"))).namelist())
    assert "mlci/_data/schemas/mlproject.schema.json" in names
    for folder in ("policies", "templates"):
        shipped = {n.split(f"mlci/_data/{folder}/", 1)[1] for n in names if n.startswith(f"mlci/_data/{folder}/")}
        on_disk = {p.relative_to(ROOT / folder).as_posix() for p in (ROOT / folder).rglob("*") if p.is_file()}
        assert shipped == on_disk, folder


def test_check_and_render_import_no_heavy_or_runtime_modules(tmp_path: Path) -> None:
    """`check` and `render` start fast: no scikit-learn, numpy, scipy, pyarrow, mlflow, nor the runtime commands."""
    example = ROOT / "examples" / "iris-classifier"
    probe = (
        "import sys\n"
        "from mlci.cli import main\n"
        "for args in (['check', sys.argv[1]], ['render', sys.argv[1], '--out', sys.argv[2]]):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, (args, exit.code)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'numpy', 'scipy', 'pyarrow',\n"
        "               'mlflow', 'sqlalchemy', 'alembic')\n"
        "               or m.startswith(('mlci.runtime', 'mlci.commands.drift', 'mlci.commands.lineage',\n"
        "                                'mlci.commands.gate', 'mlci.registry', 'mlci.commands.register',\n"
        "                                'mlci.commands.promote')))\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(example), str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
