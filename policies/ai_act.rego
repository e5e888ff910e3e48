# EU AI Act checks for the system that governance.ai_act classifies: prohibited
# practices, and the obligations of high-risk systems (Chapter III, Section 2 and
# post-market monitoring).
#
# A system is high-risk when governance.ai_act.risk_class is high, or when it
# names an Annex III area (governance.ai_act.annex_iii_area), which Art. 6(2) makes
# high-risk.
#
# Input: the mlproject.yaml spec as JSON. Settings: data.mlci_settings (optional,
# see settings.json). Every check is a partial set of {"msg", "path"} objects.
# Helpers are functions so that they never show up in data.mlci.ai_act.
package mlci.ai_act

import rego.v1

# METADATA
# title: The AI Act classification is complete and consistent
# description: >-
#   A high-risk AI system must state its intended purpose
#   (governance.ai_act.intended_purpose) and its Annex III area
#   (governance.ai_act.annex_iii_area); a system that names an Annex III area is
#   high-risk (Art. 6(2)), so its risk_class must be high; and governance.risk
#   must agree with a high risk_class (high, not minimal or limited).
# custom:
#   id: MLCI-AIA-001
#   severity: high
#   controls:
#     - EU AI Act Art. 6
#     - EU AI Act Art. 13(3)(b)
#     - EU AI Act Annex III
#   remediation: Complete governance.ai_act (risk_class high, intended_purpose, annex_iii_area) and make governance.risk say high too.
classification_consistent contains violation if {
	high_risk(input)
	some key in ["intended_purpose", "annex_iii_area"]
	not declared(object.get(ai_act(input), key, null))
	violation := {
		"msg": concat("", ["The high-risk AI system does not declare its ", key, " (governance.ai_act.", key, ")"]),
		"path": key_path(input, ["governance", "ai_act", key]),
	}
}

classification_consistent contains violation if {
	filled_string(ai_act(input).annex_iii_area)
	class := object.get(ai_act(input), "risk_class", null)
	not class in {"high", "unacceptable"}
	violation := {
		"msg": concat("", [
			"governance.ai_act names Annex III area '", ai_act(input).annex_iii_area,
			"', which makes the system high-risk (Art. 6(2)), but its risk_class is ", shown(class),
		]),
		"path": key_path(input, ["governance", "ai_act", "risk_class"]),
	}
}

classification_consistent contains violation if {
	high_risk(input)
	risk := input.governance.risk
	risk != "high"
	violation := {
		"msg": concat("", [
			"governance.risk is '", str(risk), "' but governance.ai_act classifies the system as high-risk",
		]),
		"path": ["governance", "risk"],
	}
}

# METADATA
# title: A high-risk system has technical documentation
# description: >-
#   A high-risk AI system must have technical documentation (Art. 11, Annex IV),
#   referenced as its model card in governance.model_card.
# custom:
#   id: MLCI-AIA-002
#   severity: high
#   controls:
#     - EU AI Act Art. 11
#     - EU AI Act Annex IV
#   remediation: Write the model card (intended purpose, data, metrics, limitations, oversight) and reference it in governance.model_card.
technical_documentation_required contains violation if {
	high_risk(input)
	not declared(object.get(input, ["governance", "model_card"], null))
	violation := {
		"msg": "The high-risk AI system has no technical documentation (governance.model_card)",
		"path": key_path(input, ["governance", "model_card"]),
	}
}

# METADATA
# title: A high-risk system keeps its logs for at least six months
# description: >-
#   A high-risk AI system must record events automatically and keep the logs for
#   at least six months (Art. 12, 19(1), 26(6)): governance.ai_act.log_retention
#   is an ISO-8601 period of at least the settings' min_log_retention_days (180 by
#   default; a month counts 30 days, a year 365).
# custom:
#   id: MLCI-AIA-003
#   severity: high
#   controls:
#     - EU AI Act Art. 12
#     - EU AI Act Art. 19
#     - EU AI Act Art. 26(6)
#   remediation: Keep the system's logs for at least six months and set governance.ai_act.log_retention (for example P1Y).
record_keeping_required contains violation if {
	high_risk(input)
	retention := object.get(ai_act(input), "log_retention", null)
	minimum := setting("min_log_retention_days", 180)
	not kept_long_enough(retention, minimum)
	violation := {
		"msg": log_retention_msg(retention, minimum),
		"path": key_path(input, ["governance", "ai_act", "log_retention"]),
	}
}

