# Unit tests for data.mlci.supply_chain.
#
# Tests replace parts of the input (with input.training as ...), never the whole
# input: regopy 1.5.2 crashes on `with input as {...}` when the rule under test
# calls a builtin.
# Values given with `with` are local variables or expressions, never a bare rule
# name: regopy 1.5.2 ignores `with input.x as some_rule`.
package mlci.supply_chain_test

import rego.v1

import data.mlci.supply_chain

digest := "9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7"

pinned := concat("", ["python:3.11-slim@sha256:", digest])

training := {"image": pinned, "params": {"seed": 1}, "resources": {"cpu": "1", "memory": "1Gi"}}

serving := {"port": 8080, "resources": {"cpu": "500m", "memory": "512Mi"}}

paths(violations) := {v.path | some v in violations}

# obj with the keys of changes replaced, not merged (object.union merges nested
# objects in OPA but not in regopy 1.5.2, so tests never rely on the merge).
patched(obj, changes) := object.union(object.remove(obj, object.keys(changes)), changes)

# MLCI-SUP-001 images_pinned_by_digest

test_images_pinned_passes if {
	count(supply_chain.images_pinned_by_digest) == 0 with input.training as patched(training, {})
		with input.serving as patched(serving, {"image": concat("", ["ghcr.io/acme/serve@sha256:", digest])})
}

test_training_image_tag_fails if {
	violations := supply_chain.images_pinned_by_digest with input.training as patched(training, {"image": "python:3.11-slim"})
	paths(violations) == {["training", "image"]}
}

test_serving_image_short_digest_fails if {
	violations := supply_chain.images_pinned_by_digest with input.training as patched(training, {})
		with input.serving as patched(serving, {"image": "ghcr.io/acme/serve@sha256:abc"})
	paths(violations) == {["serving", "image"]}
}

test_training_image_missing_fails if {
	violations := supply_chain.images_pinned_by_digest with input.training as object.remove(training, ["image"])
	paths(violations) == {["training", "image"]}
}

# MLCI-SUP-002 no_secrets_in_spec

test_no_secrets_passes if {
	count(supply_chain.no_secrets_in_spec) == 0 with input.training as patched(training, {"env": {
		"HF_TOKEN": "${HF_TOKEN}",
		"DB_PASSWORD": "vault:secret/db#password",
		"api_key": "",
		"client_secret": "$CLIENT_SECRET",
		"auth_token": "${{ secrets.AUTH_TOKEN }}",
		"max_tokens": 512,
		"tokenizer": "bert-base-uncased",
		"image_pull_secret": "regcred",
	}})
		with input.model as {"registry": "https://mlflow.example.com"}
		with input.datasets as [{"uri": "s3://bucket/data.csv", "source": "git@github.com:acme/data.git"}]
}

test_aws_key_fails if {
	violations := supply_chain.no_secrets_in_spec with input.datasets as [{"name": "d"}, {"uri": "s3://AKIAABCDEFGHIJKLMNOP@bucket/x"}]
	paths(violations) == {["datasets", 1, "uri"]}
	some v in violations
	not contains(v.msg, "AKIA")
}

test_private_key_fails if {
	violations := supply_chain.no_secrets_in_spec with input.serving as {"tls": {"key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."}}
	paths(violations) == {["serving", "tls", "key"]}
}

test_tokens_fail if {
	violations := supply_chain.no_secrets_in_spec with input.ci as {
		"notes": ["ghp_0123456789abcdefghijABCDEFGHIJ012345", "glpat-abcdefghij0123456789", "xoxb-1234567890-abcdef"],
	}
	paths(violations) == {["ci", "notes", 0], ["ci", "notes", 1], ["ci", "notes", 2]}
}

test_secret_key_names_fail if {
	violations := supply_chain.no_secrets_in_spec with input.training as patched(training, {"env": {
		"password": "hunter2",
		"API-KEY": "abc",
		"db_password": "pw",
		"client_secret": "s3cr3t",
	}})
	paths(violations) == {
		["training", "env", "password"],
		["training", "env", "API-KEY"],
		["training", "env", "db_password"],
		["training", "env", "client_secret"],
	}
}

test_password_in_url_fails if {
	violations := supply_chain.no_secrets_in_spec with input.model as {"registry": "https://user:pa55@mlflow.example.com"}
	paths(violations) == {["model", "registry"]}
}

