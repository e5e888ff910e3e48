"""What each CI can enforce of the lifecycle, and what it cannot.

Every printer declares its CI's `Capabilities`; `gaps` compares them with the pipeline and
returns, per environment, what the spec asks that the CI will not enforce, as findings at
the spec's line. `mlci render` reports them: a comment in a generated file is not enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.pipeline.model import Pipeline, Promotion

RULE_ID = "render-unenforced"


@dataclass(frozen=True)
class Capabilities:
    ci: str  # as the user knows it: "GitHub Actions"
    # Distinct approvals one environment can require; None: as many as the spec asks.
    max_required_approvals: int | None
    # Approvers one environment can name; None: any number.
    max_approvers: int | None
    # Whether the CI can keep whoever started the run from approving it.
    prevents_self_approval: bool
    # Whether a wait after the approval is expressible.
    wait_timer: bool
    # Where the approval rules live when the generated file cannot hold them (None: in the file).
    approvals_outside_file: str | None = None
    # Whether mlci renders those rules in a form the CI reads (GitHub's environment settings).
    approvals_rendered: bool = True
    # Whether an approval needs named approvers (GitHub: required reviewers).
    approvals_need_approvers: bool = False
    # Whether a job can wait for a person to start it (GitLab `when: manual`); without, a job a
    # person starts runs only in runs a person starts.
    manual_jobs: bool = True
    # Whether the schedules are in the generated file (GitLab keeps them in project settings).
    schedules_in_file: bool = True


def gaps(pipeline: Pipeline, capabilities: Capabilities, spec: Spec) -> list[Finding]:
    findings: list[Finding] = []
    for promotion in pipeline.promotions:
        findings.extend(_promotion_gaps(promotion, capabilities, spec))
    return findings


def _promotion_gaps(promotion: Promotion, caps: Capabilities, spec: Spec) -> list[Finding]:
    approval = promotion.approval
    env = promotion.environment
    here = ("environments", promotion.index, "approvals")
    found: list[Finding] = []

    def add(path: tuple[str | int, ...], severity: Severity, message: str) -> None:
        found.append(
            Finding.at(
                spec.location(path),
                rule_id=RULE_ID,
                severity=severity,
                message=message,
                path=path,
                source="render",
                title=f"{caps.ci} cannot enforce this",
            )
        )

    if not promotion.protected:
        if approval.wait_timer_minutes and not caps.wait_timer:
            add((*here, "wait_timer_minutes"), Severity.LOW, f"{caps.ci} cannot wait before deploying to {env}")
        return found
    limit = caps.max_required_approvals
    if limit is not None and promotion.effective_approvals > limit:
        add(
            (*here, "required"),
            Severity.LOW,
            f"environment {env}: the spec asks for {approval.required} distinct approvals, but {caps.ci} "
            f"deploys on {limit}; the others are not enforced",
        )
    if caps.max_approvers is not None and len(approval.approvers) > caps.max_approvers:
        add(
            (*here, "approvers"),
            Severity.LOW,
            f"environment {env}: {caps.ci} accepts at most {caps.max_approvers} reviewers; "
            f"only the first {caps.max_approvers} of {len(approval.approvers)} can approve",
        )
    if caps.approvals_need_approvers and approval.required and not approval.approvers:
        add(
            (*here, "required"),
            Severity.LOW,
            f"environment {env}: {caps.ci} requires a review only from named reviewers, and the spec names "
            "no approvers: list them in approvals.approvers",
        )
    if approval.separation_of_duties and not caps.prevents_self_approval:
        add(
            (*here, "separation_of_duties"),
            Severity.LOW,
            f"environment {env}: {caps.ci} cannot keep whoever started the run from approving it",
        )
    if approval.wait_timer_minutes and not caps.wait_timer:
        add(
            (*here, "wait_timer_minutes"),
            Severity.LOW,
            f"environment {env}: {caps.ci} cannot wait {approval.wait_timer_minutes} minutes after the approval",
        )
    if caps.approvals_outside_file:
        add(
            here if spec.positions.get(here) else ("environments", promotion.index),
            Severity.INFO,
            f"environment {env}: {caps.ci} keeps approval rules outside the pipeline file; "
            f"they hold only once applied: {caps.approvals_outside_file}",
        )
    return found