# METADATA
# title: A high-risk system is under human oversight
# description: >-
#   A high-risk AI system must be overseen by people (Art. 14): a documented
#   procedure to stop the system or override it (governance.ai_act.stop_procedure),
#   and a human approval before every production-tier environment
#   (approvals.required at least 1).
# custom:
#   id: MLCI-AIA-004
#   severity: high
#   controls:
#     - EU AI Act Art. 14
#     - EU AI Act Art. 26(2)
#   remediation: Document how the system is stopped or overridden in governance.ai_act.stop_procedure, and require approvals before production.
human_oversight_required contains violation if {
	high_risk(input)
	not declared(object.get(ai_act(input), "stop_procedure", null))
	violation := {
		"msg": "The high-risk AI system documents no procedure to stop or override it (governance.ai_act.stop_procedure)",
		"path": key_path(input, ["governance", "ai_act", "stop_procedure"]),
	}
}

human_oversight_required contains violation if {
	high_risk(input)
	some j, env in input.environments
	production(env)
	required := object.get(env, ["approvals", "required"], 0)
	not approved_by_a_person(required)
	violation := {
		"msg": concat("", [
			"The high-risk AI system reaches production '", name_of(env), "' without a human approval",
		]),
		"path": array.concat(["environments", j], key_path(env, ["approvals", "required"])),
	}
}

# METADATA
# title: A high-risk system is gated on accuracy and robustness
# description: >-
#   The evaluation gates of a high-risk AI system must measure accuracy (a gate on
#   accuracy, f1, roc_auc/auc/auroc, auprc, precision, recall, rmse, mae, (s/w)mape,
#   r2, log_loss, brier, ndcg, gini, ks, wer...)
#   and robustness (a gate whose metric names robustness, adversarial attacks,
#   perturbation, noise, typos, blur, occlusion, distortion, degradation, invariance,
#   stability, shift, ood, corruption or missing features) (Art. 15).
# custom:
#   id: MLCI-AIA-005
#   severity: high
#   controls:
#     - EU AI Act Art. 15(1)
#     - EU AI Act Art. 15(3)
#     - EU AI Act Art. 15(4)
#   remediation: Add evaluation gates on an accuracy metric and on a robustness metric (for example the accuracy under input perturbation).
accuracy_and_robustness_gated contains violation if {
	high_risk(input)
	some kind in ["accuracy", "robustness"]
	not gated(input, kind)
	violation := {
		"msg": concat("", ["The high-risk AI system has no evaluation gate on ", kind, " (evaluation.gates)"]),
		"path": key_path(input, ["evaluation", "gates"]),
	}
}

# METADATA
# title: A high-risk system has a post-market monitoring plan
# description: >-
#   The provider of a high-risk AI system must monitor it after it is placed on
#   the market according to a plan (Art. 72), referenced in
#   governance.ai_act.post_market_monitoring.
# custom:
#   id: MLCI-AIA-006
#   severity: medium
#   controls:
#     - EU AI Act Art. 72
#     - EU AI Act Art. 73
#   remediation: Write the post-market monitoring plan (what is collected, reviewed and reported, and when) and reference it in governance.ai_act.post_market_monitoring.
post_market_monitoring_required contains violation if {
	high_risk(input)
	not declared(object.get(ai_act(input), "post_market_monitoring", null))
	violation := {
		"msg": "The high-risk AI system has no post-market monitoring plan (governance.ai_act.post_market_monitoring)",
		"path": key_path(input, ["governance", "ai_act", "post_market_monitoring"]),
	}
}

