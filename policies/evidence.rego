# Evidence that exists: the documents the spec points at are in the repository, no
# value left from `mlci init` or an example reaches production, and personal data is
# not trained on CI runners whose location nobody controls.
#
# Input: the mlproject.yaml spec as JSON, with the repository facts mlci adds as
# input.mlci_facts (mlci/policy/facts.py). Every check is a partial set of
# {"msg", "path"} objects. Helpers are functions so that they never show up in
# data.mlci.evidence.
package mlci.evidence

import rego.v1

# METADATA
# title: Referenced documents exist in the project
# description: >-
#   Every document the spec points at as a file of the project must be a regular,
#   non-empty file there: the model card (governance.model_card), the erasure
#   procedure (governance.erasure_procedure), and the DPIA (governance.dpia), the stop
#   procedure and the post-market monitoring plan (governance.ai_act.stop_procedure,
#   post_market_monitoring) when they are paths rather than a register id or a URL. A
#   link, a folder, an empty file or a path outside the project is not evidence. mlci
#   looks and passes what it found as input.mlci_facts.documents.
# custom:
#   id: MLCI-EVI-001
#   severity: high
#   controls:
#     - GDPR Art. 5(2)
#     - GDPR Art. 17
#     - GDPR Art. 35(7)
#     - EU AI Act Art. 11
#     - EU AI Act Art. 14
#     - EU AI Act Art. 72
#   remediation: Commit the document at the path the spec names (or correct the path), so that the evidence is reviewed with the change.
referenced_documents_exist contains violation if {
	documents := object.get(input, ["mlci_facts", "documents"], {})
	some key in object.keys(documents)
	documents[key] == false
	path := split(key, ".")
	violation := {
		"msg": concat("", [
			key, " names '", str(object.get(input, path, "")),
			"', which is not a file in the project (missing, empty, a folder or a link)",
		]),
		"path": path,
	}
}

# METADATA
# title: No placeholder reaches production
# description: >-
#   When the spec deploys to a production-tier environment, no value that reaches
#   production may be a placeholder left from mlci init or copied from an example:
#   hosts on the reserved example domains (example.com, example.net, example.org and
#   the .example, .test, .invalid and .localhost names), localhost and loopback
#   addresses, in URLs, registries and e-mail addresses; markers such as TODO, TBD,
#   FIXME, changeme, <your-team> or your-registry; and placeholder people (approver-one,
#   someone, john.doe, owner, root...) among owners, authors, approvers and other
#   identities. The whole spec is walked, except the environments that are not
#   production-tier.
# custom:
#   id: MLCI-EVI-002
#   severity: high
#   controls:
#     - ISO/IEC 27001:2022 A.8.32
#     - ISO/IEC 27001:2022 A.5.2
#     - EU AI Act Art. 14
#   remediation: Replace the placeholder with the real host, address or person before the model reaches production.
no_placeholders_in_production contains violation if {
	goes_to_production(input)
	walk(input, [path, value])
	is_string(value)
	reaches_production(input, path)
	kind := placeholder_kind(path, value)
	violation := {
		"msg": concat("", [path_label(path), " ", kind, "; a placeholder must not reach production"]),
		"path": path,
	}
}

