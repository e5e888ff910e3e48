"""Governance a data-protection officer would sign: specs that meet every obligation
pass on every engine (no false alarm), and a secret is reported where it is,
never repeated."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import FIXTURES, copy_spec, require_tool

COMPLIANT = sorted((FIXTURES / "policy-compliant").glob("*.yaml"))
SECRET_FIXTURES = sorted((FIXTURES / "policy").glob("MLCI-SUP-002*.yaml"))
TODAY = "2026-11-22"


def _check(cli, path: Path, *extra: str) -> tuple[int, list[dict]]:
    result = cli("check", str(path), "--now", TODAY, "-o", "json", *extra)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)["findings"]


@pytest.mark.parametrize("spec", COMPLIANT, ids=[p.stem for p in COMPLIANT])
def test_a_compliant_spec_has_no_findings(cli, spec: Path) -> None:
    code, findings = _check(cli, spec)
    assert findings == []
    assert code == 0


@pytest.mark.opa
@pytest.mark.parametrize("spec", COMPLIANT, ids=[p.stem for p in COMPLIANT])
def test_a_compliant_spec_has_no_findings_on_opa(cli, spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opa = require_tool(judges.tool("opa"), "opa")
    monkeypatch.setenv("PATH", f"{Path(opa).parent}:{os.environ['PATH']}")
    code, findings = _check(cli, spec, "--engine", "opa")
    assert findings == []
    assert code == 0


def _secret_in(fixture: Path) -> str:
    """The literal the fixture plants: the value on its expected line."""
    line = int(re.match(r"# expect: \S+ (\d+)", fixture.read_text())[1])  # type: ignore[index]
    text = fixture.read_text().splitlines()[line - 1]
    if "[" in text:  # a flow list: the last item
        return text.rsplit(",", 1)[1].strip(" ]")
    return text.split(":", 1)[1].strip()


@pytest.mark.parametrize("fixture", SECRET_FIXTURES, ids=[p.stem for p in SECRET_FIXTURES])
def test_a_secret_finding_says_where_but_never_what(cli, fixture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(fixture.parent)
    secret = _secret_in(fixture)
    for output in ("text", "json", "sarif"):
        result = cli("check", fixture.name, "--now", TODAY, "-o", output)
        assert result.exit_code == 1
        assert "MLCI-SUP-002" in result.stdout
        assert secret not in result.stdout
        if "://" in secret:
            assert secret.split("://", 1)[1].split("@")[0] not in result.stdout


def test_azure_gcp_and_aws_regions_are_all_valid_and_mapped(cli, tmp_path: Path) -> None:
    base = (FIXTURES / "policy-compliant" / "azure-regions.yaml").read_text()
    for dataset, served, jurisdiction_differs in [
        ("germanywestcentral", "europe-west4", False),
        ("eu-west-1", "swedencentral", False),
        ("eu-west-1", "eu-west-2", True),  # London is the UK, not the EU
        ("westeurope", "eastus2", True),
    ]:
        text = base.replace("region: germanywestcentral\n    anonymisation", f"region: {dataset}\n    anonymisation")
        text = text.replace("region: germanywestcentral\n    replicas", f"region: {served}\n    replicas")
        spec = copy_spec(FIXTURES / "policy-compliant" / "azure-regions.yaml", tmp_path / f"{dataset}-{served}", text)
        code, findings = _check(cli, spec)
        assert [f["rule_id"] for f in findings] == (["MLCI-GDPR-004"] if jurisdiction_differs else []), findings
        assert code == (1 if jurisdiction_differs else 0)
