# Evaluation checks: a model is released only through evaluation gates, including a
# fairness gate when the data carries sensitive attributes.
#
# Input: the mlproject.yaml spec as JSON. Every check is a partial set of
# {"msg", "path"} objects. Helpers are functions so that they never show up in
# data.mlci.evaluation.
package mlci.evaluation

import rego.v1

# METADATA
# title: The model has an evaluation gate
# description: >-
#   evaluation.gates must define at least one gate (metric, threshold, direction).
#   When the project deploys to environments, the missing gate is reported by
#   MLCI-APR-006 instead, so that it is reported once.
# custom:
#   id: MLCI-EVAL-001
#   severity: high
#   controls:
#     - EU AI Act Art. 15
#   remediation: Add at least one gate (metric, threshold, direction) under evaluation.gates.
evaluation_gates_required contains violation if {
	size(object.get(input, "environments", [])) == 0
	size(object.get(input, ["evaluation", "gates"], [])) == 0
	violation := {
		"msg": "No evaluation gate is defined (evaluation.gates), so no model version is ever checked before release",
		"path": key_path(input, ["evaluation", "gates"]),
	}
}

# METADATA
# title: Sensitive attributes need a fairness gate
# description: >-
#   When a dataset declares sensitive_attributes, evaluation.gates must include a
#   fairness gate: a group-fairness metric such as demographic_parity_difference,
#   equalized_odds_difference or disparate_impact_ratio, or the other names the
#   fairness toolkits give them (demographic_parity_ratio, statistical_parity_difference,
#   equal_opportunity_difference, average_odds_difference, per-group rate
#   differences, ratios or gaps such as false_positive_rate_difference or tpr_gap).
# custom:
#   id: MLCI-EVAL-002
#   severity: high
#   controls:
#     - EU AI Act Art. 10(2)(f)
#     - NIST AI RMF MEASURE 2.11
#   remediation: Add a gate on demographic_parity_difference, equalized_odds_difference or disparate_impact_ratio to evaluation.gates.
fairness_gate_required contains violation if {
	attributes := sensitive_attributes(input)
	count(attributes) > 0
	not has_fairness_gate(input)
	violation := {
		"msg": concat("", [
			"Datasets declare sensitive attributes (", concat(", ", sort(attributes)),
			") but no evaluation gate measures fairness (demographic_parity_difference, equalized_odds_difference or disparate_impact_ratio)",
		]),
		"path": key_path(input, ["evaluation", "gates"]),
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only).

# The path of keys in obj, cut after the first key that is missing (or null), so
# that a finding always points at a key that exists or at its existing parent.
key_path(obj, keys) := array.slice(keys, 0, count(present) + 1) if {
	present := {k | some k in numbers.range(1, count(keys)); object.get(obj, array.slice(keys, 0, k), null) != null}
}

# Text for a message. Messages are built with concat, not sprintf: regopy 1.5.2's
# sprintf wraps some computed strings in quotes.
str(value) := value if is_string(value)

str(value) := sprintf("%v", [value]) if not is_string(value)

# The number of items of an array; anything else counts as empty.
size(value) := count(value) if is_array(value)

size(value) := 0 if not is_array(value)

fairness_metric(metric) if {
	is_string(metric)
	regex.match(fairness_pattern, lower(metric))
}

# Group-fairness metrics as fairlearn, AIF360 and the like name them.
fairness_pattern := `demographic_parity|statistical_parity|equali[sz]ed_odds|equal_opportunity|disparate_impact|average_odds|predictive_(parity|equality)|treatment_equality|four_fifths|fairness|(true|false)_(positive|negative)_rate_(difference|ratio|gap|disparity)|selection_rate_(difference|ratio|gap)|(^|[^a-z])(tpr|fpr|tnr|fnr|dp|eo|eop|spd|aod)_?(diff|difference|ratio|gap|disparity)([^a-z]|$)|group_(gap|disparity)|parity_(difference|ratio|gap)`

has_fairness_gate(spec) if {
	some gate in spec.evaluation.gates
	fairness_metric(gate.metric)
}

sensitive_attributes(spec) := {str(attribute) |
	some ds in spec.datasets
	attributes := ds.sensitive_attributes
	is_array(attributes)
	some attribute in attributes
}
