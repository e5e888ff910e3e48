# Lineage checks: every model can be traced back to exact data and parameters, and
# forward to a registry.
#
# Input: the mlproject.yaml spec as JSON. Every check is a partial set of
# {"msg", "path"} objects. Helpers are functions so that they never show up in
# data.mlci.lineage.
package mlci.lineage

import rego.v1

# METADATA
# title: Datasets are pinned to a version
# description: >-
#   Every dataset must name a fixed version - its version, or a dvc_rev (a DVC
#   revision pins the data, as the schema says); a missing version or a moving
#   label (latest, main, master, head..., or a branch ref such as origin/main or
#   refs/heads/main) in either makes training irreproducible.
# custom:
#   id: MLCI-LIN-001
#   severity: high
#   controls:
#     - EU AI Act Art. 10(2)
#     - EU AI Act Art. 12
#   remediation: Set the dataset's version to an immutable release, date or commit instead of a moving label.
dataset_version_pinned contains violation if {
	some i, ds in input.datasets
	is_object(ds)
	version := object.get(ds, "version", null)
	not fixed_version(version)
	not version_from_dvc(ds, version)
	violation := {
		"msg": version_msg(dataset_label(ds, i), version),
		"path": ["datasets", i, "version"],
	}
}

# A moving dvc_rev does not pin the data either.
dataset_version_pinned contains violation if {
	some i, ds in input.datasets
	is_object(ds)
	revision := ds.dvc_rev
	not fixed_version(revision)
	violation := {
		"msg": concat("", [
			"Dataset '", dataset_label(ds, i), "' uses the moving DVC revision '", str(revision), "' instead of a fixed one",
		]),
		"path": ["datasets", i, "dvc_rev"],
	}
}

# METADATA
# title: Datasets carry a checksum
# description: >-
#   Every dataset must record the SHA-256 of its content (64 hex digits), or be
#   pinned by a fixed dvc_rev (whose dvc.lock holds the hashes), so that the data
#   used in training can be verified later.
# custom:
#   id: MLCI-LIN-002
#   severity: medium
#   controls:
#     - EU AI Act Art. 10(2)
#     - EU AI Act Art. 12
#   remediation: Compute the dataset's SHA-256 (for example with sha256sum) and put it in the dataset's sha256, or pin the dataset with a dvc_rev commit.
dataset_checksum_required contains violation if {
	some i, ds in input.datasets
	is_object(ds)
	digest := object.get(ds, "sha256", null)
	not sha256_hex(digest)
	not pinned_by_dvc(ds, digest)
	violation := {
		"msg": checksum_msg(dataset_label(ds, i), digest),
		"path": ["datasets", i, "sha256"],
	}
}

# METADATA
# title: Datasets name their source
# description: >-
#   Every dataset must say where its data comes from (the system, export or
#   publication), as required for data-governance records.
# custom:
#   id: MLCI-LIN-003
#   severity: medium
#   controls:
#     - EU AI Act Art. 10(2)(b)
#   remediation: Describe the origin of the data in the dataset's source.
dataset_source_required contains violation if {
	some i, ds in input.datasets
	is_object(ds)
	not filled_string(object.get(ds, "source", null))
	violation := {
		"msg": concat("", ["Dataset '", dataset_label(ds, i), "' does not say where its data comes from (source)"]),
		"path": ["datasets", i, "source"],
	}
}

# METADATA
# title: Training parameters are recorded
# description: >-
#   The training section must record its hyper-parameters in training.params, so
#   that every model version can be reproduced and compared.
# custom:
#   id: MLCI-LIN-004
#   severity: low
#   controls:
#     - EU AI Act Art. 11
#     - EU AI Act Art. 12
#   remediation: List the hyper-parameters (including the random seed) under training.params.
training_params_recorded contains violation if {
	is_object(input.training)
	params := object.get(input.training, "params", null)
	not non_empty_object(params)
	violation := {
		"msg": "training.params records no hyper-parameters, so the training run cannot be reproduced",
		"path": ["training", "params"],
	}
}

# METADATA
# title: Models go to a registry
# description: >-
#   The model section must name the model registry (model.registry) that stores
#   every trained version together with its lineage.
# custom:
#   id: MLCI-LIN-005
#   severity: medium
#   controls:
#     - EU AI Act Art. 12
#   remediation: Set model.registry to the registry (for example an MLflow tracking URI) that stores the model versions.
model_registry_required contains violation if {
	not filled_string(object.get(input, ["model", "registry"], null))
	violation := {
		"msg": "No model registry is named (model.registry), so model versions cannot be traced",
		"path": key_path(input, ["model", "registry"]),
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only).

filled_string(value) if {
	is_string(value)
	trim_space(value) != ""
}

non_empty_object(value) if {
	is_object(value)
	count(value) > 0
}

dataset_label(ds, i) := name if {
	name := ds.name
	is_string(name)
} else := sprintf("#%d", [i])

floating_label(label) if label in {
	"latest", "main", "master", "head", "trunk", "develop", "development", "dev", "current", "stable",
	"nightly", "snapshot", "newest", "tip", "edge", "*",
}

# A branch written as a git ref (origin/main, refs/heads/release, refs/remotes/origin/x)
# or a revision relative to HEAD (HEAD~1, HEAD^) moves as its branch does.
floating_label(label) if regex.match(`^(refs/heads/|refs/remotes/|origin/|upstream/|head[~^@])`, label)

fixed_version(version) if {
	is_number(version)
}

fixed_version(version) if {
	filled_string(version)
	not floating_label(lower(trim_space(version)))
}

# No version, but a DVC revision: that is the version (a moving one is reported
# at dvc_rev).
version_from_dvc(ds, null) if is_string(ds.dvc_rev)

# No checksum, but a fixed DVC revision: dvc.lock holds the hashes.
pinned_by_dvc(ds, null) if fixed_version(ds.dvc_rev)

version_msg(name, null) := concat("", ["Dataset '", name, "' is not pinned to a version"])

version_msg(name, version) := concat("", [
	"Dataset '", name, "' uses the moving version '", str(version), "' instead of a fixed one",
]) if version != null

sha256_hex(value) if {
	is_string(value)
	regex.match(`^[0-9a-fA-F]{64}$`, value)
}

checksum_msg(name, null) := concat("", ["Dataset '", name, "' records no sha256 checksum"])

checksum_msg(name, digest) := concat("", [
	"Dataset '", name, "' has sha256 '", str(digest), "', which is not 64 hex digits",
]) if digest != null

# The path of keys in obj, cut after the first key that is missing (or null), so
# that a finding always points at a key that exists or at its existing parent.
key_path(obj, keys) := array.slice(keys, 0, count(present) + 1) if {
	present := {k | some k in numbers.range(1, count(keys)); object.get(obj, array.slice(keys, 0, k), null) != null}
}

# Text for a message. Messages are built with concat, not sprintf: regopy 1.5.2's
# sprintf wraps some computed strings in quotes.
str(value) := value if is_string(value)

str(value) := sprintf("%v", [value]) if not is_string(value)
