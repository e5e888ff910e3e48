# GDPR checks for datasets that hold personal data.
#
# Input: the mlproject.yaml spec as JSON. Settings: data.mlci_settings (optional,
# see settings.json). Every check is a partial set of {"msg", "path"} objects.
# Helpers are functions so that they never show up in data.mlci.gdpr.
package mlci.gdpr

import rego.v1

# METADATA
# title: Personal data needs a lawful basis
# description: >-
#   Every dataset that holds personal data must name its lawful basis for processing,
#   one of the six bases of GDPR Art. 6(1) - consent, contract, legal_obligation,
#   vital_interests, public_task or legitimate_interests.
# custom:
#   id: MLCI-GDPR-001
#   severity: critical
#   controls:
#     - GDPR Art. 6(1)
#     - GDPR Art. 5(1)(a)
#   remediation: Set the dataset's legal_basis to the Art. 6(1) basis recorded for this processing in your record of processing activities.
legal_basis_required contains violation if {
	some i, ds in input.datasets
	personal(ds)
	basis := object.get(ds, "legal_basis", null)
	not lawful_basis(basis)
	violation := {
		"msg": legal_basis_msg(label(ds, i), basis),
		"path": ["datasets", i, "legal_basis"],
	}
}

# METADATA
# title: Personal data needs a retention period
# description: >-
#   Every dataset that holds personal data must say how long it is kept, as an
#   ISO-8601 duration in years, months, weeks or days (for example P2Y, P18M, P365D),
#   so that storage limitation can be enforced.
# custom:
#   id: MLCI-GDPR-002
#   severity: high
#   controls:
#     - GDPR Art. 5(1)(e)
#     - GDPR Art. 13(2)(a)
#   remediation: Set the dataset's retention to an ISO-8601 duration such as P2Y that matches your retention schedule.
retention_period_required contains violation if {
	some i, ds in input.datasets
	personal(ds)
	retention := object.get(ds, "retention", null)
	not valid_duration(retention)
	violation := {
		"msg": retention_msg(label(ds, i), retention),
		"path": ["datasets", i, "retention"],
	}
}

# METADATA
# title: Retention of personal data is bounded
# description: >-
#   The retention period of a dataset with personal data must not exceed the
#   organisation's maximum (settings max_retention_days, 1825 days by default),
#   counting a year as 365 days, a month as 30 and a week as 7.
# custom:
#   id: MLCI-GDPR-003
#   severity: medium
#   controls:
#     - GDPR Art. 5(1)(e)
#   remediation: Shorten the dataset's retention to at most the organisation's maximum, or delete or anonymise the data sooner.
retention_period_bounded contains violation if {
	some i, ds in input.datasets
	personal(ds)
	retention := ds.retention
	valid_duration(retention)
	days := duration_days(retention)
	limit := setting("max_retention_days", 1825)
	days > limit
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' keeps personal data for ", retention,
			" (about ", str(days), " days), more than the maximum of ", str(limit), " days",
		]),
		"path": ["datasets", i, "retention"],
	}
}

# METADATA
# title: Personal data stays in its jurisdiction
# description: >-
#   A dataset with personal data must declare its region, and every environment
#   that serves the model (and the training job, if it names a region) must run in
#   the same jurisdiction (settings jurisdictions map AWS, GCP and Azure regions to
#   theirs; other eu-* and europe-* regions are the EU). When settings list
#   allowed_regions for the jurisdiction, only those regions (or the dataset's own
#   region) are allowed. A place outside is allowed when the dataset declares a
#   transfer_mechanism that covers it (see MLCI-GDPR-012).
# custom:
#   id: MLCI-GDPR-004
#   severity: high
#   controls:
#     - GDPR Art. 44
#     - GDPR Art. 46
#   remediation: Deploy and train in a region of the dataset's jurisdiction that your settings allow, or declare the dataset's transfer_mechanism (GDPR Art. 45-49).
personal_data_region_restricted contains violation if {
	some i, ds in input.datasets
	personal(ds)
	some violation in region_violations(ds, i, input)
}

