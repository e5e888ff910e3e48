# Unit tests for data.mlci.approvals.
#
# Tests replace parts of the input (with input.environments as ...), never the
# whole input: regopy 1.5.2 crashes on `with input as {...}` when the rule under
# test calls a builtin.
# Values given with `with` are local variables or expressions, never a bare rule
# name: regopy 1.5.2 ignores `with input.x as some_rule`.
package mlci.approvals_test

import rego.v1

import data.mlci.approvals

project := {"name": "p", "owners": ["alice"], "authors": ["alice", "bob"]}

staging_env := {"name": "staging", "tier": "staging", "region": "eu-west-1"}

production_env := {
	"name": "production",
	"tier": "production",
	"region": "eu-west-1",
	"approvals": {"required": 2, "approvers": ["carol", "dave"], "separation_of_duties": true},
}

with_approvals(env, fields) := patched(env, {"approvals": patched(env.approvals, fields)})

paths(violations) := {v.path | some v in violations}

# obj with the keys of changes replaced, not merged (object.union merges nested
# objects in OPA but not in regopy 1.5.2, so tests never rely on the merge).
patched(obj, changes) := object.union(object.remove(obj, object.keys(changes)), changes)

# MLCI-APR-001 production_approvals_required

test_production_approvals_enough_passes if {
	count(approvals.production_approvals_required) == 0 with input.environments as [staging_env, production_env]
}

test_production_approvals_too_few_fails if {
	env := with_approvals(production_env, {"required": 1})
	violations := approvals.production_approvals_required with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "required"]}
}

test_production_approvals_missing_fails if {
	env := object.remove(production_env, ["approvals"])
	violations := approvals.production_approvals_required with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals"]}
}

test_production_approvals_minimum_from_settings if {
	env := with_approvals(production_env, {"approvers": ["carol", "dave", "erin"]})
	violations := approvals.production_approvals_required with input.environments as [staging_env, env]
		with data.mlci_settings as {"min_production_approvers": 3}
	paths(violations) == {["environments", 1, "approvals", "required"]}
}

test_staging_needs_no_approvals if {
	count(approvals.production_approvals_required) == 0 with input.environments as [staging_env]
}

test_production_by_name_without_tier if {
	env := object.remove(patched(production_env, {"name": "prod"}), ["tier", "approvals"])
	violations := approvals.production_approvals_required with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals"]}
}

# MLCI-APR-002 production_approvers_listed

test_production_approvers_enough_passes if {
	count(approvals.production_approvers_listed) == 0 with input.environments as [staging_env, production_env]
}

test_production_approvers_too_few_fails if {
	env := with_approvals(production_env, {"approvers": ["carol", "carol"]})
	violations := approvals.production_approvers_listed with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "approvers"]}
}

test_production_approvers_fewer_than_required_fails if {
	env := with_approvals(production_env, {"required": 3})
	violations := approvals.production_approvers_listed with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "approvers"]}
}

test_production_approvers_missing_fails if {
	env := patched(production_env, {"approvals": {"required": 2}})
	violations := approvals.production_approvers_listed with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "approvers"]}
}

test_production_approvers_same_person_twice_fails if {
	env := with_approvals(production_env, {"approvers": ["Carol", "carol "]})
	violations := approvals.production_approvers_listed with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "approvers"]}
}

test_production_approvers_login_and_e_mail_fails if {
	env := with_approvals(production_env, {"approvers": ["erin", "d.smith@bank.example"]})
	violations := approvals.production_approvers_listed with input.environments as [staging_env, env]
		with data.mlci_settings as {"people": {"erin": "d.smith@bank.example"}}
	paths(violations) == {["environments", 1, "approvals", "approvers"]}
}

test_production_approvers_distinct_e_mails_pass if {
	env := with_approvals(production_env, {"approvers": ["carol@bank.example", "dave@bank.example"]})
	count(approvals.production_approvers_listed) == 0 with input.environments as [staging_env, env]
}

# MLCI-APR-003 approvers_independent

test_approvers_independent_passes if {
	proj := project
	count(approvals.approvers_independent) == 0 with input.project as proj
		with input.environments as [staging_env, production_env]
}

test_approver_is_author_fails if {
	env := with_approvals(production_env, {"approvers": ["carol", "bob"]})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "approvers", 1]}
}

test_approver_is_owner_in_staging_with_separation_fails if {
	env := patched(staging_env, {"approvals": {"required": 1, "approvers": ["alice"], "separation_of_duties": true}})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [env, production_env]
	paths(violations) == {["environments", 0, "approvals", "approvers", 0]}
}

