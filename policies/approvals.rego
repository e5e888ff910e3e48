# Approval and promotion checks: who may release a model to which environment, and
# in which order.
#
# Input: the mlproject.yaml spec as JSON. Settings: data.mlci_settings (optional,
# see settings.json). Every check is a partial set of {"msg", "path"} objects.
# Helpers are functions so that they never show up in data.mlci.approvals.
#
# An environment is production-tier when its tier is production, or when it has no
# tier and is named production or prod; staging-tier likewise (staging, stage).
package mlci.approvals

import rego.v1

# METADATA
# title: Production needs enough required approvals
# description: >-
#   Every production-tier environment must require at least the organisation's
#   minimum number of approvals (settings min_production_approvers, 2 by default)
#   in approvals.required.
# custom:
#   id: MLCI-APR-001
#   severity: high
#   controls:
#     - SOC 2 CC8.1
#     - EU AI Act Art. 14
#   remediation: Set approvals.required on the production environment to at least the minimum number of approvers.
production_approvals_required contains violation if {
	some j, env in input.environments
	production(env)
	minimum := setting("min_production_approvers", 2)
	required := object.get(env, ["approvals", "required"], null)
	not at_least(required, minimum)
	violation := {
		"msg": concat("", [
			"Production environment '", env_label(env, j), "' requires ", shown(required),
			" approval(s); at least ", str(minimum), " are needed",
		]),
		"path": array.concat(["environments", j], key_path(env, ["approvals", "required"])),
	}
}

# METADATA
# title: Production lists enough distinct approvers
# description: >-
#   Every production-tier environment must list at least as many distinct people as
#   approvers as it requires, and never fewer than the organisation's minimum,
#   otherwise the approval can never be given or falls to a single person. People are
#   compared case-folded and trimmed; a login and its e-mail address (from the people
#   directory - settings people or governance.people, login to e-mail - or an e-mail
#   whose local part is the login) are one person.
# custom:
#   id: MLCI-APR-002
#   severity: high
#   controls:
#     - SOC 2 CC8.1
#     - EU AI Act Art. 14
#   remediation: List enough distinct people in approvals.approvers of the production environment.
production_approvers_listed contains violation if {
	some j, env in input.environments
	production(env)
	needed := max({setting("min_production_approvers", 2), number_or_zero(object.get(env, ["approvals", "required"], 0))})
	listed := distinct_approvers(env)
	count(listed) < needed
	violation := {
		"msg": concat("", [
			"Production environment '", env_label(env, j), "' lists ", str(count(listed)),
			" distinct approver(s); at least ", str(needed), " are needed",
		]),
		"path": array.concat(["environments", j], key_path(env, ["approvals", "approvers"])),
	}
}

# METADATA
# title: Approvers are independent of the model's owners and authors
# description: >-
#   When an environment separates duties (approvals.separation_of_duties, true by
#   default in every environment, as the schema says, and always in a production-tier
#   environment, which may not switch it off - MLCI-APR-004), its approvers must not be
#   among project.owners or project.authors - nobody approves their own model.
#   People are compared case-folded and trimmed, and a login is the same person as
#   its e-mail address (people directory or e-mail local part).
# custom:
#   id: MLCI-APR-003
#   severity: high
#   controls:
#     - ISO/IEC 27001:2022 A.5.3
#     - NIST SP 800-53 AC-5
#   remediation: Replace the approver with a person who neither owns nor authored the model.
approvers_independent contains violation if {
	some j, env in input.environments
	duties_separated(env)
	some k, approver in env.approvals.approvers
	is_string(approver)
	some maker in project_people(input)
	same_person(approver, maker)
	violation := {
		"msg": concat("", [
			"Approver '", str(approver), "' of environment '", env_label(env, j),
			"' is also an owner or author of the project",
		]),
		"path": ["environments", j, "approvals", "approvers", k],
	}
}

# METADATA
# title: Separation of duties stays on in production
# description: >-
#   A production-tier environment must not switch separation of duties off
#   (approvals.separation_of_duties false).
# custom:
#   id: MLCI-APR-004
#   severity: high
#   controls:
#     - ISO/IEC 27001:2022 A.5.3
#     - NIST SP 800-53 AC-5
#   remediation: Remove separation_of_duties false from the production environment's approvals (or set it to true).
separation_of_duties_enforced contains violation if {
	some j, env in input.environments
	production(env)
	env.approvals.separation_of_duties == false
	violation := {
		"msg": concat("", ["Production environment '", env_label(env, j), "' turns separation of duties off"]),
		"path": ["environments", j, "approvals", "separation_of_duties"],
	}
}

