"""`mlci check`: schema, then the governance policies on a chosen engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlci.commands.common import Outcome, load_and_validate
from mlci.policy.engines import ENGINES, PolicyEngine
from mlci.policy.evaluate import evaluate_specs
from mlci.policy.pack import PolicyPack, load_pack


@dataclass(frozen=True)
class CheckOptions:
    engine: str = "embedded"
    policy_dirs: tuple[Path, ...] = ()
    data_files: tuple[Path, ...] = ()
    today: str = ""
    opa_url: str | None = None
    opa_upload: bool = True


def make_engine(options: CheckOptions) -> PolicyEngine:
    if options.opa_url:
        return ENGINES["opa"](options.opa_url, upload=options.opa_upload)
    return ENGINES[options.engine]()


def run_check(
    paths: tuple[str, ...], options: CheckOptions, engine: PolicyEngine | None = None
) -> tuple[Outcome, PolicyPack]:
    outcome = load_and_validate(paths)
    pack = load_pack(options.policy_dirs, options.data_files)
    if outcome.specs:
        engine = engine or make_engine(options)
        outcome.findings.extend(evaluate_specs(engine, pack, outcome.specs, options.today))
    return outcome, pack