# METADATA
# title: Personal data is pseudonymised or anonymised
# description: >-
#   A dataset with personal data must declare that it is pseudonymised or anonymised
#   before it reaches training (anonymisation is pseudonymised or anonymised).
# custom:
#   id: MLCI-GDPR-005
#   severity: medium
#   controls:
#     - GDPR Art. 25
#     - GDPR Art. 32(1)(a)
#   remediation: Pseudonymise or anonymise the dataset before training and set its anonymisation to pseudonymised or anonymised.
pseudonymisation_required contains violation if {
	some i, ds in input.datasets
	personal(ds)
	state := object.get(ds, "anonymisation", null)
	not state in {"pseudonymised", "anonymised"}
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' holds personal data but its anonymisation is ", shown(state),
			", not pseudonymised or anonymised",
		]),
		"path": ["datasets", i, "anonymisation"],
	}
}

# METADATA
# title: High-risk processing has a DPIA
# description: >-
#   A data protection impact assessment must be referenced in governance.dpia when
#   the project's governance.risk is high, when governance.ai_act.risk_class is
#   high, or when a dataset declares sensitive attributes, special categories of
#   data (special_categories: health, biometric, genetic...) or vulnerable data
#   subjects (vulnerable_subjects, such as children).
# custom:
#   id: MLCI-GDPR-006
#   severity: high
#   controls:
#     - GDPR Art. 35
#     - GDPR Art. 9
#     - GDPR Art. 8
#   remediation: Carry out a DPIA and put its reference in governance.dpia.
dpia_required contains violation if {
	reasons := dpia_triggers(input)
	count(reasons) > 0
	not filled_declaration(object.get(input, ["governance", "dpia"], null))
	violation := {
		"msg": concat("", ["A DPIA reference (governance.dpia) is required because ", concat(" and ", sort(reasons))]),
		"path": key_path(input, ["governance", "dpia"]),
	}
}

# METADATA
# title: Serving does not log personal data
# description: >-
#   The fields that the model server logs (serving.log_fields) must not include any
#   field that a dataset lists as a PII field or a sensitive attribute, compared
#   case-folded, also as the last part of a nested name (request.email is email).
# custom:
#   id: MLCI-GDPR-007
#   severity: high
#   controls:
#     - GDPR Art. 5(1)(c)
#     - GDPR Art. 32
#   remediation: Remove the personal fields from serving.log_fields, or log a pseudonymous key instead.
pii_not_logged contains violation if {
	protected := protected_fields(input)
	some k, field in input.serving.log_fields
	is_string(field)
	logs_protected(field, protected)
	violation := {
		"msg": concat("", ["serving.log_fields logs '", field, "', which a dataset declares as personal data"]),
		"path": ["serving", "log_fields", k],
	}
}

# METADATA
# title: Erasure requests can be honoured
# description: >-
#   When any dataset holds personal data, governance.erasure_procedure must point to
#   the documented procedure for honouring erasure requests (removal from the data
#   and retraining or unlearning of the model).
# custom:
#   id: MLCI-GDPR-008
#   severity: medium
#   controls:
#     - GDPR Art. 17
#   remediation: Document how erasure requests reach the training data and the model and put the link in governance.erasure_procedure.
erasure_procedure_required contains violation if {
	some ds in input.datasets
	personal(ds)
	not filled_declaration(object.get(input, ["governance", "erasure_procedure"], null))
	violation := {
		"msg": "Datasets hold personal data but governance.erasure_procedure documents no erasure procedure",
		"path": key_path(input, ["governance", "erasure_procedure"]),
	}
}