# METADATA
# title: Staging comes before production
# description: >-
#   A staging-tier environment must appear in environments before any
#   production-tier environment, so that every release is tried in staging first.
# custom:
#   id: MLCI-APR-005
#   severity: medium
#   controls:
#     - ISO/IEC 27001:2022 A.8.31
#     - SOC 2 CC8.1
#   remediation: Add a staging-tier environment and list it before the production environment.
staging_before_production contains violation if {
	some j, env in input.environments
	production(env)
	not staged_before(input.environments, j)
	violation := {
		"msg": concat("", [
			"Production environment '", env_label(env, j), "' is not preceded by a staging-tier environment",
		]),
		"path": array.concat(["environments", j], key_path(env, ["tier"])),
	}
}

# METADATA
# title: An evaluation gate guards every deployment
# description: >-
#   When the project deploys to any environment, evaluation.gates must define at
#   least one gate, so that no model reaches an environment without passing an
#   evaluation.
# custom:
#   id: MLCI-APR-006
#   severity: high
#   controls:
#     - EU AI Act Art. 15
#     - SOC 2 CC8.1
#   remediation: Add at least one gate (metric, threshold, direction) under evaluation.gates.
evaluation_gate_before_deployment contains violation if {
	size(object.get(input, "environments", [])) > 0
	size(object.get(input, ["evaluation", "gates"], [])) == 0
	violation := {
		"msg": concat("", [
			"The project deploys to ", concat(", ", [env_label(env, j) | some j; env := input.environments[j]]),
			" but defines no evaluation gate (evaluation.gates)",
		]),
		"path": key_path(input, ["evaluation", "gates"]),
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only).

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

# The number of items of an array; anything else counts as empty.
size(value) := count(value) if is_array(value)

size(value) := 0 if not is_array(value)

production(env) if env.tier == "production"

production(env) if {
	not env.tier
	is_string(env.name)
	lower(env.name) in {"production", "prod"}
}

staging(env) if env.tier == "staging"

staging(env) if {
	not env.tier
	is_string(env.name)
	lower(env.name) in {"staging", "stage"}
}

staged_before(environments, j) if {
	some i, env in environments
	i < j
	staging(env)
}

# The schema's default for approvals.separation_of_duties is true, in every
# environment: only an explicit false switches it off (and MLCI-APR-004 refuses
# that in production).
duties_separated(env) if production(env)

duties_separated(env) if {
	is_object(env)
	object.get(env, ["approvals", "separation_of_duties"], true) != false
}

env_label(env, j) := name if {
	name := env.name
	is_string(name)
} else := sprintf("#%d", [j])

at_least(value, minimum) if {
	is_number(value)
	value >= minimum
}

number_or_zero(value) := value if is_number(value)

number_or_zero(value) := 0 if not is_number(value)

shown(value) := str(value) if value != null

shown(null) := "no"

# One entry per distinct person among the approvers: an approver counts unless an
# earlier one is the same person.
# (Comprehensions bind `some i` and index, never `some i, x in`: regopy 1.5.2
# refuses the two-variable form inside a multi-line comprehension.)
distinct_approvers(env) := {i |
	some i
	approver := env.approvals.approvers[i]
	is_string(approver)
	not same_as_earlier(env.approvals.approvers, i)
}

same_as_earlier(people, i) if {
	some j, other in people
	j < i
	is_string(other)
	same_person(people[i], other)
}

# The owners and authors of the project.
project_people(spec) := {person |
	some key in ["owners", "authors"]
	some person in object.get(spec, ["project", key], [])
	is_string(person)
}

# ---------------------------------------------------------------------------
# Identities. Two names are one person when they share a key: the name
# case-folded and trimmed, the e-mail the people directory gives it (or the
# logins it gives that e-mail), and the local part of any e-mail among those.
# The directory is the union of settings people and the spec's governance.people
# (login -> e-mail): an entry can only join names into one person, never split
# them, so a spec cannot weaken a check with its own directory.

same_person(a, b) if {
	some key in identity_keys(a)
	key in identity_keys(b)
}

normal_identity(name) := lower(trim_space(name))

# [login, e-mail] pairs of the people directory, normalised.
people_directory(spec) := {[normal_identity(login), normal_identity(email)] |
	some source in [setting("people", {}), object.get(spec, ["governance", "people"], {})]
	is_object(source)
	some login
	email := source[login]
	is_string(login)
	is_string(email)
}

identity_keys(name) := aliases | local_parts if {
	n := normal_identity(name)
	pairs := people_directory(input)
	aliases := ({n} | {email | some pair in pairs; pair[0] == n; email := pair[1]}) | {login | some pair in pairs; pair[1] == n; login := pair[0]}
	local_parts := {split(alias, "@")[0] | some alias in aliases; contains(alias, "@")}
}
