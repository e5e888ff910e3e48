# Unit tests for data.mlci.gdpr.
#
# Tests replace parts of the input (with input.datasets as ...), never the whole
# input: regopy 1.5.2 crashes on `with input as {...}` when the rule under test
# calls a builtin.
# Values given with `with` are local variables or expressions, never a bare rule
# name: regopy 1.5.2 ignores `with input.x as some_rule`.
package mlci.gdpr_test

import rego.v1

import data.mlci.gdpr

personal_ds := {
	"name": "customers",
	"personal_data": true,
	"pii_fields": ["email", "postcode"],
	"legal_basis": "contract",
	"retention": "P2Y",
	"region": "eu-west-1",
	"anonymisation": "pseudonymised",
}

plain_ds := {"name": "iris", "personal_data": false, "region": "us-east-1"}

eu_envs := [
	{"name": "staging", "tier": "staging", "region": "eu-west-1"},
	{"name": "production", "tier": "production", "region": "eu-central-1"},
]

paths(violations) := {v.path | some v in violations}

# obj with the keys of changes replaced, not merged (object.union merges nested
# objects in OPA but not in regopy 1.5.2, so tests never rely on the merge).
patched(obj, changes) := object.union(object.remove(obj, object.keys(changes)), changes)

# MLCI-GDPR-001 legal_basis_required

test_legal_basis_valid_passes if {
	count(gdpr.legal_basis_required) == 0 with input.datasets as [personal_ds]
}

test_legal_basis_not_needed_without_personal_data if {
	count(gdpr.legal_basis_required) == 0 with input.datasets as [plain_ds]
}

test_legal_basis_missing_fails if {
	ds := object.remove(personal_ds, ["legal_basis"])
	violations := gdpr.legal_basis_required with input.datasets as [plain_ds, ds]
	paths(violations) == {["datasets", 1, "legal_basis"]}
}

test_legal_basis_outside_art6_fails if {
	ds := patched(personal_ds, {"legal_basis": "business_need"})
	violations := gdpr.legal_basis_required with input.datasets as [ds]
	paths(violations) == {["datasets", 0, "legal_basis"]}
	some v in violations
	contains(v.msg, "business_need")
}

test_legal_basis_pii_fields_imply_personal_data if {
	ds := {"name": "leads", "pii_fields": ["email"]}
	violations := gdpr.legal_basis_required with input.datasets as [ds]
	paths(violations) == {["datasets", 0, "legal_basis"]}
}

# MLCI-GDPR-002 retention_period_required

test_retention_valid_passes if {
	count(gdpr.retention_period_required) == 0 with input.datasets as [
		personal_ds,
		patched(personal_ds, {"retention": "P18M"}),
		patched(personal_ds, {"retention": "P1Y6M2W3D"}),
	]
}

test_retention_missing_fails if {
	ds := object.remove(personal_ds, ["retention"])
	violations := gdpr.retention_period_required with input.datasets as [ds]
	paths(violations) == {["datasets", 0, "retention"]}
}

test_retention_not_iso_fails if {
	violations := gdpr.retention_period_required with input.datasets as [
		patched(personal_ds, {"retention": "2 years"}),
		patched(personal_ds, {"retention": "P"}),
		patched(personal_ds, {"retention": 730}),
	]
	paths(violations) == {["datasets", 0, "retention"], ["datasets", 1, "retention"], ["datasets", 2, "retention"]}
}

test_retention_not_needed_without_personal_data if {
	count(gdpr.retention_period_required) == 0 with input.datasets as [plain_ds]
}

# MLCI-GDPR-003 retention_period_bounded

test_retention_within_default_limit_passes if {
	count(gdpr.retention_period_bounded) == 0 with input.datasets as [patched(personal_ds, {"retention": "P5Y"})]
}

test_retention_over_default_limit_fails if {
	violations := gdpr.retention_period_bounded with input.datasets as [patched(personal_ds, {"retention": "P5Y1D"})]
	paths(violations) == {["datasets", 0, "retention"]}
	some v in violations
	contains(v.msg, "1826 days")
}