# METADATA
# title: The personal-data flag matches the declared fields
# description: >-
#   A dataset that lists PII fields, sensitive attributes, special categories or
#   vulnerable subjects holds personal data and must not declare personal_data
#   false; the flag drives every other GDPR check.
# custom:
#   id: MLCI-GDPR-009
#   severity: high
#   controls:
#     - GDPR Art. 4(1)
#     - GDPR Art. 30
#   remediation: Set personal_data to true for this dataset, or remove the PII fields and sensitive attributes if they are really gone.
personal_data_flag_consistent contains violation if {
	some i, ds in input.datasets
	ds.personal_data == false
	declared := personal_declarations(ds)
	count(declared) > 0
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' declares personal_data false but lists personal fields (",
			concat(", ", [str(f) | some f in declared]), ")",
		]),
		"path": ["datasets", i, "personal_data"],
	}
}

# METADATA
# title: Special categories of data have an Art. 9(2) condition
# description: >-
#   A dataset that declares special categories of personal data (special_categories:
#   health, biometric, genetic, racial_or_ethnic_origin, political_opinions,
#   religious_or_philosophical_beliefs, trade_union_membership,
#   sex_life_or_sexual_orientation, or criminal_convictions under Art. 10) may only
#   be processed under one of the conditions of GDPR Art. 9(2), which it must name in
#   special_category_condition (explicit_consent, employment_social_security,
#   vital_interests, not_for_profit_body, made_public_by_data_subject, legal_claims,
#   substantial_public_interest, health_or_social_care, public_health,
#   archiving_research_statistics). Children alone (a vulnerable subject, Art. 8) need
#   no Art. 9(2) condition.
# custom:
#   id: MLCI-GDPR-010
#   severity: critical
#   controls:
#     - GDPR Art. 9(1)
#     - GDPR Art. 9(2)
#     - GDPR Art. 10
#   remediation: Set the dataset's special_category_condition to the Art. 9(2) condition your record of processing names, or stop processing the special categories.
special_category_condition_required contains violation if {
	some i, ds in input.datasets
	categories := [c | some c in list_of(ds, "special_categories"); not vulnerable_category(c)]
	count(categories) > 0
	condition := object.get(ds, "special_category_condition", null)
	not filled_declaration(condition)
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' holds special categories of data (", concat(", ", [str(c) | some c in categories]),
			") but names no GDPR Art. 9(2) condition (special_category_condition)",
		]),
		"path": ["datasets", i, "special_categories"],
	}
}

# A condition that is named but is none of Art. 9(2)'s (an Art. 6 basis such as
# consent, or a free text) allows nothing.
special_category_condition_required contains violation if {
	some i, ds in input.datasets
	count([c | some c in list_of(ds, "special_categories"); not vulnerable_category(c)]) > 0
	condition := ds.special_category_condition
	filled_declaration(condition)
	not lower(trim_space(condition)) in art9_conditions
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' names '", condition, "' as its special_category_condition, ",
			"which is not a GDPR Art. 9(2) condition (", concat(", ", sort(art9_conditions)), ")",
		]),
		"path": ["datasets", i, "special_category_condition"],
	}
}

# The conditions of GDPR Art. 9(2)(a)-(j), as the schema names them.
art9_conditions := {
	"explicit_consent", "employment_social_security", "vital_interests", "not_for_profit_body",
	"made_public_by_data_subject", "legal_claims", "substantial_public_interest",
	"health_or_social_care", "public_health", "archiving_research_statistics",
}

# METADATA
# title: Fields that look like special categories are declared as such
# description: >-
#   A PII field or sensitive attribute whose name says it holds a special category
#   of data (health, diagnosis, medication, disability, pregnancy, biometric,
#   fingerprint, face embedding, genetic, DNA, race, ethnicity, religion, political
#   opinion, trade union, sexual orientation, criminal record...) makes its dataset
#   one with special categories: the dataset must list each such category in
#   special_categories (declaring one category does not cover another), so that the
#   Art. 9 and DPIA obligations apply.
# custom:
#   id: MLCI-GDPR-011
#   severity: high
#   controls:
#     - GDPR Art. 9(1)
#     - GDPR Art. 30(1)(c)
#   remediation: Add the special category this field holds to the dataset's special_categories (and its Art. 9(2) condition), or drop the field.
special_category_fields_declared contains violation if {
	some i, ds in input.datasets
	some key in ["pii_fields", "sensitive_attributes"]
	some k, field in list_of(ds, key)
	is_string(field)
	category := special_category_of(field)
	not category_declared(ds, category)
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' lists ", key, " '", field, "', which looks like ", category,
			" data (a special category), but its special_categories do not declare it",
		]),
		"path": ["datasets", i, key, k],
	}
}

