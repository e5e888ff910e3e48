# Unit tests for data.mlci.evaluation.
#
# Tests replace parts of the input (with input.evaluation as ...), never the whole
# input: regopy 1.5.2 crashes on `with input as {...}` when the rule under test
# calls a builtin.
# Values given with `with` are local variables or expressions, never a bare rule
# name: regopy 1.5.2 ignores `with input.x as some_rule`.
package mlci.evaluation_test

import rego.v1

import data.mlci.evaluation

accuracy_gate := {"metric": "accuracy", "threshold": 0.9, "direction": "higher"}

fairness_gate := {"metric": "equalized_odds_difference", "threshold": 0.1, "direction": "lower"}

sensitive_ds := {"name": "applications", "personal_data": true, "sensitive_attributes": ["gender", "age"]}

paths(violations) := {v.path | some v in violations}

# obj with the keys of changes replaced, not merged (object.union merges nested
# objects in OPA but not in regopy 1.5.2, so tests never rely on the merge).
patched(obj, changes) := object.union(object.remove(obj, object.keys(changes)), changes)

# MLCI-EVAL-001 evaluation_gates_required

test_gates_present_passes if {
	count(evaluation.evaluation_gates_required) == 0 with input.evaluation as {"gates": [accuracy_gate]}
}

test_no_gates_fails if {
	violations := evaluation.evaluation_gates_required with input.evaluation as {"command": ["python", "evaluate.py"], "gates": []}
	paths(violations) == {["evaluation", "gates"]}
}

test_no_evaluation_section_fails if {
	violations := evaluation.evaluation_gates_required with input.model as {"name": "m"}
	paths(violations) == {["evaluation"]}
}

test_no_gates_with_environments_left_to_approvals if {
	count(evaluation.evaluation_gates_required) == 0 with input.evaluation as {"gates": []}
		with input.environments as [{"name": "staging", "tier": "staging"}]
}

# MLCI-EVAL-002 fairness_gate_required

test_fairness_gate_present_passes if {
	count(evaluation.fairness_gate_required) == 0 with input.datasets as [sensitive_ds]
		with input.evaluation as {"gates": [accuracy_gate, fairness_gate]}
}

test_fairness_gate_not_needed_without_sensitive_attributes if {
	count(evaluation.fairness_gate_required) == 0 with input.datasets as [{"name": "iris", "sensitive_attributes": []}]
		with input.evaluation as {"gates": [accuracy_gate]}
}

test_fairness_metrics_of_every_toolkit_count if {
	every metric in [
		"demographic_parity_ratio", "statistical_parity_difference", "equal_opportunity_difference",
		"average_odds_difference", "false_positive_rate_difference", "tpr_gap", "Equalised_Odds_Ratio",
		"selection_rate_ratio", "dp_diff",
	] {
		gates := [accuracy_gate, {"metric": metric, "threshold": 0.1, "direction": "lower"}]
		count(evaluation.fairness_gate_required) == 0 with input.datasets as [sensitive_ds]
			with input.evaluation as {"gates": gates}
	}
}

test_accuracy_gates_are_no_fairness_gate if {
	gates := [accuracy_gate, {"metric": "false_positive_rate", "threshold": 0.1}, {"metric": "recall_difference_vs_champion", "threshold": 0.1}]
	count(evaluation.fairness_gate_required) == 1 with input.datasets as [sensitive_ds]
		with input.evaluation as {"gates": gates}
}

test_fairness_gate_missing_fails if {
	violations := evaluation.fairness_gate_required with input.datasets as [sensitive_ds]
		with input.evaluation as {"gates": [accuracy_gate]}
	paths(violations) == {["evaluation", "gates"]}
	some v in violations
	contains(v.msg, "age, gender")
}

test_fairness_gate_missing_without_gates_fails if {
	violations := evaluation.fairness_gate_required with input.datasets as [sensitive_ds]
	paths(violations) == {["evaluation"]}
}
