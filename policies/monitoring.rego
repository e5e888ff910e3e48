# Monitoring and retraining checks: a model in production is watched, retraining
# is triggered by something that exists and compared with what it replaces, and
# new versions reach production gradually.
#
# Input: the mlproject.yaml spec as JSON. Every check is a partial set of
# {"msg", "path"} objects. Helpers are functions so that they never show up in
# data.mlci.monitoring.
#
# An environment is production-tier when its tier is production, or when it has no
# tier and is named production or prod.
package mlci.monitoring

import rego.v1

# METADATA
# title: Production is monitored for drift and latency
# description: >-
#   When the model is deployed to a production-tier environment, the monitoring
#   section must watch it: data drift (monitoring.drift) and latency
#   (monitoring.latency.p95_ms). Each missing monitor is one finding.
# custom:
#   id: MLCI-MON-001
#   severity: high
#   controls:
#     - EU AI Act Art. 72
#     - EU AI Act Art. 15(4)
#     - ISO/IEC 42001:2023 A.6.2.6
#   remediation: Add monitoring.drift (method, threshold, schedule, reference) and monitoring.latency.p95_ms for the production model.
production_monitored contains violation if {
	some env in object.get(input, "environments", [])
	production(env)
	some monitor in missing_monitors(input)
	violation := {
		"msg": concat("", ["The model serves in production '", name_of(env), "' without ", monitor.what]),
		"path": key_path(input, monitor.keys),
	}
}

# METADATA
# title: Production monitoring alerts someone
# description: >-
#   When the model is deployed to a production-tier environment,
#   monitoring.alerts must name at least one destination (slack:, email:,
#   pagerduty:, webhook:), so that drift and latency alerts reach a person.
# custom:
#   id: MLCI-MON-002
#   severity: medium
#   controls:
#     - EU AI Act Art. 72
#     - EU AI Act Art. 73
#     - ISO/IEC 27001:2022 A.8.16
#   remediation: Add the team's on-call destination (for example pagerduty:service or slack:#channel) to monitoring.alerts.
production_alerts_routed contains violation if {
	some env in object.get(input, "environments", [])
	production(env)
	size(object.get(input, ["monitoring", "alerts"], [])) == 0
	violation := {
		"msg": concat("", [
			"The model serves in production '", name_of(env),
			"' but monitoring.alerts names no destination, so no one is told when it drifts or slows down",
		]),
		"path": key_path(input, ["monitoring", "alerts"]),
	}
}

# METADATA
# title: Retraining on drift has a drift monitor
# description: >-
#   training.retrain_on_drift true retrains when the drift monitor fires, so
#   monitoring.drift must be configured; otherwise retraining never happens.
# custom:
#   id: MLCI-MON-003
#   severity: medium
#   controls:
#     - EU AI Act Art. 15(4)
#     - ISO/IEC 42001:2023 A.6.2.6
#   remediation: Configure monitoring.drift, or remove training.retrain_on_drift.
retrain_on_drift_has_monitor contains violation if {
	input.training.retrain_on_drift == true
	not is_object(object.get(input, ["monitoring", "drift"], null))
	violation := {
		"msg": "training.retrain_on_drift is true but no drift monitor is configured (monitoring.drift)",
		"path": ["training", "retrain_on_drift"],
	}
}

# METADATA
# title: Automatic retraining is compared with production
# description: >-
#   A model retrained without a person in the loop - on a schedule
#   (training.schedule) or on drift (training.retrain_on_drift) - must be
#   compared with the model in production before it replaces it: at least one of
#   evaluation.gates sets max_regression or max_regression_relative.
# custom:
#   id: MLCI-MON-004
#   severity: medium
#   controls:
#     - EU AI Act Art. 15(1)
#     - EU AI Act Art. 15(4)
#     - ISO/IEC 42001:2023 A.6.2.5
#   remediation: Set max_regression (or max_regression_relative) on the main metric's gate, so that a retrained model never replaces a better one.
retraining_compared_with_production contains violation if {
	trigger := retraining_trigger(input)
	size(object.get(input, ["evaluation", "gates"], [])) > 0
	not compares_with_production(input)
	violation := {
		"msg": concat("", [
			"The model is retrained automatically (", trigger,
			") but no evaluation gate compares it with the production model (max_regression or max_regression_relative)",
		]),
		"path": ["evaluation", "gates"],
	}
}

# METADATA
# title: Canary rollouts start with part of the traffic
# description: >-
#   A canary strategy whose first step sends 100 % of the traffic to the new
#   model is no canary: the first step's weight must be below 100.
# custom:
#   id: MLCI-MON-005
#   severity: medium
#   controls:
#     - ISO/IEC 27001:2022 A.8.32
#     - SOC 2 CC8.1
#   remediation: Start the canary with a small share of the traffic (for example weight 10 with a pause) and raise it in later steps.
canary_starts_small contains violation if {
	some j, env in input.environments
	env.strategy.type == "canary"
	first := env.strategy.steps[0]
	is_number(first.weight)
	first.weight >= 100
	violation := {
		"msg": concat("", [
			"The canary of environment '", name_of(env), "' sends all traffic to the new model at its first step",
		]),
		"path": ["environments", j, "strategy", "steps", 0, "weight"],
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only).

# The path of keys in obj, cut after the first key that is missing (or null), so
# that a finding always points at a key that exists or at its existing parent.
key_path(obj, keys) := array.slice(keys, 0, count(present) + 1) if {
	present := {k | some k in numbers.range(1, count(keys)); object.get(obj, array.slice(keys, 0, k), null) != null}
}

# The number of items of an array; anything else counts as empty.
size(value) := count(value) if is_array(value)

size(value) := 0 if not is_array(value)

production(env) if env.tier == "production"

production(env) if {
	not env.tier
	is_string(env.name)
	lower(env.name) in {"production", "prod"}
}

name_of(env) := env.name if is_string(env.name)

name_of(env) := "unnamed" if not is_string(env.name)

missing_monitors(spec) := drift | latency if {
	drift := {{"what": "drift monitoring (monitoring.drift)", "keys": ["monitoring", "drift"]} |
		not is_object(object.get(spec, ["monitoring", "drift"], null))
	}
	latency := {{"what": "latency monitoring (monitoring.latency.p95_ms)", "keys": ["monitoring", "latency", "p95_ms"]} |
		not is_number(object.get(spec, ["monitoring", "latency", "p95_ms"], null))
	}
}

retraining_trigger(spec) := "training.schedule" if {
	is_string(spec.training.schedule)
} else := "training.retrain_on_drift" if {
	spec.training.retrain_on_drift == true
}

compares_with_production(spec) if {
	some gate in spec.evaluation.gates
	some key in ["max_regression", "max_regression_relative"]
	is_number(gate[key])
}
