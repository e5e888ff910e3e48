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

test_placeholder_dpia_and_erasure_references_are_missing if {
	every reference in ["n/a", "TBD", " - ", "Not applicable"] {
		gov := {"risk": "high", "dpia": reference, "erasure_procedure": reference}
		{v.path | some v in gdpr.dpia_required} == {["governance", "dpia"]} with input.governance as gov
		{v.path | some v in gdpr.erasure_procedure_required} == {["governance", "erasure_procedure"]} with input.governance as gov
			with input.datasets as [personal_ds]
	}
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

test_nested_pii_field_logged_fails if {
	violations := gdpr.pii_not_logged with input.datasets as [personal_ds]
		with input.serving as {"log_fields": ["request.id", "request.Email", "emailing.campaign"]}
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

# Jurisdictions of AWS, GCP and Azure regions (settings jurisdictions).

region_settings := {
	"jurisdictions": {
		"eu": ["eu-central-1", "westeurope", "germanywestcentral"],
		"uk": ["eu-west-2", "uksouth"],
		"ch": ["eu-central-2"],
		"us": ["us-east-1", "eastus2"],
	},
	"eea_jurisdictions": ["eu"],
	"adequate_jurisdictions": ["ch", "uk"],
}

test_jurisdiction_of_listed_and_unlisted_regions if {
	settings := region_settings
	gdpr.jurisdiction("westeurope") == "eu" with data.mlci_settings as settings
	gdpr.jurisdiction("eu-west-2") == "uk" with data.mlci_settings as settings
	gdpr.jurisdiction("eu-central-2") == "ch" with data.mlci_settings as settings
	gdpr.jurisdiction("eastus2") == "us" with data.mlci_settings as settings
	gdpr.jurisdiction("europe-west4") == "eu" with data.mlci_settings as settings
	gdpr.jurisdiction("ap-south-1") == "ap" with data.mlci_settings as settings
}

test_region_london_is_not_the_eu if {
	settings := region_settings
	envs := [{"name": "production", "tier": "production", "region": "eu-west-2"}]
	violations := gdpr.personal_data_region_restricted with input.datasets as [patched(personal_ds, {"region": "eu-central-1"})]
		with input.environments as envs
		with data.mlci_settings as settings
	paths(violations) == {["environments", 0, "region"]}
}

test_region_outside_with_transfer_mechanism_passes if {
	settings := region_settings
	envs := [{"name": "production", "tier": "production", "region": "us-east-1"}]
	ds := patched(personal_ds, {"region": "eu-central-1", "transfer_mechanism": "standard_contractual_clauses"})
	count(gdpr.personal_data_region_restricted) == 0 with input.datasets as [ds]
		with input.environments as envs
		with data.mlci_settings as settings
}

test_training_region_is_checked if {
	settings := region_settings
	violations := gdpr.personal_data_region_restricted with input.datasets as [patched(personal_ds, {"region": "westeurope"})]
		with input.environments as []
		with input.training as {"region": "eastus2"}
		with data.mlci_settings as settings
	paths(violations) == {["training", "region"]}
}

# MLCI-GDPR-006 dpia_required: special categories, vulnerable subjects, AI Act class

test_dpia_for_special_categories_and_children if {
	ds1 := patched(personal_ds, {"special_categories": ["health"]})
	ds2 := patched(personal_ds, {"vulnerable_subjects": ["children"]})
	gov := {"risk": "limited"}
	violations := gdpr.dpia_required with input.datasets as [ds1, ds2] with input.governance as gov
	some v in violations
	contains(v.msg, "special categories")
	contains(v.msg, "vulnerable data subjects")
}

test_dpia_for_high_risk_ai_act_class if {
	gov := {"risk": "limited", "ai_act": {"risk_class": "high"}}
	violations := gdpr.dpia_required with input.datasets as [plain_ds] with input.governance as gov
	paths(violations) == {["governance", "dpia"]}
}

test_dpia_not_needed_for_minimal_risk_plain_data if {
	gov := {"risk": "minimal"}
	count(gdpr.dpia_required) == 0 with input.datasets as [plain_ds] with input.governance as gov
}

# MLCI-GDPR-010 special_category_condition_required

test_special_category_with_condition_passes if {
	ds := patched(personal_ds, {"special_categories": ["health"], "special_category_condition": "explicit_consent"})
	count(gdpr.special_category_condition_required) == 0 with input.datasets as [ds]
}

test_special_category_without_condition_fails if {
	ds := patched(personal_ds, {"special_categories": ["biometric"]})
	violations := gdpr.special_category_condition_required with input.datasets as [plain_ds, ds]
	paths(violations) == {["datasets", 1, "special_categories"]}
}

test_special_category_placeholder_condition_fails if {
	ds := patched(personal_ds, {"special_categories": ["genetic"], "special_category_condition": "TBD"})
	violations := gdpr.special_category_condition_required with input.datasets as [ds]
	paths(violations) == {["datasets", 0, "special_categories"]}
}

test_art6_basis_as_art9_condition_fails if {
	ds := patched(personal_ds, {"special_categories": ["genetic", "health"], "special_category_condition": "consent"})
	violations := gdpr.special_category_condition_required with input.datasets as [plain_ds, ds]
	paths(violations) == {["datasets", 1, "special_category_condition"]}
}

test_every_art9_condition_passes if {
	every condition in gdpr.art9_conditions {
		ds := patched(personal_ds, {"special_categories": ["health"], "special_category_condition": condition})
		count(gdpr.special_category_condition_required) == 0 with input.datasets as [ds]
	}
}

test_children_named_otherwise_need_parental_consent if {
	every subjects in [["pupils"], ["Minors"], ["kids"], ["teenagers"], ["users_under_16"], ["schoolchildren"]] {
		ds := patched(personal_ds, {"vulnerable_subjects": subjects, "legal_basis": "consent"})
		{v.path | some v in gdpr.children_consent_by_parent} == {["datasets", 0, "legal_basis"]} with input.datasets as [ds]
	}
}

test_minorities_and_adults_are_no_children if {
	every subjects in [["ethnic_minorities"], ["patients"], ["employees"], ["kidney_patients"]] {
		ds := patched(personal_ds, {"vulnerable_subjects": subjects, "legal_basis": "consent"})
		count(gdpr.children_consent_by_parent) == 0 with input.datasets as [ds]
	}
}

test_children_alone_need_no_art9_condition if {
	ds := patched(personal_ds, {"special_categories": ["children"]})
	count(gdpr.special_category_condition_required) == 0 with input.datasets as [ds]
}

test_special_categories_make_data_personal if {
	ds := {"name": "scans", "personal_data": false, "special_categories": ["health"]}
	violations := gdpr.personal_data_flag_consistent with input.datasets as [ds]
	paths(violations) == {["datasets", 0, "personal_data"]}
}

# MLCI-GDPR-011 special_category_fields_declared

test_fields_that_look_like_special_categories_fail if {
	ds := patched(personal_ds, {
		"pii_fields": ["email", "diagnosisCode", "blood_type", "religion", "dna_sample_id"],
		"sensitive_attributes": ["ethnicity", "gender"],
	})
	violations := gdpr.special_category_fields_declared with input.datasets as [ds]
	paths(violations) == {
		["datasets", 0, "pii_fields", 1],
		["datasets", 0, "pii_fields", 2],
		["datasets", 0, "pii_fields", 3],
		["datasets", 0, "pii_fields", 4],
		["datasets", 0, "sensitive_attributes", 0],
	}
}

test_health_biometric_and_other_fields_by_their_usual_names_fail if {
	fields := [
		"heart_rate", "blood_glucose", "hba1c", "is_smoker", "alcohol_units", "sick_days", "cancer_stage",
		"voice_embedding", "facial_landmarks", "selfie_path", "snp_array", "skin_colour", "party_affiliation",
		"lgbtq_flag", "prior_arrests",
	]
	ds := patched(personal_ds, {"pii_fields": fields})
	violations := gdpr.special_category_fields_declared with input.datasets as [ds]
	count(violations) == count(fields)
}

test_field_false_friends_pass if {
	ds := patched(personal_ds, {
		"pii_fields": [
			"email", "device_fingerprint", "trace_id", "grace_period", "age", "postcode", "incremental_id",
			"treatment_group", "face_value", "probation_period", "nearest_hospital_km", "stage_of_loan",
			"engine_diagnosis_code", "diagnostic_trouble_code", "race_id", "race_finish_time", "ticket_symptom",
		],
		"sensitive_attributes": ["gender", "age_band"],
	})
	count(gdpr.special_category_fields_declared) == 0 with input.datasets as [ds]
}

test_fields_of_an_undeclared_category_fail_beside_a_declared_one if {
	ds := patched(personal_ds, {
		"sensitive_attributes": ["Gender", "Ethnicity", "religiousAffiliation", "union_member", "disability_status"],
		"special_categories": ["racial_or_ethnic_origin"],
		"special_category_condition": "employment_social_security",
	})
	violations := gdpr.special_category_fields_declared with input.datasets as [ds]
	paths(violations) == {
		["datasets", 0, "sensitive_attributes", 2],
		["datasets", 0, "sensitive_attributes", 3],
		["datasets", 0, "sensitive_attributes", 4],
	}
}

test_categories_declared_in_other_words_cover_their_fields if {
	ds := patched(personal_ds, {
		"pii_fields": ["ethnic_group", "religion", "criminal_record_hit", "medicationList"],
		"special_categories": ["ethnicity", "religious_or_philosophical_beliefs", "criminal_convictions", "health"],
	})
	count(gdpr.special_category_fields_declared) == 0 with input.datasets as [ds]
}

test_declared_special_category_fields_pass if {
	ds := patched(personal_ds, {"pii_fields": ["diagnosis"], "special_categories": ["health"]})
	count(gdpr.special_category_fields_declared) == 0 with input.datasets as [ds]
}

# MLCI-GDPR-012 transfer_mechanism_required

test_subjects_in_an_eea_country_are_eea_subjects if {
	settings := region_settings
	every subjects in ["de", "germany", "Norway", "nl", "nordics", "eu-central-1"] {
		ds := patched(personal_ds, {"region": "us-east-1", "data_subjects_region": subjects})
		{v.path | some v in gdpr.transfer_mechanism_required} == {["datasets", 0, "region"]} with input.datasets as [ds]
			with data.mlci_settings as settings
	}
}

test_subjects_outside_the_eea_are_no_transfer if {
	settings := region_settings
	every subjects in ["us", "usa", "gb", "switzerland", "ca"] {
		ds := patched(personal_ds, {"region": "us-east-1", "data_subjects_region": subjects})
		count(gdpr.transfer_mechanism_required) == 0 with input.datasets as [ds] with data.mlci_settings as settings
	}
}

test_transfer_of_eu_subjects_stored_outside_fails if {
	settings := region_settings
	ds := patched(personal_ds, {"region": "us-east-1", "data_subjects_region": "eu"})
	envs := [{"name": "production", "tier": "production", "region": "eastus2"}]
	violations := gdpr.transfer_mechanism_required with input.datasets as [ds]
		with input.environments as envs
		with data.mlci_settings as settings
	paths(violations) == {["datasets", 0, "region"], ["environments", 0, "region"]}
}

test_transfer_with_mechanism_passes if {
	settings := region_settings
	ds := patched(personal_ds, {"region": "us-east-1", "data_subjects_region": "eea", "transfer_mechanism": "binding_corporate_rules"})
	count(gdpr.transfer_mechanism_required) == 0 with input.datasets as [ds]
		with input.environments as []
		with data.mlci_settings as settings
}

test_transfer_adequacy_only_where_adequate if {
	settings := region_settings
	uk := patched(personal_ds, {"region": "uksouth", "data_subjects_region": "eu", "transfer_mechanism": "adequacy_decision"})
	us := patched(personal_ds, {"region": "us-east-1", "data_subjects_region": "eu", "transfer_mechanism": "adequacy_decision"})
	violations := gdpr.transfer_mechanism_required with input.datasets as [uk, us]
		with input.environments as []
		with data.mlci_settings as settings
	paths(violations) == {["datasets", 1, "region"]}
}

test_transfer_not_reported_twice_with_residency if {
	settings := region_settings
	ds := patched(personal_ds, {"region": "eu-central-1", "data_subjects_region": "eu"})
	envs := [{"name": "production", "tier": "production", "region": "us-east-1"}]
	count(gdpr.transfer_mechanism_required) == 0 with input.datasets as [ds]
		with input.environments as envs
		with data.mlci_settings as settings
}

test_no_transfer_for_non_eea_subjects if {
	settings := region_settings
	ds := patched(personal_ds, {"region": "us-east-1", "data_subjects_region": "us"})
	count(gdpr.transfer_mechanism_required) == 0 with input.datasets as [ds]
		with input.environments as []
		with data.mlci_settings as settings
}

# MLCI-GDPR-013 children_consent_by_parent

test_children_consent_without_parent_fails if {
	ds := patched(personal_ds, {"legal_basis": "consent", "vulnerable_subjects": ["children"]})
	violations := gdpr.children_consent_by_parent with input.datasets as [plain_ds, ds]
	paths(violations) == {["datasets", 1, "legal_basis"]}
}

test_children_consent_with_parent_passes if {
	ds := patched(personal_ds, {"legal_basis": "consent", "vulnerable_subjects": ["children"], "parental_consent": true})
	count(gdpr.children_consent_by_parent) == 0 with input.datasets as [ds]
}

test_children_on_other_basis_pass if {
	ds := patched(personal_ds, {"legal_basis": "public_task", "special_categories": ["children"]})
	count(gdpr.children_consent_by_parent) == 0 with input.datasets as [ds]
}

test_subjects_in_europe_are_the_eea if {
	settings := region_settings
	ds := patched(personal_ds, {"region": "us-east-1", "data_subjects_region": "europe"})
	violations := gdpr.transfer_mechanism_required with input.datasets as [ds]
		with input.environments as []
		with data.mlci_settings as settings
	paths(violations) == {["datasets", 0, "region"]}
}

# MLCI-GDPR-014 personal_data_encrypted_in_transit

test_personal_data_over_http_fails if {
	ds := patched(personal_ds, {"uri": "HTTP://exports.bank.internal/customers.csv"})
	tls := patched(personal_ds, {"uri": "https://exports.bank.internal/customers.csv"})
	plain := patched(plain_ds, {"uri": "http://archive.ics.uci.edu/iris.data"})
	violations := gdpr.personal_data_encrypted_in_transit with input.datasets as [tls, plain, ds]
	paths(violations) == {["datasets", 2, "uri"]}
}
