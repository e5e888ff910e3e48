# Unit tests for data.mlci.lineage.
#
# Tests replace parts of the input (with input.datasets as ...), never the whole
# input: regopy 1.5.2 crashes on `with input as {...}` when the rule under test
# calls a builtin.
# Values given with `with` are local variables or expressions, never a bare rule
# name: regopy 1.5.2 ignores `with input.x as some_rule`.
package mlci.lineage_test

import rego.v1

import data.mlci.lineage

good_ds := {
	"name": "iris",
	"uri": "data/iris.csv",
	"version": "2026.11.1",
	"sha256": "11bb8eee6ee8e39a4a6b77a6e87f7c8e7c6f6b0cf6f2c1d55d0c2cd6e5b4a5d1",
	"source": "scikit-learn load_iris",
}

paths(violations) := {v.path | some v in violations}

# obj with the keys of changes replaced, not merged (object.union merges nested
# objects in OPA but not in regopy 1.5.2, so tests never rely on the merge).
patched(obj, changes) := object.union(object.remove(obj, object.keys(changes)), changes)

# MLCI-LIN-001 dataset_version_pinned

test_version_pinned_passes if {
	count(lineage.dataset_version_pinned) == 0 with input.datasets as [
		good_ds,
		patched(good_ds, {"version": 3}),
		patched(good_ds, {"version": "2026-10-31"}),
	]
}

test_version_missing_fails if {
	violations := lineage.dataset_version_pinned with input.datasets as [good_ds, object.remove(good_ds, ["version"])]
	paths(violations) == {["datasets", 1, "version"]}
}

test_version_floating_fails if {
	violations := lineage.dataset_version_pinned with input.datasets as [
		patched(good_ds, {"version": "latest"}),
		patched(good_ds, {"version": "Main"}),
		patched(good_ds, {"version": "HEAD"}),
		patched(good_ds, {"version": "master"}),
		patched(good_ds, {"version": ""}),
	]
	paths(violations) == {
		["datasets", 0, "version"],
		["datasets", 1, "version"],
		["datasets", 2, "version"],
		["datasets", 3, "version"],
		["datasets", 4, "version"],
	}
}

# MLCI-LIN-002 dataset_checksum_required

test_checksum_present_passes if {
	count(lineage.dataset_checksum_required) == 0 with input.datasets as [good_ds]
}

test_checksum_missing_fails if {
	violations := lineage.dataset_checksum_required with input.datasets as [object.remove(good_ds, ["sha256"])]
	paths(violations) == {["datasets", 0, "sha256"]}
}

test_checksum_malformed_fails if {
	violations := lineage.dataset_checksum_required with input.datasets as [patched(good_ds, {"sha256": "abc123"})]
	paths(violations) == {["datasets", 0, "sha256"]}
}

# MLCI-LIN-003 dataset_source_required

test_source_present_passes if {
	count(lineage.dataset_source_required) == 0 with input.datasets as [good_ds]
}

test_source_missing_fails if {
	violations := lineage.dataset_source_required with input.datasets as [
		object.remove(good_ds, ["source"]),
		patched(good_ds, {"source": "  "}),
	]
	paths(violations) == {["datasets", 0, "source"], ["datasets", 1, "source"]}
}

# MLCI-LIN-004 training_params_recorded

test_params_recorded_passes if {
	count(lineage.training_params_recorded) == 0 with input.training as {"params": {"max_depth": 4}}
}

test_params_missing_fails if {
	violations := lineage.training_params_recorded with input.training as {"command": ["python", "train.py"]}
	paths(violations) == {["training", "params"]}
}

test_params_empty_fails if {
	violations := lineage.training_params_recorded with input.training as {"params": {}}
	paths(violations) == {["training", "params"]}
}

# MLCI-LIN-005 model_registry_required

test_registry_named_passes if {
	count(lineage.model_registry_required) == 0 with input.model as {"registry": "https://mlflow.example.com"}
}

test_registry_missing_fails if {
	violations := lineage.model_registry_required with input.model as {"name": "m"}
	paths(violations) == {["model", "registry"]}
}

test_registry_without_model_section_fails if {
	violations := lineage.model_registry_required with input.datasets as [good_ds]
	paths(violations) == {["model"]}
}

# dvc_rev pins a dataset (schema: "A DVC revision that pins the data instead of sha256").

test_dvc_rev_pins_version_and_checksum if {
	ds := {"name": "d", "uri": "dvc://data/train.csv", "dvc_rev": "3f2a9c1", "source": "x"}
	count(lineage.dataset_version_pinned) == 0 with input.datasets as [ds]
	count(lineage.dataset_checksum_required) == 0 with input.datasets as [ds]
}

test_branch_refs_and_relative_revisions_move if {
	every revision in ["origin/main", "refs/heads/main", "refs/remotes/origin/release", "HEAD~1", "Snapshot", "*"] {
		ds := {"name": "d", "uri": "dvc://data/train.csv", "dvc_rev": revision, "source": "x"}
		{v.path | some v in lineage.dataset_version_pinned} == {["datasets", 0, "dvc_rev"]} with input.datasets as [ds]
	}
}

test_tags_and_commits_as_refs_are_fixed if {
	every revision in ["refs/tags/v2026.10", "v2026.10", "3f9c2d1a7b8e4f60a1c2d3e4f5a6b7c8d9e0f1a2", "release-2026-10"] {
		ds := {"name": "d", "uri": "dvc://data/train.csv", "dvc_rev": revision, "source": "x"}
		count(lineage.dataset_version_pinned) == 0 with input.datasets as [ds]
	}
}

test_moving_dvc_rev_pins_nothing if {
	ds := {"name": "d", "uri": "dvc://data/train.csv", "dvc_rev": "main", "source": "x"}
	version_paths := {v.path | some v in lineage.dataset_version_pinned} with input.datasets as [ds]
	version_paths == {["datasets", 0, "dvc_rev"]}
	checksum_paths := {v.path | some v in lineage.dataset_checksum_required} with input.datasets as [ds]
	checksum_paths == {["datasets", 0, "sha256"]}
}