test_approver_is_owner_in_staging_separation_off_passes if {
	env := patched(staging_env, {"approvals": {"required": 1, "approvers": ["alice"], "separation_of_duties": false}})
	proj := project
	count(approvals.approvers_independent) == 0 with input.project as proj
		with input.environments as [env, production_env]
}

# The schema's default (true) applies in every environment, not only production.
test_approver_is_owner_in_staging_by_default_fails if {
	env := patched(staging_env, {"approvals": {"required": 1, "approvers": ["alice"]}})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [env, production_env]
	paths(violations) == {["environments", 0, "approvals", "approvers", 0]}
}

test_approver_differs_only_in_case_and_spaces_fails if {
	env := with_approvals(production_env, {"approvers": ["carol", " Bob "]})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "approvers", 1]}
}

test_approver_is_the_e_mail_of_an_author_fails if {
	env := with_approvals(production_env, {"approvers": ["Bob@Bank.example", "carol"]})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "approvers", 0]}
}

test_approver_mapped_by_settings_directory_fails if {
	env := with_approvals(production_env, {"approvers": ["carol", "r.builder@bank.example"]})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [staging_env, env]
		with data.mlci_settings as {"people": {"BOB": "R.Builder@bank.example"}}
	paths(violations) == {["environments", 1, "approvals", "approvers", 1]}
}

test_approver_mapped_by_spec_directory_fails if {
	env := with_approvals(production_env, {"approvers": ["carol", "r.builder@bank.example"]})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [staging_env, env]
		with input.governance as {"people": {"bob": "r.builder@bank.example"}}
	paths(violations) == {["environments", 1, "approvals", "approvers", 1]}
}

# A spec's directory only joins names: mapping an author elsewhere does not free the
# e-mail the settings give them.
test_spec_directory_cannot_split_a_person if {
	env := with_approvals(production_env, {"approvers": ["carol", "r.builder@bank.example"]})
	proj := project
	violations := approvals.approvers_independent with input.project as proj
		with input.environments as [staging_env, env]
		with input.governance as {"people": {"bob": "someone.else@bank.example"}}
		with data.mlci_settings as {"people": {"bob": "r.builder@bank.example"}}
	paths(violations) == {["environments", 1, "approvals", "approvers", 1]}
}

# MLCI-APR-004 separation_of_duties_enforced

test_separation_of_duties_on_passes if {
	env := with_approvals(production_env, {"separation_of_duties": true})
	count(approvals.separation_of_duties_enforced) == 0 with input.environments as [staging_env, env]
}

test_separation_of_duties_off_fails if {
	env := with_approvals(production_env, {"separation_of_duties": false})
	violations := approvals.separation_of_duties_enforced with input.environments as [staging_env, env]
	paths(violations) == {["environments", 1, "approvals", "separation_of_duties"]}
}

test_separation_of_duties_off_in_staging_passes if {
	env := patched(staging_env, {"approvals": {"required": 1, "approvers": ["x"], "separation_of_duties": false}})
	count(approvals.separation_of_duties_enforced) == 0 with input.environments as [env, production_env]
}

# MLCI-APR-005 staging_before_production

test_staging_before_production_passes if {
	count(approvals.staging_before_production) == 0 with input.environments as [staging_env, production_env]
}

test_production_first_fails if {
	violations := approvals.staging_before_production with input.environments as [production_env, staging_env]
	paths(violations) == {["environments", 0, "tier"]}
}

test_production_without_staging_fails if {
	dev := {"name": "dev", "tier": "development"}
	violations := approvals.staging_before_production with input.environments as [dev, production_env]
	paths(violations) == {["environments", 1, "tier"]}
}

test_staging_by_name_without_tier_passes if {
	count(approvals.staging_before_production) == 0 with input.environments as [{"name": "stage"}, production_env]
}

test_staging_only_passes if {
	count(approvals.staging_before_production) == 0 with input.environments as [staging_env]
}

# MLCI-APR-006 evaluation_gate_before_deployment

test_gate_before_deployment_passes if {
	count(approvals.evaluation_gate_before_deployment) == 0 with input.environments as [staging_env]
		with input.evaluation as {"gates": [{"metric": "accuracy", "threshold": 0.9, "direction": "higher"}]}
}

test_no_environments_no_gate_needed_here if {
	count(approvals.evaluation_gate_before_deployment) == 0 with input.evaluation as {"gates": []}
}

test_deployment_without_gate_fails if {
	violations := approvals.evaluation_gate_before_deployment with input.environments as [staging_env, production_env]
		with input.evaluation as {"gates": []}
	paths(violations) == {["evaluation", "gates"]}
	some v in violations
	contains(v.msg, "staging, production")
}

test_deployment_without_evaluation_section_fails if {
	violations := approvals.evaluation_gate_before_deployment with input.environments as [staging_env]
	paths(violations) == {["evaluation"]}
}