# METADATA
# title: Transfers of personal data out of the EEA have a mechanism
# description: >-
#   Personal data about data subjects in the EEA (a dataset's data_subjects_region -
#   eu, eea, a member state such as de or germany, or a region - else the
#   jurisdiction of its own region) that is stored, trained on or served in
#   a region outside the EEA is transferred there, whatever region the dataset
#   itself names. The dataset must declare its transfer_mechanism under GDPR Chapter V:
#   adequacy_decision (Art. 45, only towards the settings' adequate_jurisdictions),
#   standard_contractual_clauses, binding_corporate_rules, approved_code_of_conduct,
#   approved_certification, ad_hoc_contractual_clauses (Art. 46-47) or an Art. 49
#   derogation. Places that MLCI-GDPR-004 already reports are not reported twice.
# custom:
#   id: MLCI-GDPR-012
#   severity: high
#   controls:
#     - GDPR Art. 44
#     - GDPR Art. 45
#     - GDPR Art. 46
#     - GDPR Art. 49
#   remediation: Process the data in the EEA, or put the transfer on a Chapter V basis (for example standard contractual clauses with a transfer impact assessment) and declare it in the dataset's transfer_mechanism.
transfer_mechanism_required contains violation if {
	some i, ds in input.datasets
	personal(ds)
	eea(subjects_zone(ds))
	some place in processing_places(ds, i, input)
	is_string(place.region)
	not eea(jurisdiction(place.region))
	not transfer_covered(ds, place.region)
	not residency_reported(ds, place.region)
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' holds personal data about data subjects in the EEA but ",
			place.what, " ", where_msg(place.region), ", outside the EEA, and it declares ",
			transfer_msg(ds, place.region),
		]),
		"path": place.path,
	}
}

# METADATA
# title: Children's consent is given or authorised by a parent
# description: >-
#   A dataset about children (vulnerable_subjects or special_categories listing
#   children, minors, kids, pupils, teenagers, under_16...) whose legal basis is
#   consent must declare parental_consent true: a
#   child's consent to an online service is lawful only when given or authorised
#   by the holder of parental responsibility (GDPR Art. 8(1)).
# custom:
#   id: MLCI-GDPR-013
#   severity: high
#   controls:
#     - GDPR Art. 8(1)
#     - GDPR Art. 8(2)
#   remediation: Collect and verify the consent of the holder of parental responsibility and set the dataset's parental_consent to true, or use another legal basis.
children_consent_by_parent contains violation if {
	some i, ds in input.datasets
	about_children(ds)
	ds.legal_basis == "consent"
	not ds.parental_consent == true
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' relies on the consent of children but does not declare that a parent gave or authorised it (parental_consent)",
		]),
		"path": ["datasets", i, "legal_basis"],
	}
}

