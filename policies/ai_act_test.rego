# Unit tests for data.mlci.ai_act.
#
# Tests replace parts of the input (with input.governance as ...), never the whole
# input: regopy 1.5.2 crashes on `with input as {...}` when the rule under test
# calls a builtin.
package mlci.ai_act_test

import rego.v1

import data.mlci.ai_act

high_risk := {
	"risk_class": "high",
	"intended_purpose": "Creditworthiness assessment of consumer loan applicants.",
	"annex_iii_area": "essential_services",
	"log_retention": "P1Y",
	"stop_procedure": "docs/stop.md",
	"post_market_monitoring": "docs/pmm.md",
}

governance := {"risk": "high", "model_card": "docs/model_card.md", "dpia": "DPIA-1", "ai_act": high_risk}

gates := [{"metric": "roc_auc", "threshold": 0.8}, {"metric": "auc_under_noise", "threshold": 0.7}]

production_env := {"name": "production", "tier": "production", "approvals": {"required": 2}}

# obj with the keys of changes replaced, not merged (object.union merges nested
# objects in OPA but not in regopy 1.5.2, so tests never rely on the merge).
patched(obj, changes) := object.union(object.remove(obj, object.keys(changes)), changes)

with_ai_act(changes) := patched(governance, {"ai_act": patched(high_risk, changes)})

without_ai_act(keys) := patched(governance, {"ai_act": object.remove(high_risk, keys)})

paths(violations) := {v.path | some v in violations}

all_findings := ((((ai_act.classification_consistent | ai_act.technical_documentation_required) | ai_act.record_keeping_required) | ai_act.human_oversight_required) | ai_act.accuracy_and_robustness_gated) | ai_act.post_market_monitoring_required

test_complete_high_risk_system_passes if {
	gov := governance
	g := gates
	count(all_findings) == 0 with input.governance as gov with input.evaluation as {"gates": g}
		with input.environments as [production_env]
}

test_minimal_risk_system_has_no_obligations if {
	gov := {"risk": "minimal", "ai_act": {"risk_class": "minimal"}}
	count(all_findings) == 0 with input.governance as gov with input.evaluation as {"gates": []}
}

# MLCI-AIA-001

test_missing_intended_purpose_fails if {
	gov := without_ai_act(["intended_purpose"])
	violations := ai_act.classification_consistent with input.governance as gov
	paths(violations) == {["governance", "ai_act", "intended_purpose"]}
}

test_annex_iii_area_makes_the_system_high_risk if {
	gov := with_ai_act({"risk_class": "limited"})
	violations := ai_act.classification_consistent with input.governance as gov
	paths(violations) == {["governance", "ai_act", "risk_class"]}
}

test_governance_risk_disagrees_fails if {
	gov := patched(governance, {"risk": "minimal"})
	violations := ai_act.classification_consistent with input.governance as gov
	paths(violations) == {["governance", "risk"]}
}

# MLCI-AIA-002

test_missing_model_card_fails if {
	gov := object.remove(governance, ["model_card"])
	violations := ai_act.technical_documentation_required with input.governance as gov
	paths(violations) == {["governance", "model_card"]}
}

# MLCI-AIA-003

test_log_retention_six_months_passes if {
	gov := with_ai_act({"log_retention": "P6M"})
	count(ai_act.record_keeping_required) == 0 with input.governance as gov
}

test_log_retention_too_short_fails if {
	gov := with_ai_act({"log_retention": "P90D"})
	violations := ai_act.record_keeping_required with input.governance as gov
	paths(violations) == {["governance", "ai_act", "log_retention"]}
}

test_log_retention_missing_fails if {
	gov := without_ai_act(["log_retention"])
	violations := ai_act.record_keeping_required with input.governance as gov
	paths(violations) == {["governance", "ai_act", "log_retention"]}
}

# MLCI-AIA-004

test_missing_stop_procedure_fails if {
	gov := without_ai_act(["stop_procedure"])
	violations := ai_act.human_oversight_required with input.governance as gov with input.environments as [production_env]
	paths(violations) == {["governance", "ai_act", "stop_procedure"]}
}

test_production_without_human_approval_fails if {
	gov := governance
	env := object.remove(production_env, ["approvals"])
	violations := ai_act.human_oversight_required with input.governance as gov with input.environments as [env]
	paths(violations) == {["environments", 0, "approvals"]}
}

test_placeholder_declarations_declare_nothing if {
	ai := with_ai_act({"intended_purpose": "TBD", "stop_procedure": "todo", "post_market_monitoring": "-"})
	gov := patched(ai, {"model_card": "n/a"})
	{v.path | some v in ai_act.classification_consistent} == {["governance", "ai_act", "intended_purpose"]} with input.governance as gov
	{v.path | some v in ai_act.technical_documentation_required} == {["governance", "model_card"]} with input.governance as gov
	{v.path | some v in ai_act.human_oversight_required} == {["governance", "ai_act", "stop_procedure"]} with input.governance as gov
	{v.path | some v in ai_act.post_market_monitoring_required} == {["governance", "ai_act", "post_market_monitoring"]} with input.governance as gov
}

# MLCI-AIA-005

test_no_robustness_gate_fails if {
	gov := governance
	violations := ai_act.accuracy_and_robustness_gated with input.governance as gov
		with input.evaluation as {"gates": [{"metric": "f1_macro", "threshold": 0.8}]}
	some v in violations
	contains(v.msg, "robustness")
	count(violations) == 1
}

test_accuracy_metrics_of_every_field_count if {
	gov := governance
	every metric in ["auroc", "AUPRC", "smape", "wmape", "rmsle", "r_squared", "ks_statistic", "wer", "val_loss", "miou", "top5_accuracy"] {
		gates := [{"metric": metric, "threshold": 0.5}, {"metric": "robust_accuracy", "threshold": 0.5}]
		count(ai_act.accuracy_and_robustness_gated) == 0 with input.governance as gov with input.evaluation as {"gates": gates}
	}
}

test_robustness_metrics_by_their_usual_names_count if {
	gov := governance
	every metric in ["kappa_under_typos", "attack_success_rate", "accuracy_blurred", "occluded_map", "f1_missing_features", "shift_invariance"] {
		gates := [{"metric": "accuracy", "threshold": 0.5}, {"metric": metric, "threshold": 0.5}]
		count(ai_act.accuracy_and_robustness_gated) == 0 with input.governance as gov with input.evaluation as {"gates": gates}
	}
}

test_no_accuracy_gate_fails if {
	gov := governance
	gates := [{"metric": "perturbed_latency_ms", "threshold": 50}, {"metric": "demographic_parity_difference", "threshold": 0.1}]
	violations := ai_act.accuracy_and_robustness_gated with input.governance as gov with input.evaluation as {"gates": gates}
	some v in violations
	contains(v.msg, "accuracy")
	count(violations) == 1
}

test_no_gates_fail_twice if {
	gov := governance
	violations := ai_act.accuracy_and_robustness_gated with input.governance as gov with input.evaluation as {"gates": []}
	count(violations) == 2
}

# MLCI-AIA-006

test_missing_post_market_plan_fails if {
	gov := without_ai_act(["post_market_monitoring"])
	violations := ai_act.post_market_monitoring_required with input.governance as gov
	paths(violations) == {["governance", "ai_act", "post_market_monitoring"]}
}

# MLCI-AIA-007

test_unacceptable_risk_fails if {
	gov := {"ai_act": {"risk_class": "unacceptable"}}
	violations := ai_act.prohibited_practice with input.governance as gov
	paths(violations) == {["governance", "ai_act", "risk_class"]}
}