# METADATA
# title: Personal data is not trained on hosted CI runners
# description: >-
#   When a dataset holds personal data, training runs in the CI pipelines (train,
#   evaluate, retrain on drift, pull-request evaluation) and every CI system that
#   has vendor-hosted runners (github, gitlab, azure in ci.providers, default github,
#   gitlab and jenkins) must run the jobs on self-hosted runners, selected by
#   ci.runner_labels: a vendor-hosted runner's location is the vendor's, not the
#   controller's, so residency and security of processing cannot be shown. Labels of
#   hosted runners (ubuntu-latest, windows-*, macos-*, GitLab's saas-*) do not count.
#   Jenkins runs on the organisation's own agents.
# custom:
#   id: MLCI-EVI-003
#   severity: high
#   controls:
#     - GDPR Art. 28
#     - GDPR Art. 32(1)
#     - GDPR Art. 44
#   remediation: Run the CI jobs on self-hosted runners in the data's jurisdiction and list their labels in ci.runner_labels (for example [self-hosted, eu-central-1]).
personal_data_not_on_hosted_runners contains violation if {
	input.training
	names := [name | some i; ds := input.datasets[i]; personal(ds); name := label(ds, i)]
	count(names) > 0
	hosted := [p | some p in providers(input); p in hosted_providers]
	count(hosted) > 0
	not self_hosted(input)
	violation := {
		"msg": concat("", [
			"Dataset(s) '", concat("', '", names), "' hold personal data but train on the hosted runners of ",
			concat(", ", hosted), hosted_label_msg(input),
			"; declare self-hosted runners in ci.runner_labels",
		]),
		"path": runner_path(input),
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only). Comprehensions bind an item to a name before they call
# a function on it: regopy 1.5.2 enumerates nothing for [i | some i; f(xs[i])].

# Text for a message. Messages are built with concat, not sprintf: regopy 1.5.2's
# sprintf wraps some computed strings in quotes.
str(value) := value if is_string(value)

str(value) := sprintf("%v", [value]) if not is_string(value)

# The path of keys in obj, cut after the first key that is missing (or null).
key_path(obj, keys) := array.slice(keys, 0, count(present) + 1) if {
	present := {k | some k in numbers.range(1, count(keys)); object.get(obj, array.slice(keys, 0, k), null) != null}
}

# Shows a path as environments[1].approvals.approvers[0].
path_label(path) := trim_prefix(concat("", [segment(part) | some part in path]), ".")

segment(part) := sprintf("[%d]", [part]) if is_number(part)

segment(part) := concat("", [".", part]) if is_string(part)

label(ds, i) := ds.name if is_string(ds.name)

label(ds, i) := sprintf("#%d", [i]) if not is_string(ds.name)

list_of(obj, key) := value if {
	value := obj[key]
	is_array(value)
} else := []

# The same test as the GDPR rules (data.mlci.gdpr): declared, or fields that are personal.
personal(ds) if ds.personal_data == true

personal(ds) if {
	some key in ["pii_fields", "sensitive_attributes", "special_categories", "vulnerable_subjects"]
	count(list_of(ds, key)) > 0
}

production(env) if env.tier == "production"

production(env) if {
	not env.tier
	is_string(env.name)
	lower(env.name) in {"production", "prod"}
}

goes_to_production(spec) if {
	some env in spec.environments
	is_object(env)
	production(env)
}

# ---------------------------------------------------------------------------
# Placeholders.

# Everything but the facts mlci adds and the environments that are not production.
reaches_production(spec, path) if {
	path[0] != "environments"
	path[0] != "mlci_facts"
}

reaches_production(spec, path) if {
	path[0] == "environments"
	count(path) > 1
	production(spec.environments[path[1]])
}

placeholder_kind(path, value) := concat("", ["uses the placeholder host '", host, "'"]) if {
	host := placeholder_host(value)
} else := concat("", ["holds the placeholder '", marker, "'"]) if {
	marker := placeholder_marker(value)
} else := concat("", ["names the placeholder person '", value, "'"]) if {
	identity_path(path)
	placeholder_person(value)
}

# A host on a reserved name (RFC 2606, RFC 6761) or the loopback, where a value names
# a host: at its start (registry.example.com/ml, localhost:5000), after a scheme
# (https://mlflow.example.com) or after an @ (someone@example.com, git@host). Not
# 0.0.0.0, which a server's command binds to on purpose.
placeholder_host(value) := host if {
	found := regex.find_all_string_submatch_n(placeholder_host_pattern, lower(value), 1)
	count(found) > 0
	host := found[0][2]
}

placeholder_host_pattern := `(^|://|@)(([a-z0-9-]+\.)*(example\.(com|net|org)|[a-z0-9-]+\.(example|test|invalid|localhost)|localhost)|127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\])\.?([:/?#]|$)`

# Markers that say "fill me in": upper-case TODO, TBD, FIXME, XXX as words; changeme,
# replace-me, fill-me-in, <angle brackets> and your-<thing> in any case (lower-cased:
# regopy 1.5.2 knows no (?i)).
placeholder_marker(value) := found[0][2] if {
	found := regex.find_all_string_submatch_n(`(^|[^A-Za-z0-9])(TODO|TBD|FIXME|XXX)([^A-Za-z0-9]|$)`, value, 1)
	count(found) > 0
} else := found[0][2] if {
	found := regex.find_all_string_submatch_n(`(^|[^a-z0-9])(change[-_ ]?me|replace[-_ ]?me|fill[-_ ]?(me[-_ ]?)?in)([^a-z0-9]|$)`, lower(value), 1)
	count(found) > 0
} else := markers[0] if {
	# <your-team>, <registry>: but not a tokenizer's special tokens (<pad>, <unk>, <s>),
	# which models are configured with on purpose.
	markers := [match[2] |
		some match in regex.find_all_string_submatch_n(`(^|[^a-z0-9])(<[a-z][a-z0-9 _.-]*>)([^a-z0-9]|$)`, lower(value), -1)
		not regex.match(special_token_pattern, match[2])
	]
	count(markers) > 0
} else := found[0][2] if {
	found := regex.find_all_string_submatch_n(`(^|[^a-z0-9])(your[-_ ](name|team|e-?mail|company|org|organi[sz]ation|domain|host|bucket|registry|project|cluster|namespace|region|server|user|login|account|repo|repository|approver|owner))`, lower(value), 1)
	count(found) > 0
}

# Special tokens of common tokenizers (BERT, GPT, T5, Llama, SentencePiece).
special_token_pattern := `^<(pad|unk|mask|cls|sep|bos|eos|s|eot|eod|sop|eop|nl|sos|start|end|endoftext|unused[0-9]+|extra_id_[0-9]+)>$`

# A path to people: owners, authors, approvers, approved_by, the people directory...
identity_path(path) if {
	some key in path
	is_string(key)
	lower(key) in {
		"owner", "owners", "author", "authors", "approver", "approvers", "approved_by", "reviewer",
		"reviewers", "maintainer", "maintainers", "contact", "contacts", "email", "emails", "people",
	}
}

# A login or an e-mail address (its local part) that names no one: role words, the
# classic example names and numbered stand-ins (approver-one, user1, owner_a).
placeholder_person(value) if {
	person := lower(trim_space(split(value, "@")[0]))
	regex.match(placeholder_person_pattern, person)
}

placeholder_person_pattern := `^(approver|owner|author|reviewer|maintainer|user|username|person|someone|somebody|anybody|anyone|nobody|name|login|firstname|first[._-]?name[._-]?last[._-]?name|john[._-]?doe|jane[._-]?doe|foo|bar|baz|me|admin|root|test|test[._-]?user|example|dummy)([._ -]?([0-9]+|one|two|three|four|five|a|b|c|x|y))?$`

# ---------------------------------------------------------------------------
# CI runners.

providers(spec) := object.get(spec, ["ci", "providers"], ["github", "gitlab", "jenkins"])

# CI systems whose default runners are the vendor's machines (GitHub-hosted runners,
# GitLab.com's shared runners, Microsoft-hosted agents); Jenkins has only the agents
# its owner runs.
hosted_providers := {"github", "gitlab", "azure"}

hosted_label(runner) if regex.match(`^(ubuntu|windows|macos)-|^saas-|^gitlab-org`, lower(runner))

self_hosted(spec) if {
	labels := spec.ci.runner_labels
	count(labels) > 0
	not any_hosted_label(labels)
}

# GitHub gives every self-hosted runner the label self-hosted: with it, ubuntu-22.04
# names a self-hosted runner's system, not GitHub's machine.
self_hosted(spec) if "self-hosted" in spec.ci.runner_labels

any_hosted_label(labels) if {
	some runner in labels
	hosted_label(runner)
}

hosted_label_msg(spec) := concat("", [" (ci.runner_labels selects hosted runners: ", concat(", ", found), ")"]) if {
	found := [runner | some runner in spec.ci.runner_labels; hosted_label(runner)]
	count(found) > 0
} else := " (no ci.runner_labels)"

runner_path(spec) := ["ci", "runner_labels", first] if {
	indexes := [i | some i; runner := spec.ci.runner_labels[i]; hosted_label(runner)]
	count(indexes) > 0
	first := indexes[0]
} else := key_path(spec, ["ci", "providers"])