test_retention_counts_weeks_and_days if {
	count(gdpr.retention_period_bounded) == 0 with input.datasets as [patched(personal_ds, {"retention": "P260W5D"})]
	violations := gdpr.retention_period_bounded with input.datasets as [patched(personal_ds, {"retention": "P261W"})]
	paths(violations) == {["datasets", 0, "retention"]}
}

test_retention_limit_from_settings if {
	ds := patched(personal_ds, {"retention": "P13M"})
	violations := gdpr.retention_period_bounded with input.datasets as [ds]
		with data.mlci_settings as {"max_retention_days": 365}
	paths(violations) == {["datasets", 0, "retention"]}
	count(gdpr.retention_period_bounded) == 0 with input.datasets as [ds]
}

# MLCI-GDPR-004 personal_data_region_restricted

test_region_same_jurisdiction_passes if {
	count(gdpr.personal_data_region_restricted) == 0 with input.datasets as [personal_ds]
		with input.environments as [eu_envs[0], eu_envs[1]]
}

test_region_other_jurisdiction_fails if {
	envs := [eu_envs[0], {"name": "production", "tier": "production", "region": "us-east-1"}]
	violations := gdpr.personal_data_region_restricted with input.datasets as [personal_ds]
		with input.environments as envs
	paths(violations) == {["environments", 1, "region"]}
}

test_region_gcp_and_aws_eu_match if {
	ds := patched(personal_ds, {"region": "europe-west4"})
	count(gdpr.personal_data_region_restricted) == 0 with input.datasets as [ds]
		with input.environments as [eu_envs[0], eu_envs[1]]
}

test_region_training_region_checked if {
	violations := gdpr.personal_data_region_restricted with input.datasets as [personal_ds]
		with input.environments as [eu_envs[0], eu_envs[1]]
		with input.training as {"region": "ap-south-1"}
	paths(violations) == {["training", "region"]}
}

test_region_missing_on_dataset_fails if {
	ds := object.remove(personal_ds, ["region"])
	violations := gdpr.personal_data_region_restricted with input.datasets as [ds]
		with input.environments as [eu_envs[0], eu_envs[1]]
	paths(violations) == {["datasets", 0, "region"]}
}

test_region_missing_on_environment_fails if {
	envs := [eu_envs[0], {"name": "production", "tier": "production"}]
	violations := gdpr.personal_data_region_restricted with input.datasets as [personal_ds]
		with input.environments as envs
	paths(violations) == {["environments", 1, "region"]}
}

test_region_allowed_list_from_settings if {
	envs := [{"name": "production", "tier": "production", "region": "eu-west-2"}]
	settings := {"allowed_regions": {"eu": ["eu-west-1", "eu-central-1"]}}
	violations := gdpr.personal_data_region_restricted with input.datasets as [personal_ds]
		with input.environments as envs
		with data.mlci_settings as settings
	paths(violations) == {["environments", 0, "region"]}

	# Without a list, eu-west-2 counts as eu by its prefix.
	count(gdpr.personal_data_region_restricted) == 0 with input.datasets as [personal_ds]
		with input.environments as envs
		with data.mlci_settings as {}
}

test_region_listed_jurisdiction_without_prefix if {
	envs := [{"name": "production", "tier": "production", "region": "westeurope"}]
	settings := {"allowed_regions": {"eu": ["eu-west-1", "westeurope"]}}
	count(gdpr.personal_data_region_restricted) == 0 with input.datasets as [personal_ds]
		with input.environments as envs
		with data.mlci_settings as settings
}

test_region_not_checked_without_personal_data if {
	envs := [{"name": "production", "tier": "production", "region": "eu-west-1"}]
	count(gdpr.personal_data_region_restricted) == 0 with input.datasets as [plain_ds]
		with input.environments as envs
}

# MLCI-GDPR-005 pseudonymisation_required

test_pseudonymisation_declared_passes if {
	count(gdpr.pseudonymisation_required) == 0 with input.datasets as [
		personal_ds,
		patched(personal_ds, {"anonymisation": "anonymised"}),
	]
}