# METADATA
# title: Personal data is fetched over an encrypted channel
# description: >-
#   A dataset with personal data must not be read from a plain-text source: its
#   uri must not use http:// or ftp:// (use https://, s3://, gs://, a path in the
#   repository...).
# custom:
#   id: MLCI-GDPR-014
#   severity: high
#   controls:
#     - GDPR Art. 32(1)(a)
#     - GDPR Art. 5(1)(f)
#     - CWE-319
#   remediation: Serve the dataset over https (or from object storage with TLS) and update its uri.
personal_data_encrypted_in_transit contains violation if {
	some i, ds in input.datasets
	personal(ds)
	uri := ds.uri
	is_string(uri)
	scheme := lower(split(trim_space(uri), "://")[0])
	scheme in {"http", "ftp"}
	contains(uri, "://")
	violation := {
		"msg": concat("", ["Dataset '", label(ds, i), "' holds personal data but is read over plain ", scheme, " (", scheme, "://)"]),
		"path": ["datasets", i, "uri"],
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only, so they stay out of the policy's output document).

# The path of keys in obj, cut after the first key that is missing (or null), so
# that a finding always points at a key that exists or at its existing parent.
key_path(obj, keys) := array.slice(keys, 0, count(present) + 1) if {
	present := {k | some k in numbers.range(1, count(keys)); object.get(obj, array.slice(keys, 0, k), null) != null}
}

# Text for a message. Messages are built with concat, not sprintf: regopy 1.5.2's
# sprintf wraps some computed strings in quotes.
str(value) := value if is_string(value)

str(value) := sprintf("%v", [value]) if not is_string(value)

setting(key, fallback) := value if {
	value := data.mlci_settings[key]
} else := fallback

personal(ds) if ds.personal_data == true

personal(ds) if count(list_of(ds, "pii_fields")) > 0

personal(ds) if count(list_of(ds, "sensitive_attributes")) > 0

personal(ds) if count(list_of(ds, "special_categories")) > 0

personal(ds) if count(list_of(ds, "vulnerable_subjects")) > 0

# Everything a dataset declares that makes it personal data.
personal_declarations(ds) := array.concat(
	array.concat(list_of(ds, "pii_fields"), list_of(ds, "sensitive_attributes")),
	array.concat(list_of(ds, "special_categories"), list_of(ds, "vulnerable_subjects")),
)

list_of(obj, key) := value if {
	value := obj[key]
	is_array(value)
} else := []

filled_string(value) if {
	is_string(value)
	trim_space(value) != ""
}

# The name of a dataset or environment, else its position.
label(ds, i) := name if {
	name := ds.name
	is_string(name)
} else := sprintf("#%d", [i])

shown(value) := "missing" if value == null

shown(value) := concat("", ["'", str(value), "'"]) if value != null

lawful_basis(basis) if basis in {
	"consent",
	"contract",
	"legal_obligation",
	"vital_interests",
	"public_task",
	"legitimate_interests",
}

legal_basis_msg(name, null) := concat("", [
	"Dataset '", name, "' holds personal data but declares no legal basis (GDPR Art. 6(1))",
])

legal_basis_msg(name, basis) := concat("", [
	"Dataset '", name, "' declares legal basis '", str(basis),
	"', which is not one of the GDPR Art. 6(1) bases (consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests)",
]) if basis != null

valid_duration(value) if {
	is_string(value)
	value != "P"
	regex.match(`^P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?$`, value)
}

duration_days(value) := sum(days) if {
	parts := regex.find_all_string_submatch_n(`([0-9]+)([YMWD])`, value, -1)
	days := [d | some part in parts; d := to_number(part[1]) * unit_days(part[2])]
}

unit_days("Y") := 365

unit_days("M") := 30

unit_days("W") := 7

unit_days("D") := 1

retention_msg(name, null) := concat("", ["Dataset '", name, "' holds personal data but declares no retention period"])

retention_msg(name, value) := concat("", [
	"Dataset '", name, "' has retention '", str(value),
	"', which is not an ISO-8601 duration such as P2Y, P18M or P365D",
]) if value != null

# (The lists are array comprehensions on one line: regopy 1.5.2 loses the
# first item of sort(set) built by a function, and finds nothing when a multi-line
# comprehension binds an object's key with `some z; x := obj[z]`.)
# The jurisdiction of a region: the settings jurisdictions list that names it
# (AWS, GCP and Azure regions: eu-west-2 is uk, eu-central-2 ch, westeurope eu),
# else the allowed_regions list that names it, else eu for eu-* and europe-*, else
# the region's first dash-separated word (us, ap, asia...).
jurisdiction(region) := zone if {
	zones := [z | some z in object.keys(setting("jurisdictions", {})); region in setting("jurisdictions", {})[z]]
	count(zones) > 0
	zone := sort(zones)[0]
} else := zone if {
	zones := [z | some z in object.keys(setting("allowed_regions", {})); region in setting("allowed_regions", {})[z]]
	count(zones) > 0
	zone := sort(zones)[0]
} else := "eu" if {
	strings.any_prefix_match(region, ["eu-", "europe-"])
} else := lower(split(region, "-")[0])

region_allowed(region, home, _) if region == home

region_allowed(region, _, zone) if {
	listed := setting("allowed_regions", {})[zone]
	region in listed
}

region_allowed(region, _, zone) if {
	not setting("allowed_regions", {})[zone]
	is_string(region)
	jurisdiction(region) == zone
}

where_msg(region) := concat("", ["runs in ", region, " (", jurisdiction(region), ")"]) if is_string(region)

where_msg(region) := "declares no region" if not is_string(region)

# Why the personal data of dataset ds (at index i) may leave its jurisdiction:
# it declares no region, or a place where the model is trained or served is not
# allowed for the dataset's jurisdiction.
region_violations(ds, i, _) := {violation} if {
	not filled_string(object.get(ds, "region", null))
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i),
			"' holds personal data but declares no region, so its residency cannot be checked",
		]),
		"path": ["datasets", i, "region"],
	}
}

