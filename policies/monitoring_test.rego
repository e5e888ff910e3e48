# Unit tests for data.mlci.monitoring.
#
# Tests replace parts of the input (with input.monitoring as ...), never the whole
# input: regopy 1.5.2 crashes on `with input as {...}` when the rule under test
# calls a builtin.
package mlci.monitoring_test

import rego.v1

import data.mlci.monitoring

production_env := {"name": "production", "tier": "production", "region": "eu-west-1"}

watched := {
	"drift": {"method": "psi", "threshold": 0.1},
	"latency": {"p95_ms": 250},
	"alerts": ["slack:#ml-alerts"],
}

paths(violations) := {v.path | some v in violations}

# MLCI-MON-001 production_monitored

test_production_monitored_passes if {
	mon := watched
	count(monitoring.production_monitored) == 0 with input.environments as [production_env] with input.monitoring as mon
}

test_production_without_drift_and_latency_fails if {
	mon := {"alerts": ["slack:#ml-alerts"]}
	violations := monitoring.production_monitored with input.environments as [production_env] with input.monitoring as mon
	paths(violations) == {["monitoring", "drift"], ["monitoring", "latency"]}
}

test_production_without_monitoring_section_fails if {
	violations := monitoring.production_monitored with input.environments as [production_env] with input.monitoring as null
	paths(violations) == {["monitoring"]}
}

test_staging_needs_no_monitoring if {
	env := {"name": "staging", "tier": "staging", "region": "eu-west-1"}
	count(monitoring.production_monitored) == 0 with input.environments as [env] with input.monitoring as {}
}

# MLCI-MON-002 production_alerts_routed

test_production_alerts_routed_passes if {
	mon := watched
	count(monitoring.production_alerts_routed) == 0 with input.environments as [production_env] with input.monitoring as mon
}

test_production_without_alerts_fails if {
	mon := object.remove(watched, ["alerts"])
	violations := monitoring.production_alerts_routed with input.environments as [production_env] with input.monitoring as mon
	paths(violations) == {["monitoring", "alerts"]}
}

# MLCI-MON-003 retrain_on_drift_has_monitor

test_retrain_on_drift_with_monitor_passes if {
	mon := watched
	count(monitoring.retrain_on_drift_has_monitor) == 0 with input.training as {"retrain_on_drift": true} with input.monitoring as mon
}

test_retrain_on_drift_without_monitor_fails if {
	mon := object.remove(watched, ["drift"])
	violations := monitoring.retrain_on_drift_has_monitor with input.training as {"retrain_on_drift": true} with input.monitoring as mon
	paths(violations) == {["training", "retrain_on_drift"]}
}

# MLCI-MON-004 retraining_compared_with_production

test_scheduled_retraining_compared_passes if {
	gates := [{"metric": "f1", "threshold": 0.8}, {"metric": "auc", "threshold": 0.9, "max_regression_relative": 0.02}]
	count(monitoring.retraining_compared_with_production) == 0 with input.training as {"schedule": "0 3 * * 1"}
		with input.evaluation as {"gates": gates}
}

test_scheduled_retraining_not_compared_fails if {
	gates := [{"metric": "f1", "threshold": 0.8}]
	violations := monitoring.retraining_compared_with_production with input.training as {"schedule": "0 3 * * 1"}
		with input.evaluation as {"gates": gates}
	paths(violations) == {["evaluation", "gates"]}
}

test_drift_retraining_not_compared_fails if {
	gates := [{"metric": "f1", "threshold": 0.8}]
	violations := monitoring.retraining_compared_with_production with input.training as {"retrain_on_drift": true}
		with input.evaluation as {"gates": gates}
	paths(violations) == {["evaluation", "gates"]}
}

test_manual_training_needs_no_comparison if {
	gates := [{"metric": "f1", "threshold": 0.8}]
	count(monitoring.retraining_compared_with_production) == 0 with input.training as {"command": "python train.py"}
		with input.evaluation as {"gates": gates}
}

# MLCI-MON-005 canary_starts_small

test_canary_starting_small_passes if {
	env := object.union(object.remove(production_env, ["strategy"]), {"strategy": {"type": "canary", "steps": [{"weight": 10}, {"weight": 100}]}})
	count(monitoring.canary_starts_small) == 0 with input.environments as [env]
}

test_canary_starting_at_full_traffic_fails if {
	env := object.union(object.remove(production_env, ["strategy"]), {"strategy": {"type": "canary", "steps": [{"weight": 100}]}})
	violations := monitoring.canary_starts_small with input.environments as [env]
	paths(violations) == {["environments", 0, "strategy", "steps", 0, "weight"]}
}
