"""The decision cache answers an unchanged project without evaluating it again, and a
cache entry that was corrupted, renamed, forged or planted is a miss, never a pass."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, copy_spec

FAILING = FIXTURES / "policy" / "MLCI-EVAL-001.yaml"  # one finding, MLCI-EVAL-001
TODAY = "2026-11-22"


def _project(tmp_path: Path, source: Path = FAILING, name: str = "p") -> Path:
    return copy_spec(source, tmp_path / name)


def _check(spec: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlci", "check", str(spec), "--now", TODAY, "-o", "json", *extra],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _rule_ids(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [f["rule_id"] for f in json.loads(proc.stdout)["findings"]]


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "decisions-v2").glob("*.json"))


def _forge(entry: Path, findings: list[object], key: str | None = None) -> None:
    """Rewrite an entry with a valid unkeyed digest, as anyone with write access could."""
    reads = json.loads(entry.read_bytes().partition(b"\n")[2])["reads"] if entry.exists() else []
    payload = json.dumps(
        {"format": "mlci-decision-cache/2", "key": key or entry.stem, "findings": findings, "reads": reads},
        sort_keys=True,
    ).encode()
    entry.write_bytes(b"sha256:" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)


@pytest.fixture
def cache_dir() -> Path:
    return Path(os.environ["MLCI_CACHE_DIR"])


def test_a_second_run_is_answered_from_the_cache_without_loading_the_engine(tmp_path: Path, cache_dir: Path) -> None:
    spec = _project(tmp_path)
    first = _check(spec)
    assert first.returncode == 1 and _rule_ids(first) == ["MLCI-EVAL-001"]
    [entry] = _entries(cache_dir)
    probe = (
        "import sys\nfrom mlci.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('EXIT', code, 'REGOPY', 'regopy' in sys.modules, file=sys.stderr)\n"
    )
    second = subprocess.run(
        [sys.executable, "-c", probe, "check", str(spec), "--now", TODAY, "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "EXIT 1 REGOPY False" in second.stderr
    assert json.loads(second.stdout)["findings"] == json.loads(first.stdout)["findings"]
    # The answer really comes from the entry: an entry rewritten consistently is believed.
    stored = json.loads(entry.read_bytes().partition(b"\n")[2])["findings"]
    stored[0]["message"] = "read from the cache"
    _forge(entry, stored)
    assert json.loads(_check(spec).stdout)["findings"][0]["message"] == "read from the cache"


def test_no_cache_evaluates_and_stores_nothing(tmp_path: Path, cache_dir: Path) -> None:
    spec = _project(tmp_path)
    assert _check(spec, "--no-cache").returncode == 1
    assert _entries(cache_dir) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: raw.replace(b"MLCI-EVAL-001", b"MLCI-EVAL-002"), id="edited-without-digest"),
        pytest.param(lambda raw: raw.partition(b"\n")[2], id="digest-removed"),
        pytest.param(lambda raw: b"\xff\xfe" + raw, id="garbage"),
    ],
)
def test_a_damaged_entry_is_a_miss_and_is_replaced(tmp_path: Path, cache_dir: Path, damage) -> None:
    spec = _project(tmp_path)
    assert _check(spec).returncode == 1
    [entry] = _entries(cache_dir)
    good = entry.read_bytes()
    entry.write_bytes(damage(good))
    again = _check(spec)
    assert again.returncode == 1 and _rule_ids(again) == ["MLCI-EVAL-001"]
    assert entry.read_bytes() == good


def test_a_forged_passing_entry_is_refused_when_entries_are_signed(tmp_path: Path, cache_dir: Path) -> None:
    signed = {"MLCI_CACHE_SECRET": "kept-from-pull-requests"}
    spec = _project(tmp_path)
    assert _check(spec, env=signed).returncode == 1
    [entry] = _entries(cache_dir)
    assert entry.read_bytes().startswith(b"hmac-sha256:")
    _forge(entry, [])  # "no findings", with a digest anyone can compute
    again = _check(spec, env=signed)
    assert again.returncode == 1 and _rule_ids(again) == ["MLCI-EVAL-001"]


def test_a_passing_entry_copied_to_a_failing_specs_key_is_a_miss(tmp_path: Path, cache_dir: Path) -> None:
    passing = _project(tmp_path, ROOT / "examples" / "iris-classifier" / "mlproject.yaml", "good")
    assert _check(passing).returncode == 0
    [good_entry] = _entries(cache_dir)
    failing = _project(tmp_path, FAILING, "bad")
    assert _check(failing).returncode == 1
    [bad_entry] = [e for e in _entries(cache_dir) if e != good_entry]
    bad_entry.write_bytes(good_entry.read_bytes())  # its digest is valid, its key is another spec's
    again = _check(failing)
    assert again.returncode == 1 and _rule_ids(again) == ["MLCI-EVAL-001"]


def test_a_symlink_planted_at_an_entry_is_neither_read_nor_written_through(tmp_path: Path, cache_dir: Path) -> None:
    spec = _project(tmp_path)
    assert _check(spec).returncode == 1
    [entry] = _entries(cache_dir)
    decoy = tmp_path / "decoy.json"
    _forge(entry, [])
    decoy.write_bytes(entry.read_bytes())  # a valid "no findings" entry, behind a symlink
    entry.unlink()
    entry.symlink_to(decoy)
    before = decoy.read_bytes()
    again = _check(spec)
    assert again.returncode == 1 and _rule_ids(again) == ["MLCI-EVAL-001"]
    assert decoy.read_bytes() == before
    assert not entry.is_symlink()


def test_the_key_covers_the_date_the_policy_data_and_the_policies(tmp_path: Path, cache_dir: Path) -> None:
    spec = _project(tmp_path, ROOT / "examples" / "iris-classifier" / "mlproject.yaml")
    assert _check(spec).returncode == 0
    # Stricter policy data: the cached pass for the default settings must not answer.
    data = tmp_path / "strict.json"
    data.write_text(json.dumps({"min_production_approvers": 9}), encoding="utf-8")
    stricter = _check(spec, "--data", str(data))
    assert stricter.returncode == 1 and "MLCI-APR-001" in _rule_ids(stricter)
    # An organisation policy added after the cached pass applies at once.
    policies = tmp_path / "org"
    policies.mkdir()
    (policies / "org.rego").write_text(
        'package mlci.org\nimport rego.v1\ndeny contains {"msg": "org rule"} if { input.project.name }\n',
        encoding="utf-8",
    )
    org = _check(spec, "--policies", str(policies))
    assert org.returncode == 1 and "mlci.org.deny" in _rule_ids(org)
    # Another day is another key.
    count = len(_entries(cache_dir))
    assert _check(spec, "--now", "2026-11-23").returncode == 0
    assert len(_entries(cache_dir)) == count + 1


def test_an_engine_error_is_not_cached(tmp_path: Path, cache_dir: Path) -> None:
    spec = _project(tmp_path, ROOT / "examples" / "iris-classifier" / "mlproject.yaml")
    policies = tmp_path / "broken"
    policies.mkdir()
    # A built-in that fails while deciding: the engine cannot decide (exit 3), so nothing is cached.
    (policies / "broken.rego").write_text(
        'package mlci.broken\nimport rego.v1\ndeny contains x if { x := to_number("x") }\n', encoding="utf-8"
    )
    for _ in range(2):
        assert _check(spec, "--policies", str(policies)).returncode == 3
    assert _entries(cache_dir) == []


def test_the_cache_follows_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCI_CACHE_DIR")
    spec = _project(tmp_path)
    assert _check(spec, env={"XDG_CACHE_HOME": str(tmp_path / "xdg")}).returncode == 1
    assert len(_entries(tmp_path / "xdg" / "mlci")) == 1


def _iris(tmp_path: Path) -> Path:
    """The iris example with the files its facts read: requirements.txt and the model card."""
    folder = tmp_path / "iris"
    folder.mkdir()
    source = ROOT / "examples" / "iris-classifier"
    for name in ("mlproject.yaml", "requirements.txt"):
        (folder / name).write_bytes((source / name).read_bytes())
    (folder / "docs").mkdir()
    (folder / "docs" / "model_card.md").write_text("# Model card\n", encoding="utf-8")
    return folder / "mlproject.yaml"


def test_a_hit_is_not_served_after_the_requirements_file_changes(tmp_path: Path, cache_dir: Path) -> None:
    spec = _iris(tmp_path)
    assert _check(spec).returncode == 0
    assert _check(spec).returncode == 0  # answered from the cache
    requirements = spec.parent / "requirements.txt"
    requirements.write_text(requirements.read_text(encoding="utf-8") + "requests>=2\n", encoding="utf-8")
    changed = _check(spec)
    assert changed.returncode == 1 and "MLCI-SUP-006" in _rule_ids(changed)
    requirements.unlink()  # gone: the facts say so, and the decision follows them
    assert "MLCI-SUP-006" not in _rule_ids(_check(spec))


def test_a_hit_is_not_served_after_a_referenced_document_vanishes(tmp_path: Path, cache_dir: Path) -> None:
    spec = _iris(tmp_path)
    policies = tmp_path / "org"
    policies.mkdir()
    (policies / "card.rego").write_text(
        "package mlci.card\nimport rego.v1\n"
        'deny contains {"msg": "no model card file"} if { not input.mlci_facts.documents["governance.model_card"] }\n',
        encoding="utf-8",
    )
    assert _check(spec, "--policies", str(policies)).returncode == 0
    (spec.parent / "docs" / "model_card.md").unlink()
    gone = _check(spec, "--policies", str(policies))
    assert gone.returncode == 1 and "mlci.card.deny" in _rule_ids(gone)
    # A link where the card was is no document either (facts never follow links).
    (spec.parent / "docs" / "model_card.md").symlink_to(tmp_path / "elsewhere.md")
    (tmp_path / "elsewhere.md").write_text("# card\n", encoding="utf-8")
    assert "mlci.card.deny" in _rule_ids(_check(spec, "--policies", str(policies)))


def test_a_changed_waivers_file_is_not_answered_by_the_old_decision(tmp_path: Path, cache_dir: Path) -> None:
    spec = _project(tmp_path)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers: []\n", encoding="utf-8")
    assert _check(spec, "--waivers", str(waivers)).returncode == 1
    waivers.write_text(
        "waivers:\n  - rule: MLCI-EVAL-001\n    path: '$.**'\n    reason: accepted for the pilot\n"
        "    approved_by: security-lead\n    expires: '2026-12-01'\n",
        encoding="utf-8",
    )
    again = _check(spec, "--waivers", str(waivers))
    statuses = {f["rule_id"]: f["status"] for f in json.loads(again.stdout)["findings"]}
    assert statuses.get("MLCI-EVAL-001") == "waived", again.stdout


def test_a_hit_imports_no_parser_validator_pack_or_engine(tmp_path: Path, cache_dir: Path) -> None:
    spec = _iris(tmp_path)
    assert _check(spec).returncode == 0
    probe = (
        "import sys\nfrom mlci.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
        "heavy = [m for m in ('ruamel.yaml', 'jsonschema', 'regopy', 'mlci.policy.pack', 'mlci.spec', 'mlci.schema')"
        " if m in sys.modules]\n"
        "print('EXIT', code, 'HEAVY', heavy, file=sys.stderr)\n"
    )
    command = ["check", str(spec), "--now", TODAY, "-o", "sarif"]
    hit = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, check=False)
    assert "EXIT 0 HEAVY []" in hit.stderr, hit.stderr
    # The rules' metadata (SARIF) comes from the cache too, the same as when evaluated.
    fresh = subprocess.run(
        [sys.executable, "-m", "mlci", *command, "--no-cache"], capture_output=True, text=True, check=False
    )
    assert json.loads(hit.stdout)["runs"][0]["tool"] == json.loads(fresh.stdout)["runs"][0]["tool"]