region_violations(ds, i, spec) := {violation |
	home := ds.region
	zone := jurisdiction(home)
	some place in compute_locations(spec)
	not region_allowed(place.region, home, zone)
	not transfer_covered(ds, place.region)
	violation := {
		"msg": concat("", [
			"Dataset '", label(ds, i), "' holds personal data in ", home, " (", zone, ") but ",
			place.what, " ", where_msg(place.region),
		]),
		"path": place.path,
	}
} if filled_string(object.get(ds, "region", null))

# Where the model is trained and served: every environment, and the training job
# when it names a region.
compute_locations(spec) := environments | training if {
	environments := {place |
		some j
		env := spec.environments[j]
		is_object(env)
		place := {
			"what": concat("", ["environment '", label(env, j), "'"]),
			"region": object.get(env, "region", null),
			"path": ["environments", j, "region"],
		}
	}
	training := {place |
		region := spec.training.region
		place := {"what": "the training job", "region": region, "path": ["training", "region"]}
	}
}

dpia_triggers(spec) := ((risk | ai_act) | attributes) | (categories | vulnerable) if {
	risk := {"governance.risk is high" | spec.governance.risk == "high"}
	ai_act := {"governance.ai_act.risk_class is high" | spec.governance.ai_act.risk_class == "high"}
	attributes := {concat("", ["dataset '", label(ds, i), "' declares sensitive attributes"]) |
		some i
		ds := spec.datasets[i]
		count(list_of(ds, "sensitive_attributes")) > 0
	}
	categories := {concat("", ["dataset '", label(ds, i), "' holds special categories of data"]) |
		some i
		ds := spec.datasets[i]
		count(list_of(ds, "special_categories")) > 0
	}
	vulnerable := {concat("", ["dataset '", label(ds, i), "' is about vulnerable data subjects"]) |
		some i
		ds := spec.datasets[i]
		count(list_of(ds, "vulnerable_subjects")) > 0
	}
}

protected_fields(spec) := {lower(field) |
	some ds in spec.datasets
	some field in array.concat(list_of(ds, "pii_fields"), list_of(ds, "sensitive_attributes"))
	is_string(field)
}

logs_protected(field, protected) if lower(field) in protected

# A field of a nested request (request.email, payload.customer.phone) is that field.
logs_protected(field, protected) if {
	parts := split(lower(field), ".")
	count(parts) > 1
	parts[count(parts) - 1] in protected
}