# Each of these, as the value of an innocent key in training.params, is a secret.
secret_values := [
	"postgresql://admin:pw@db.internal:5432/app",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=bXlzZWNyZXRrZXkxMjM0NTY3ODkwYWJjZGVm==;EndpointSuffix=core.windows.net",
	"https://acme.blob.core.windows.net/c/x.csv?sv=2022-11-02&sp=r&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%3D",
	"hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
	"sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
	"sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd",
	"AKIAIOSFODNN7EXAMPLE",
	"ghp_0123456789abcdefghijABCDEFGHIJ012345",
	"xoxb-1234567890-abcdefghij",
	"AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
	"Bearer abcdefghijklmnopqrstuvwxyz012345",
	"https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX",
	"redis://:R3dis-Weather-Pw@cache.internal:6379/0",
	"jdbc:postgresql://pg.internal:5432/geo?user=ml&password=Geo-Pass-2026",
	"Server=tcp:mlsql.database.windows.net,1433;Database=fares;User ID=ml;Password=Pa55word-Fares!;Encrypt=true",
	"Driver={ODBC Driver 18};Server=db;UID=ml;PWD=hunter22",
]

test_secret_value_shapes_fail if {
	params := {sprintf("p%d", [i]): v | some i, v in secret_values}
	violations := supply_chain.no_secrets_in_spec with input.training as patched(training, {"params": params})
	count(violations) == count(secret_values)
	every v in violations {
		not contains_any(v.msg, secret_values)
	}
}

contains_any(text, values) if {
	some v in values
	contains(text, v)
}

test_plural_secret_names_fail if {
	params := {"api_keys": ["k1-aaaaaaaa", "k2-bbbbbbbb"]}
	violations := supply_chain.no_secrets_in_spec with input.training as patched(training, {"params": params})
	paths(violations) == {["training", "params", "api_keys", 0], ["training", "params", "api_keys", 1]}
}

test_secret_key_names_anywhere_in_the_key_fail if {
	env := {
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
		"HF_TOKEN": "abc",
		"DB_PASS": "hunter2",
		"SMTP_PASSWORD_PROD": "hunter2",
		"STORAGE_ACCOUNT_KEY": "abc",
		"PGPASSWORD": "hunter2",
		"SSH_KEY": "AAAAB3NzaC1yc2E",
	}
	violations := supply_chain.no_secrets_in_spec with input.ci as {"env": env}
		with input.training as patched(training, {"params": {"db": {"dbPassword": "hunter2", "github_token": "x"}}})
	paths(violations) == {
		["ci", "env", "AWS_SECRET_ACCESS_KEY"],
		["ci", "env", "HF_TOKEN"],
		["ci", "env", "DB_PASS"],
		["ci", "env", "SMTP_PASSWORD_PROD"],
		["ci", "env", "STORAGE_ACCOUNT_KEY"],
		["ci", "env", "PGPASSWORD"],
		["ci", "env", "SSH_KEY"],
		["training", "params", "db", "dbPassword"],
		["training", "params", "db", "github_token"],
	}
}

test_false_friends_pass if {
	params := {
		"tokenizer": "bert-base-uncased",
		"max_tokens": "512",
		"max_new_tokens": 256,
		"pad_token": "[PAD]",
		"eos_token": "</s>",
		"secret_name": "db-credentials",
		"password_file": "/run/secrets/db",
		"token_limit": "4096",
		"pass_rate": "0.9",
		"AWS_ACCESS_KEY_ID_REF": "vault:aws/id",
		"keyboard_layout": "de",
		"primary_key": "customer_id",
		"sort_key": "ts",
		"use_auth_token": "true",
		"model": "RandomForestClassifier2024",
		"run_name": "nightly-2026-11-30T02-00-00",
		"digest": "b7a037690ad9ae9d84c95fe5767ac73cc890b5ac90024bc8d6cfa48538a8001c",
		"task": "risk-model-scoring-for-applications-v2",
		"ssh_key": "keys/deploy.pem",
		"service_account_key": "secrets/sa.json",
		"compass_heading": "north",
		"secret_scope": "ml-prod",
		"token_audience": "sts.amazonaws.com",
		"token_issuer": "https://token.actions.githubusercontent.com",
		"secret_backend": "vault",
		"password_policy": "strong",
		"conn": "Server=tcp:db;Database=ml;Authentication=Active Directory Default;Password=${DB_PASSWORD}",
		"report_url": "https://reports.citycab.eu/view?token_type=bearer&page=2",
	}
	count(supply_chain.no_secrets_in_spec) == 0 with input.training as patched(training, {"params": params})
}

