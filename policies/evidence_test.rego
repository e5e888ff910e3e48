# Unit tests for data.mlci.evidence.
#
# Tests replace parts of the input (with input.x as ...), never the whole input:
# regopy 1.5.2 crashes on `with input as {...}` when the rule under test calls a
# builtin. Values given with `with` are local variables or expressions, never a bare
# rule name. Lists are checked with count over a comprehension, not `every`: regopy
# 1.5.2 holds `every x in xs { not f(x) }` true whatever f says.
package mlci.evidence_test

import rego.v1

import data.mlci.evidence

paths(violations) := {v.path | some v in violations}

production := {"name": "production", "tier": "production", "approvals": {"approvers": ["carol", "dave"]}}

staging := {"name": "staging", "tier": "staging", "cluster": "staging.example.com"}

customers := {"name": "customers", "personal_data": true}

iris := {"name": "iris", "personal_data": false}

# MLCI-EVI-001 referenced_documents_exist (facts: input.mlci_facts.documents)

test_documents_that_exist_pass if {
	count(evidence.referenced_documents_exist) == 0 with input.mlci_facts as {"documents": {"governance.model_card": true}}
		with input.governance as {"model_card": "docs/model_card.md"}
}

test_no_facts_no_finding if {
	count(evidence.referenced_documents_exist) == 0 with input.governance as {"model_card": "docs/model_card.md"}
}

test_a_missing_model_card_fails_at_its_key if {
	violations := evidence.referenced_documents_exist with input.mlci_facts as {"documents": {"governance.model_card": false}}
		with input.governance as {"model_card": "docs/card.md"}
	paths(violations) == {["governance", "model_card"]}
	some v in violations
	contains(v.msg, "docs/card.md")
}

test_a_missing_stop_procedure_fails_at_its_nested_key if {
	facts := {"documents": {"governance.ai_act.stop_procedure": false, "governance.dpia": true}}
	violations := evidence.referenced_documents_exist with input.mlci_facts as facts
		with input.governance as {"dpia": "docs/dpia.pdf", "ai_act": {"stop_procedure": "docs/stop.md"}}
	paths(violations) == {["governance", "ai_act", "stop_procedure"]}
}

# MLCI-EVI-002 no_placeholders_in_production

test_real_values_pass if {
	count(evidence.no_placeholders_in_production) == 0 with input.environments as [production]
		with input.model as {"registry": "https://mlflow.acme-ml.eu"}
		with input.ci as {"image_registry": "ghcr.io/acme"}
		with input.monitoring as {"alerts": ["email:ml-team@acme-ml.eu", "slack:#todo-app-alerts"]}
}

test_placeholders_without_production_pass if {
	count(evidence.no_placeholders_in_production) == 0 with input.environments as [staging]
		with input.model as {"registry": "https://mlflow.example.com"}
}

test_a_placeholder_registry_in_production_fails if {
	violations := evidence.no_placeholders_in_production with input.environments as [staging, production]
		with input.model as {"registry": "https://mlflow.example.com"}
	paths(violations) == {["model", "registry"]}
}

test_only_production_environments_are_walked if {
	prod := object.union(production, {"cluster": "prod.cluster.test"})
	violations := evidence.no_placeholders_in_production with input.environments as [staging, prod]
	paths(violations) == {["environments", 1, "cluster"]}
}

test_reserved_hosts_are_placeholders if {
	hosts := [
		"https://mlflow.example.com/", "registry.example.net/ml", "git@git.example.org:a/b.git",
		"https://x.test", "https://api.invalid:8443", "http://localhost:5000", "localhost:5000/ml",
		"http://127.0.0.1:9090", "https://host.example", "email:someone@example.com",
	]
	count([host | some host in hosts; evidence.placeholder_host(host)]) == count(hosts)
}

test_real_hosts_are_not_placeholders if {
	hosts := [
		"https://mlflow.acme-ml.eu", "ghcr.io/acme", "s3://bucket/example.com-exports",
		"data/test.csv", "https://examples.org", "https://example.company.eu", "https://mytest.eu",
		"example", "0.0.0.0", "data/example.csv",
	]
	count([host | some host in hosts; evidence.placeholder_host(host)]) == 0
}

test_markers_are_placeholders if {
	values := ["TODO", "TBD: later", "see FIXME", "changeme", "Change-Me", "<your-team>", "your-registry/ml", "<pad> then <registry>"]
	count([value | some value in values; evidence.placeholder_marker(value)]) == count(values)
}

test_ordinary_words_are_not_markers if {
	values := ["todo-list classifier", "a to-do app", "tbd_score", "exchange metrics", "train.py < in.csv", "<pad>", "<unk>", "<s>", "<extra_id_0>", "<mask> and <unused12>"]
	count([value | some value in values; evidence.placeholder_marker(value)]) == 0
}

test_placeholder_people_are_caught_in_identity_fields if {
	violations := evidence.no_placeholders_in_production with input.environments as [object.union(production, {"approvals": {"approvers": ["Approver-One", "carol"]}})]
		with input.project as {"owners": ["john.doe"], "authors": ["user1@acme-ml.eu", "bob"]}
	paths(violations) == {
		["environments", 0, "approvals", "approvers", 0],
		["project", "owners", 0],
		["project", "authors", 0],
	}
}

test_people_words_outside_identity_fields_pass if {
	count(evidence.no_placeholders_in_production) == 0 with input.environments as [production]
		with input.training as {"params": {"user": "owner"}}
}

# MLCI-EVI-003 personal_data_not_on_hosted_runners

test_no_personal_data_passes if {
	count(evidence.personal_data_not_on_hosted_runners) == 0 with input.training as {"command": ["python"]}
		with input.datasets as [iris]
}

test_personal_data_on_default_providers_fails if {
	violations := evidence.personal_data_not_on_hosted_runners with input.training as {"command": ["python"]}
		with input.datasets as [iris, customers]
	paths(violations) == {["ci"]}
}

test_personal_fields_count_as_personal_data if {
	violations := evidence.personal_data_not_on_hosted_runners with input.training as {"command": ["python"]}
		with input.datasets as [{"name": "x", "pii_fields": ["email"]}]
		with input.ci as {"providers": ["github"]}
	paths(violations) == {["ci", "providers"]}
}

test_self_hosted_labels_pass if {
	count(evidence.personal_data_not_on_hosted_runners) == 0 with input.training as {"command": ["python"]}
		with input.datasets as [customers]
		with input.ci as {"providers": ["github", "gitlab", "azure"], "runner_labels": ["self-hosted", "eu-central-1"]}
}

test_hosted_labels_fail_at_the_label if {
	violations := evidence.personal_data_not_on_hosted_runners with input.training as {"command": ["python"]}
		with input.datasets as [customers]
		with input.ci as {"providers": ["github"], "runner_labels": ["gpu", "ubuntu-24.04"]}
	paths(violations) == {["ci", "runner_labels", 1]}
}

test_jenkins_only_passes if {
	count(evidence.personal_data_not_on_hosted_runners) == 0 with input.training as {"command": ["python"]}
		with input.datasets as [customers]
		with input.ci as {"providers": ["jenkins"]}
}

test_self_hosted_with_a_system_label_passes if {
	count(evidence.personal_data_not_on_hosted_runners) == 0 with input.training as {"command": ["python"]}
		with input.datasets as [customers]
		with input.ci as {"providers": ["github"], "runner_labels": ["self-hosted", "ubuntu-22.04"]}
}