# METADATA
# title: Prohibited AI practices are not deployed
# description: >-
#   A system whose governance.ai_act.risk_class is unacceptable is a prohibited
#   practice (Art. 5) and must not be built or deployed.
# custom:
#   id: MLCI-AIA-007
#   severity: critical
#   controls:
#     - EU AI Act Art. 5
#   remediation: Stop the project, or change its purpose so that it is no prohibited practice and classify it again.
prohibited_practice contains violation if {
	ai_act(input).risk_class == "unacceptable"
	violation := {
		"msg": "governance.ai_act classifies the system as an unacceptable-risk, prohibited practice (EU AI Act Art. 5)",
		"path": ["governance", "ai_act", "risk_class"],
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only).

ai_act(spec) := section if {
	section := spec.governance.ai_act
	is_object(section)
} else := {}

high_risk(spec) if ai_act(spec).risk_class == "high"

high_risk(spec) if {
	filled_string(ai_act(spec).annex_iii_area)
	not ai_act(spec).risk_class == "unacceptable"
}

setting(key, fallback) := value if {
	value := data.mlci_settings[key]
} else := fallback

# The path of keys in obj, cut after the first key that is missing (or null), so
# that a finding always points at a key that exists or at its existing parent.
key_path(obj, keys) := array.slice(keys, 0, count(present) + 1) if {
	present := {k | some k in numbers.range(1, count(keys)); object.get(obj, array.slice(keys, 0, k), null) != null}
}

# Text for a message. Messages are built with concat, not sprintf: regopy 1.5.2's
# sprintf wraps some computed strings in quotes.
str(value) := value if is_string(value)

str(value) := sprintf("%v", [value]) if not is_string(value)

shown(null) := "missing"

shown(value) := concat("", ["'", str(value), "'"]) if value != null

filled_string(value) if {
	is_string(value)
	trim_space(value) != ""
}

# A declaration that says something: an intended purpose or a plan reference of
# "TBD", "n/a" or "-" declares nothing.
declared(value) if {
	filled_string(value)
	not placeholder(value)
}

# The same placeholders as the GDPR package's filled_declaration.
placeholder(value) if lower(trim_space(value)) in {
	"none", "n/a", "na", "n.a.", "tbd", "tba", "todo", "fixme", "wip", "pending", "later", "unknown",
	"-", "--", "?", "...", "xxx", "null", "nil", "false", "no", "not applicable", "not yet",
}

production(env) if env.tier == "production"

production(env) if {
	not env.tier
	is_string(env.name)
	lower(env.name) in {"production", "prod"}
}

name_of(env) := env.name if is_string(env.name)

name_of(env) := "unnamed" if not is_string(env.name)

approved_by_a_person(required) if {
	is_number(required)
	required >= 1
}

kept_long_enough(retention, minimum) if {
	is_string(retention)
	regex.match(`^P([0-9]+Y)?([0-9]+M)?([0-9]+W)?([0-9]+D)?$`, retention)
	retention != "P"
	duration_days(retention) >= minimum
}

duration_days(value) := sum(days) if {
	parts := regex.find_all_string_submatch_n(`([0-9]+)([YMWD])`, value, -1)
	days := [d | some part in parts; d := to_number(part[1]) * unit_days(part[2])]
}

unit_days("Y") := 365

unit_days("M") := 30

unit_days("W") := 7

unit_days("D") := 1

log_retention_msg(null, minimum) := concat("", [
	"The high-risk AI system does not say how long its logs are kept (governance.ai_act.log_retention); at least ",
	str(minimum), " days are required",
])

log_retention_msg(retention, minimum) := concat("", [
	"The high-risk AI system keeps its logs for ", str(retention), ", less than the required ", str(minimum), " days",
]) if retention != null

gated(spec, kind) if {
	some gate in spec.evaluation.gates
	is_string(gate.metric)
	regex.match(metric_patterns[kind], lower(gate.metric))
}

metric_patterns := {
	# Whole words, so that a compound such as auroc, wmape or rmsle needs its own entry.
	"accuracy": `accura|(^|[^a-z])(f1|f2|f_1|fbeta|f_beta|auc|roc|auroc|auprc|aucpr|au_roc|au_prc|pr_auc|ap|average_precision|precision|recall|rmse|rmsle|mse|msle|mae|mase|mape|smape|wmape|wape|r2|r_squared|rsquared|explained_variance|log_?loss|loss|nll|cross_entropy|perplexity|brier|ndcg|map|mrr|hit_rate|hitrate|top_?k|kappa|mcc|iou|miou|dice|bleu|rouge|chrf|wer|cer|exact_match|error|error_rate|specificity|sensitivity|gini|ks|c_index|concordance|pinball|crps)([^a-z]|$)`,
	"robustness": `robust|adversar|attack|perturb|noise|noisy|typo|misspell|jitter|blur|occlu|distort|degrad|invarian|stabilit|shift|(^|[^a-z])ood([^a-z]|$)|out_of_distribution|corrupt|stress|worst_case|missing_(feature|value|data)`,
}