test_secrets_on_command_lines_fail if {
	violations := supply_chain.no_secrets_in_spec with input.training as patched(training, {"command": [
		"python", "train.py", "--db-password", "hunter2", "--api-key=abc123", "--epochs", "3",
	]})
		with input.serving as {"command": "DB_TOKEN=abc python serve.py --secret s3cr3t"}
		with input.evaluation as {"command": ["python", "eval.py", "--password", "$DB_PASSWORD", "--token-file", "t.txt"]}
	paths(violations) == {["training", "command", 3], ["training", "command", 4], ["serving", "command"]}
	every v in violations {
		not contains(v.msg, "hunter2")
		not contains(v.msg, "abc123")
		not contains(v.msg, "s3cr3t")
	}
}

test_high_entropy_strings_fail_where_secrets_end_up if {
	violations := supply_chain.no_secrets_in_spec with input.ci as {"env": {"SETTING_A": "q8ZrT3xL0pVw7NbY2kJd5HsA"}}
		with input.training as patched(training, {"params": {"opaque": "zX9qL2mN8vB4cR7tY1wE5uI0oP3a"}})
		with input.project as {"description": "q8ZrT3xL0pVw7NbY2kJd5HsA"}
	paths(violations) == {["ci", "env", "SETTING_A"], ["training", "params", "opaque"]}
}

# MLCI-SUP-003 resource_limits_required

test_resource_limits_set_passes if {
	count(supply_chain.resource_limits_required) == 0 with input.training as patched(training, {})
		with input.serving as patched(serving, {})
}

test_training_memory_missing_fails if {
	violations := supply_chain.resource_limits_required with input.training as patched(training, {"resources": {"cpu": "1"}})
	paths(violations) == {["training", "resources", "memory"]}
}

test_serving_resources_missing_fails if {
	violations := supply_chain.resource_limits_required with input.training as patched(training, {})
		with input.serving as object.remove(serving, ["resources"])
	paths(violations) == {["serving", "resources"]}
}

test_no_serving_no_serving_limits if {
	count(supply_chain.resource_limits_required) == 0 with input.training as patched(training, {})
}

# MLCI-SUP-004 serving_runs_as_non_root

test_serving_non_root_passes if {
	count(supply_chain.serving_runs_as_non_root) == 0 with input.serving as patched(serving, {"run_as_root": false})
}

test_serving_as_root_fails if {
	violations := supply_chain.serving_runs_as_non_root with input.serving as patched(serving, {"run_as_root": true})
	paths(violations) == {["serving", "run_as_root"]}
}

# MLCI-SUP-005 registry_uses_tls

test_registry_https_passes if {
	count(supply_chain.registry_uses_tls) == 0 with input.model as {"registry": "https://mlflow.example.com"}
}

test_registry_http_fails if {
	violations := supply_chain.registry_uses_tls with input.model as {"registry": "HTTP://mlflow.example.com"}
	paths(violations) == {["model", "registry"]}
}

test_ci_image_without_digest_fails if {
	violations := supply_chain.images_pinned_by_digest with input.ci as {"image": "python:3.11"}
		with input.training as patched(training, {})
	paths(violations) == {["ci", "image"]}
}

# MLCI-SUP-006 requirements_pinned (facts: input.mlci_facts, set by mlci)

test_pinned_requirements_pass if {
	count(supply_chain.requirements_pinned) == 0 with input.mlci_facts as {"requirements": {"unreadable": false, "unpinned_lines": []}}
		with input.training as training
}

test_missing_requirements_file_is_no_finding if {
	count(supply_chain.requirements_pinned) == 0 with input.mlci_facts as {"documents": {}}
		with input.training as training
}

test_unpinned_requirements_name_their_lines if {
	reqs := object.union(training, {"requirements": "reqs/train.txt"})
	some v in supply_chain.requirements_pinned with input.mlci_facts as {"requirements": {"unreadable": false, "unpinned_lines": [3, 4]}}
		with input.training as reqs
	v.path == ["training", "requirements"]
	contains(v.msg, "reqs/train.txt")
	contains(v.msg, "line(s) 3, 4")
}

test_unpinned_requirements_name_the_default_file if {
	found := supply_chain.requirements_pinned with input.mlci_facts as {"requirements": {"unreadable": false, "unpinned_lines": [1]}}
		with input.training as training
	some v in found
	contains(v.msg, "requirements.txt does not pin")
	v.path[0] == "training"
}

test_unreadable_requirements_fail if {
	some v in supply_chain.requirements_pinned with input.mlci_facts as {"requirements": {"unreadable": true, "unpinned_lines": []}}
		with input.training as training
	contains(v.msg, "cannot be checked")
}