logs_protected(field, protected) if {
	field == "*"
	count(protected) > 0
}

# ---------------------------------------------------------------------------
# Special categories (Art. 9, 10) and vulnerable subjects (Art. 8).

# Entries of special_categories that name vulnerable subjects rather than an
# Art. 9 category: they need a DPIA, not an Art. 9(2) condition.
vulnerable_category(category) if {
	is_string(category)
	regex.match(children_pattern, lower(category))
}

# Children however they are named: children, minors, kids, pupils, teenagers, infants,
# under_16... (not minority or kidney).
children_pattern := `child|(^|[^a-z])(minors?|kids?|pupils?|teens?|teenagers?|adolescents?|infants?|juveniles?|toddlers?|bab(y|ies)|schoolchildren)([^a-z]|$)|under_?(1[0-8]|[1-9])([^0-9]|$)`

about_children(ds) if {
	some entry in array.concat(list_of(ds, "vulnerable_subjects"), list_of(ds, "special_categories"))
	vulnerable_category(entry)
}

# A declared value that says something: not empty and not a placeholder (a DPIA
# reference "n/a" or "TBD" is no DPIA).
filled_declaration(value) if {
	filled_string(value)
	not placeholder(value)
}

# The same placeholders as the AI Act package's declared.
placeholder(value) if lower(trim_space(value)) in {
	"none", "n/a", "na", "n.a.", "tbd", "tba", "todo", "fixme", "wip", "pending", "later", "unknown",
	"-", "--", "?", "...", "xxx", "null", "nil", "false", "no", "not applicable", "not yet",
}

# The special category a field name points at: the first of the patterns that
# matches the lower-cased name (stems, or whole words between non-letters).
special_category_of(field) := category if {
	name := lower(field)
	categories := [pair[1] |
		some pair in special_category_patterns
		regex.match(pair[0], name)
		not regex.match(pair[2], name)
	]
	count(categories) > 0
	category := categories[0]
}

# A declared entry covers a category when it names it, in the schema's words
# (racial_or_ethnic_origin) or in any spelling the field patterns know (ethnicity).
category_declared(ds, category) if {
	some declared in list_of(ds, "special_categories")
	is_string(declared)
	special_category_of(declared) == category
}

# [pattern, category, exception]: device and key fingerprints are not biometric, an
# engine's diagnosis is no health data, and a running race's id is no racial origin.
special_category_patterns := [
	[
		`health|diagnos|medic(al|ation|ine)|patholog|symptom|disabilit|pregnan|prescription|illness|disease|allerg|vaccin|psychiatr|heart_?rate|glucose|cholesterol|hba1c|insulin|diabet|cancer|tumou?r|oncolog|depressi|anxiety_?(score|disorder|level)|smok(er|ing)|alcohol|sick_?(leave|days|note|ness)|(^|[^a-z])(hiv|bmi|icd_?1[01]|blood_?(type|group|pressure|sugar))([^a-z]|$)`,
		"health", `(engine|vehicle|car|machine|device|system|network|obd|battery|sensor)_?diagnos|diagnostic_?trouble|(ticket|incident|device|machine|vehicle)_?symptom`,
	],
	[
		`biometric|face_?(print|embedding|encoding|template|geometry|image|photo|crop|vector|descriptor|landmarks?)|facial|selfie|voice_?(print|embedding|template|sample)|speaker_?(embedding|vector)|gait|keystroke_?dynamic|retina|iris_?(scan|template|code)|palm_?print|fingerprint`,
		"biometric", `(device|browser|file|key|tls|ssh|cert|host|client)_?fingerprint`,
	],
	[`genetic|genom|genotyp|allele|(^|[^a-z])(dna|snps?)([^a-z]|$)`, "genetic", `^$`],
	[
		`ethnic|racial|skin_?colou?r|(^|[^a-z])race([^a-z]|$)`,
		"racial or ethnic origin", `(^|[^a-z])race_?(id|time|date|name|number|no|category|class|distance|results?|position|rank|type|course|event|bib|split|pace|finish|start|entry)`,
	],
	[`religio|(^|[^a-z])(faith|belief|beliefs)([^a-z]|$)`, "religious or philosophical belief", `^$`],
	[`politic|party_?(affiliation|membership|preference)|voting_?(intention|preference)`, "political opinion", `^$`],
	[`trade_?union|union_?member`, "trade union membership", `^$`],
	[`sexual|sex_?life|lgbt`, "sex life or sexual orientation", `^$`],
	[`criminal|conviction|arrest|parole|incarcerat|(^|[^a-z])(offence|offense|offences|offenses)([^a-z]|$)`, "criminal conviction", `^$`],
]

