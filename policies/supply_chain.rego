# Supply-chain and runtime security checks: pinned images, no secrets in the spec,
# bounded resources, unprivileged serving.
#
# Input: the mlproject.yaml spec as JSON. Every check is a partial set of
# {"msg", "path"} objects. Helpers are functions so that they never show up in
# data.mlci.supply_chain.
package mlci.supply_chain

import rego.v1

# METADATA
# title: Container images are pinned by digest
# description: >-
#   The training image (training.image) and the serving image (serving.image),
#   where given, must be pinned by digest
#   (name@sha256 followed by 64 hex digits); a tag such as latest or 3.11 can be
#   moved to different content at any time.
# custom:
#   id: MLCI-SUP-001
#   severity: high
#   controls:
#     - OpenSSF Scorecard Pinned-Dependencies
#     - CWE-494
#   remediation: Append the image's digest (docker buildx imagetools inspect IMAGE shows it) as IMAGE@sha256:<digest>.
images_pinned_by_digest contains violation if {
	some path in [["training", "image"], ["serving", "image"]]
	image := object.get(input, path, null)
	image != null
	not digest_pinned(image)
	violation := {
		"msg": concat("", [concat(".", path), " '", str(image), "' is not pinned by digest (@sha256:...)"]),
		"path": path,
	}
}

# Without training.image the build falls back to a floating python:<version>-slim tag.
images_pinned_by_digest contains violation if {
	input.training
	object.get(input.training, "image", null) == null
	violation := {
		"msg": "training.image is not set: images build on the floating default python:<version>-slim; set a base image pinned by digest",
		"path": ["training", "image"],
	}
}

# METADATA
# title: No secrets in the spec
# description: >-
#   No value anywhere in the spec may look like a credential - AWS access key ids,
#   private keys, GitHub, GitLab or Slack tokens, passwords inside URLs - and keys
#   named like password, secret, token or api_key must not hold a literal value.
#   References such as $NAME, ${NAME}, env:NAME and vault:path are allowed.
# custom:
#   id: MLCI-SUP-002
#   severity: critical
#   controls:
#     - CWE-798
#     - OWASP ASVS V2.10
#   remediation: Remove the secret from the spec, rotate it, and pass it at run time from the CI secret store or a secret manager reference.
no_secrets_in_spec contains violation if {
	walk(input, [path, value])
	is_string(value)
	kind := secret_kind(path, value)
	violation := {
		"msg": concat("", [path_label(path), " ", kind, "; secrets must not be written in the spec"]),
		"path": path,
	}
}

# METADATA
# title: Resource limits are set
# description: >-
#   Training (training.resources) and, when the model is served, serving
#   (serving.resources) must set both cpu and memory, so that a job cannot starve
#   its cluster.
# custom:
#   id: MLCI-SUP-003
#   severity: medium
#   controls:
#     - CWE-770
#     - ISO/IEC 27001:2022 A.8.6
#   remediation: Set cpu and memory under training.resources and serving.resources.
resource_limits_required contains violation if {
	some section in ["training", "serving"]
	block := input[section]
	is_object(block)
	some key in ["cpu", "memory"]
	not quantity(object.get(block, ["resources", key], null))
	violation := {
		"msg": concat("", [section, ".resources sets no ", key, " limit"]),
		"path": array.concat([section], key_path(block, ["resources", key])),
	}
}

# METADATA
# title: The model server does not run as root
# description: >-
#   The serving container must run as an unprivileged user; serving.run_as_root
#   must not be true.
# custom:
#   id: MLCI-SUP-004
#   severity: high
#   controls:
#     - CWE-250
#     - Kubernetes Pod Security Standards (restricted)
#   remediation: Remove serving.run_as_root (or set it to false) and make the image run as a non-root user.
serving_runs_as_non_root contains violation if {
	input.serving.run_as_root == true
	violation := {
		"msg": "serving.run_as_root is true; the model server must run as an unprivileged user",
		"path": ["serving", "run_as_root"],
	}
}

# METADATA
# title: The model registry is reached over TLS
# description: >-
#   model.registry must not be a plain http URL, so that models and registry
#   credentials are not sent in clear text.
# custom:
#   id: MLCI-SUP-005
#   severity: medium
#   controls:
#     - CWE-319
#   remediation: Use the registry's https URL in model.registry.
registry_uses_tls contains violation if {
	registry := input.model.registry
	is_string(registry)
	startswith(lower(registry), "http://")
	violation := {
		"msg": concat("", ["model.registry '", registry, "' uses plain http"]),
		"path": ["model", "registry"],
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

digest_pinned(image) if {
	is_string(image)
	regex.match(`@sha256:[0-9a-f]{64}$`, image)
}

quantity(value) if {
	is_number(value)
	value > 0
}

quantity(value) if {
	is_string(value)
	trim_space(value) != ""
}

# Shows a path as datasets[0].uri.
path_label(path) := trim_prefix(concat("", [segment(part) | some part in path]), ".")

segment(part) := sprintf("[%d]", [part]) if is_number(part)

segment(part) := concat("", [".", part]) if is_string(part)

# What a string looks like, if it looks like a secret. The value itself is never
# repeated in a message.
secret_kind(path, value) := kind if {
	# One combined pattern first: nearly every string matches none, and one regex
	# per string instead of six keeps this rule cheap on every engine.
	regex.match(`(AKIA|ASIA)[0-9A-Z]{16}|-----BEGIN|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|://[^/@:\s]+:[^/@\s]+@`, value)
	kind := secret_value_kind(value)
} else := "holds a literal secret" if {
	count(path) > 0
	key := path[count(path) - 1]
	is_string(key)
	regex.match(`pass|secret|token|key`, lower(key))
	secret_key(key)
	trim_space(value) != ""
	not reference(value)
}

secret_value_kind(value) := "looks like an AWS access key id" if {
	regex.match(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`, value)
} else := "contains a private key" if {
	regex.match(`-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY`, value)
} else := "looks like a GitHub token" if {
	regex.match(`\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`, value)
} else := "looks like a GitLab token" if {
	regex.match(`\bglpat-[A-Za-z0-9_-]{20,}`, value)
} else := "looks like a Slack token" if {
	regex.match(`\bxox[abposr]-[A-Za-z0-9-]{10,}`, value)
} else := "contains a password in a URL" if {
	regex.match(`^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]+:[^/@\s$][^/@\s]*@`, value)
}

secret_key(key) if {
	is_string(key)
	name := replace(lower(key), "-", "_")
	secret_key_name(name)
}

secret_key_name(name) if name in {
	"password", "passwd", "secret", "token", "api_key", "apikey",
	"access_token", "auth_token", "bearer_token", "client_secret",
	"secret_key", "secret_access_key", "private_key",
}

secret_key_name(name) if regex.match(`_(password|passwd|api_key|apikey|secret_key|access_token|auth_token|private_key)$`, name)

# Values that only refer to a secret kept elsewhere.
reference(value) if regex.match(`^\$\{?[A-Za-z_][A-Za-z0-9_.]*\}?$`, value)

reference(value) if regex.match(`^\$\{\{.*\}\}$`, value)

reference(value) if regex.match(`^(env|vault|secretref|awssm|gcpsm|azkv):`, lower(value))