test_pseudonymisation_none_fails if {
	violations := gdpr.pseudonymisation_required with input.datasets as [
		patched(personal_ds, {"anonymisation": "none"}),
		object.remove(personal_ds, ["anonymisation"]),
	]
	paths(violations) == {["datasets", 0, "anonymisation"], ["datasets", 1, "anonymisation"]}
}

# MLCI-GDPR-006 dpia_required

test_dpia_present_passes if {
	count(gdpr.dpia_required) == 0 with input.governance as {"risk": "high", "dpia": "DPIA-1"}
}

test_dpia_not_needed_for_minimal_risk if {
	count(gdpr.dpia_required) == 0 with input.governance as {"risk": "minimal"}
		with input.datasets as [personal_ds]
}

test_dpia_missing_for_high_risk_fails if {
	violations := gdpr.dpia_required with input.governance as {"risk": "high"}
	paths(violations) == {["governance", "dpia"]}
}

test_dpia_missing_for_sensitive_attributes_fails if {
	ds := patched(personal_ds, {"sensitive_attributes": ["gender"]})
	violations := gdpr.dpia_required with input.datasets as [ds]
		with input.governance as {"risk": "limited", "dpia": ""}
	paths(violations) == {["governance", "dpia"]}
	some v in violations
	contains(v.msg, "customers")
}

test_dpia_missing_governance_points_at_governance if {
	violations := gdpr.dpia_required with input.datasets as [patched(personal_ds, {"sensitive_attributes": ["age"]})]
	paths(violations) == {["governance"]}
}

# MLCI-GDPR-007 pii_not_logged

test_pii_not_logged_passes if {
	count(gdpr.pii_not_logged) == 0 with input.datasets as [personal_ds]
		with input.serving as {"log_fields": ["request_id", "score"]}
}

test_pii_logged_fails if {
	violations := gdpr.pii_not_logged with input.datasets as [plain_ds, personal_ds]
		with input.serving as {"log_fields": ["request_id", "Email", "score"]}
	paths(violations) == {["serving", "log_fields", 1]}
}

test_sensitive_attribute_logged_fails if {
	ds := patched(personal_ds, {"sensitive_attributes": ["gender"]})
	violations := gdpr.pii_not_logged with input.datasets as [ds]
		with input.serving as {"log_fields": ["gender"]}
	paths(violations) == {["serving", "log_fields", 0]}
}

test_wildcard_logging_with_pii_fails if {
	violations := gdpr.pii_not_logged with input.datasets as [personal_ds]
		with input.serving as {"log_fields": ["*"]}
	paths(violations) == {["serving", "log_fields", 0]}
}

# MLCI-GDPR-008 erasure_procedure_required

test_erasure_procedure_present_passes if {
	count(gdpr.erasure_procedure_required) == 0 with input.datasets as [personal_ds]
		with input.governance as {"erasure_procedure": "docs/erasure.md"}
}

test_erasure_procedure_not_needed_without_personal_data if {
	count(gdpr.erasure_procedure_required) == 0 with input.datasets as [plain_ds]
}

test_erasure_procedure_missing_fails if {
	violations := gdpr.erasure_procedure_required with input.datasets as [personal_ds, personal_ds]
		with input.governance as {"risk": "limited"}
	paths(violations) == {["governance", "erasure_procedure"]}
	count(violations) == 1
}

# MLCI-GDPR-009 personal_data_flag_consistent

test_personal_data_flag_consistent_passes if {
	count(gdpr.personal_data_flag_consistent) == 0 with input.datasets as [personal_ds, plain_ds]
}

test_personal_data_flag_false_with_pii_fails if {
	ds := patched(personal_ds, {"personal_data": false})
	violations := gdpr.personal_data_flag_consistent with input.datasets as [plain_ds, ds]
	paths(violations) == {["datasets", 1, "personal_data"]}
}

test_personal_data_flag_false_with_sensitive_attributes_fails if {
	ds := patched(plain_ds, {"sensitive_attributes": ["gender"]})
	violations := gdpr.personal_data_flag_consistent with input.datasets as [ds]
	paths(violations) == {["datasets", 0, "personal_data"]}
}