# ---------------------------------------------------------------------------
# Transfers (Art. 44-49).

eea(zone) if zone in setting("eea_jurisdictions", ["eu"])

# Where the data subjects are: data_subjects_region (a jurisdiction such as eu,
# eea or uk, or a region), else the jurisdiction of the dataset's region.
subjects_zone(ds) := zone if {
	declared := lower(trim_space(ds.data_subjects_region))
	zone := subjects_jurisdiction(declared)
} else := jurisdiction(ds.region) if filled_string(object.get(ds, "region", null))

# A country or area by its ISO code or English name (de, germany, nordics), a
# jurisdiction (eu, eea, uk), or a cloud region (eu-west-1).
subjects_jurisdiction(declared) := zone if {
	some zone, names in subject_places
	declared in names
} else := jurisdiction(declared) if {
	contains(declared, "-")
} else := declared

# Where data subjects are, as people write it, by jurisdiction: every EEA member
# state (Iceland, Liechtenstein and Norway too) is in the EU zone.
subject_places := {
	"eu": {
		"eu", "eea", "europe", "european-union", "benelux", "nordics",
		"at", "austria", "be", "belgium", "bg", "bulgaria", "hr", "croatia", "cy", "cyprus",
		"cz", "czechia", "czech-republic", "dk", "denmark", "ee", "estonia", "fi", "finland",
		"fr", "france", "de", "germany", "gr", "el", "greece", "hu", "hungary", "ie", "ireland",
		"it", "italy", "lv", "latvia", "lt", "lithuania", "lu", "luxembourg", "mt", "malta",
		"nl", "netherlands", "pl", "poland", "pt", "portugal", "ro", "romania", "sk", "slovakia",
		"si", "slovenia", "es", "spain", "se", "sweden", "is", "iceland", "li", "liechtenstein",
		"no", "norway",
	},
	"uk": {"uk", "gb", "united-kingdom", "great-britain", "england", "scotland", "wales", "northern-ireland"},
	"ch": {"ch", "switzerland"},
	"us": {"us", "usa", "united-states"},
}

# Where personal data of dataset ds is processed: where it is stored, and where the
# model is trained and served.
processing_places(ds, i, spec) := storage | compute_locations(spec) if {
	storage := {place |
		region := ds.region
		place := {"what": "its storage", "region": region, "path": ["datasets", i, "region"]}
	}
}

transfer_covered(ds, _) if {
	mechanism := ds.transfer_mechanism
	filled_declaration(mechanism)
	mechanism != "adequacy_decision"
}

transfer_covered(ds, region) if {
	ds.transfer_mechanism == "adequacy_decision"
	jurisdiction(region) in setting("adequate_jurisdictions", [])
}

# MLCI-GDPR-004 reports the places outside the dataset's own jurisdiction.
residency_reported(ds, region) if {
	home := ds.region
	filled_string(home)
	not region_allowed(region, home, jurisdiction(home))
}

transfer_msg(ds, region) := "no adequacy decision for it" if {
	ds.transfer_mechanism == "adequacy_decision"
	not jurisdiction(region) in setting("adequate_jurisdictions", [])
} else := "no transfer mechanism (transfer_mechanism)"
