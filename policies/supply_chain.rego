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
#   The training image (training.image), the serving image (serving.image) and
#   the image of the CI jobs (ci.image), where given, must be pinned by digest
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
	some path in [["training", "image"], ["serving", "image"], ["ci", "image"]]
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
#   No value anywhere in the spec may be a credential. Detected by value shape (AWS
#   access key ids, private keys, GitHub, GitLab, Slack, Hugging Face (hf_),
#   OpenAI (sk-, sk-proj-), Stripe, Google API and npm tokens, JWTs, Azure storage
#   connection strings and SAS signatures, bearer tokens, passwords inside URLs such
#   as postgresql://user:pw@host); by key name, anywhere in the key (password, pass,
#   pwd, secret, token, api_key, access_key, private_key, credentials... in
#   AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, HF_TOKEN, DB_PASS or dbPassword, but not
#   false friends such as tokenizer, max_tokens, pad_token, secret_name or
#   password_file) holding a literal string; by command-line arguments that pass a
#   literal to such an option (--db-password VALUE, --api-key=VALUE, TOKEN=VALUE in
#   training, evaluation and serving commands); and by high-entropy strings in
#   training.params, ci.env, commands and URIs. References such as $NAME, ${NAME},
#   env:NAME and vault:path are allowed. A finding names where the secret is, never
#   the secret itself.
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

# METADATA
# title: Training requirements pin exact versions
# description: >-
#   Every line of the training requirements file (training.requirements, default
#   requirements.txt) pins an exact version (name==1.2.3), so that a retraining installs
#   what was reviewed and not whatever was published since. mlci reads the file and
#   passes the numbers of the unpinned lines as input.mlci_facts.requirements; a file
#   mlci may not read (a link, a folder, not UTF-8) cannot be checked and fails too.
# custom:
#   id: MLCI-SUP-006
#   severity: medium
#   controls:
#     - OpenSSF Scorecard Pinned-Dependencies
#     - CWE-494
#   remediation: Pin every requirement to the exact version you tested (name==1.2.3), e.g. with pip freeze or pip-compile.
requirements_pinned contains violation if {
	facts := object.get(input, ["mlci_facts", "requirements"], {})
	lines := object.get(facts, "unpinned_lines", [])
	count(lines) > 0
	violation := {
		"msg": concat("", [
			requirements_file(input), " does not pin an exact version (name==1.2.3) on line(s) ",
			concat(", ", [sprintf("%d", [n]) | some n in lines]),
		]),
		"path": key_path(input, ["training", "requirements"]),
	}
}

requirements_pinned contains violation if {
	object.get(input, ["mlci_facts", "requirements", "unreadable"], false) == true
	violation := {
		"msg": concat("", [
			requirements_file(input),
			" cannot be checked for pins: it is a link, a folder, too big or not UTF-8 text",
		]),
		"path": key_path(input, ["training", "requirements"]),
	}
}

# ---------------------------------------------------------------------------
# Helpers (functions only).

# The requirements file the spec names, or the schema's default.
requirements_file(spec) := name if {
	name := object.get(spec, ["training", "requirements"], "requirements.txt")
	is_string(name)
}

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
	# per string instead of one per shape keeps this rule cheap on every engine.
	regex.match(secret_shapes, value)
	kind := secret_value_kind(value)
} else := "contains a password in a connection string" if {
	# Password=...; in ODBC / ADO.NET strings, ?password=... in JDBC URLs and query strings.
	regex.match(connection_secret, lower(value))
} else := "holds a literal secret" if {
	key := last_key(path)
	secret_name(key)
	literal(value)
} else := kind if {
	kind := command_secret(path, value)
} else := "holds a high-entropy string that looks like a key or token" if {
	entropy_scope(path)
	some token in regex.find_all_string_submatch_n(`[A-Za-z0-9]{20,}`, value, -1)
	random_looking(token[0])
}

secret_shapes := `(AKIA|ASIA)[0-9A-Z]{16}|-----BEGIN|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|://[^/@:\s]*:[^/@\s]+@|eyJ[A-Za-z0-9_-]{8,}\.|AccountKey=|SharedAccess(Key|Signature)=|[?&]sig=|hf_[A-Za-z0-9]{30}|sk-|sk_live_|rk_live_|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|pypi-AgE|dapi[0-9a-f]{32}|[Bb]earer [A-Za-z0-9._~+/-]{20}|hooks\.slack\.com/|/api/webhooks/`

# A credential as one key=value of a connection or query string; a reference such as
# Password=${DB_PASSWORD} or password=%(pw)s is none.
connection_secret := `(^|[;?&\s])(password|passwd|pwd|pass|secret|client_?secret|token|access_?token|api_?key|account_?key)\s*=\s*[^;&\s$%{<*]`

# Token prefixes must start a word: "risk-model-..." is no OpenAI key.
boundary := `(^|[^A-Za-z0-9])`

secret_value_kind(value) := "looks like an AWS access key id" if {
	regex.match(`(^|[^A-Z0-9])(AKIA|ASIA)[0-9A-Z]{16}([^A-Z0-9]|$)`, value)
} else := "contains a private key" if {
	regex.match(`-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY`, value)
} else := "looks like a GitHub token" if {
	regex.match(concat("", [boundary, `(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})`]), value)
} else := "looks like a GitLab token" if {
	regex.match(concat("", [boundary, `glpat-[A-Za-z0-9_-]{20,}`]), value)
} else := "looks like a Slack token" if {
	regex.match(concat("", [boundary, `xox[abposr]-[A-Za-z0-9-]{10,}`]), value)
} else := "contains a password in a URL" if {
	regex.match(`[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:[^/@\s$][^/@\s]*@`, value)
} else := "looks like a JSON Web Token" if {
	regex.match(concat("", [boundary, `eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`]), value)
} else := "contains an Azure storage key or signature" if {
	regex.match(`(AccountKey|SharedAccessKey|SharedAccessSignature)=[A-Za-z0-9+/=%]{10,}|[?&]sig=[A-Za-z0-9%+/=]{16,}`, value)
} else := "looks like a Hugging Face token" if {
	regex.match(concat("", [boundary, `hf_[A-Za-z0-9]{30,}`]), value)
} else := "looks like an OpenAI or Anthropic API key" if {
	regex.match(concat("", [boundary, `sk-(proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}`]), value)
} else := "looks like a Stripe key" if {
	regex.match(concat("", [boundary, `(sk|rk)_live_[A-Za-z0-9]{16,}`]), value)
} else := "looks like a Google API key" if {
	regex.match(`AIza[0-9A-Za-z_-]{35}`, value)
} else := "looks like an npm, PyPI or Databricks token" if {
	regex.match(concat("", [boundary, `(npm_[A-Za-z0-9]{36}|pypi-AgE[A-Za-z0-9_-]{20,}|dapi[0-9a-f]{32})`]), value)
} else := "contains a Slack or Discord webhook URL" if {
	regex.match(`hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/]{20,}|discord(app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]{20,}`, value)
} else := "contains a bearer token" if {
	regex.match(`[Bb]earer [A-Za-z0-9._~+/-]{20,}`, value)
}

# The last key of a path (array indexes skipped): a list under a secret-named key
# holds secrets too.
last_key(path) := key if {
	keys := [k | some k in path; is_string(k)]
	count(keys) > 0
	key := keys[count(keys) - 1]
}

# Whether a key or option name names a secret: its words (split at non-letters and
# at lower-to-upper case changes) hold a secret word - or a pair such as api key,
# access key - that no false friend qualifies: not after max, pad, pull... (max_token,
# pad_token, image_pull_secret), and not before name, file, limit, id... (secret_name,
# password_file, token_limit, AWS_ACCESS_KEY_ID).
secret_name(name) if {
	is_string(name)
	regex.match(`pass|pwd|secret|token|key|cred|bearer|str`, lower(name))
	words := name_words(name)
	some p, word in words
	secret_word_at(words, p)
	not false_friend_before(words, p)
	not false_friend_after(words, p)
}

name_words(name) := [lower(m[0]) | some m in regex.find_all_string_submatch_n(`[A-Z]{2,}[a-z0-9]*|[A-Z]?[a-z0-9]+`, name, -1)]

secret_word_at(words, p) if words[p] in {
	"password", "passwd", "passwords", "pwd", "passphrase", "secret", "secrets", "token",
	"apikey", "accesskey", "secretkey", "privatekey", "credential", "credentials", "creds", "bearer",
}

# Names written without separators: PGPASSWORD, dbpassword, accesstoken, githubtoken.
secret_word_at(words, p) if {
	some suffix in ["password", "passwd", "secret", "token", "apikey", "accesskey", "secretkey", "privatekey"]
	endswith(words[p], suffix)
}

# pass on its own is a secret only as the last word (DB_PASS, SMTP_PASS), not in
# pass_rate or pass_at_k.
secret_word_at(words, p) if {
	words[p] == "pass"
	p == count(words) - 1
}

secret_word_at(words, p) if {
	words[p] in {"key", "keys"}
	p > 0
	words[p - 1] in {
		"api", "access", "private", "secret", "account", "signing", "encryption", "master", "client",
		"shared", "storage", "subscription", "session", "auth", "sas", "license", "service", "admin",
		"ssh", "gpg", "pgp", "jwt", "hmac", "webhook", "deploy",
	}
}

secret_word_at(words, p) if {
	words[p] in {"string", "str"}
	p > 0
	words[p - 1] in {"connection", "conn"}
}

false_friend_before(words, p) if {
	p > 0
	words[p - 1] in {
		"max", "min", "num", "n", "pad", "eos", "bos", "unk", "sep", "cls", "mask", "special", "start",
		"end", "stop", "total", "pull", "new", "per", "vocab",
	}
}

false_friend_after(words, p) if {
	some q, word in words
	q > p
	word in {
		"name", "names", "ref", "reference", "path", "file", "id", "ids", "arn", "url", "uri", "endpoint",
		"limit", "limits", "length", "len", "count", "size", "budget", "type", "ttl", "expiry", "expires",
		"expiration", "policy", "rotation", "manager", "store", "provider", "header", "prefix", "env",
		"var", "variable", "mount", "dir", "location", "version", "min", "max", "field", "column",
		"required", "enabled", "source", "secret_ref", "scope", "scopes", "audience", "issuer", "kind",
		"format", "algorithm", "backend", "label", "description",
	}
}

# A string that is a value, not a pointer to one (a reference, or a key file
# such as keys/deploy.pem or secrets/sa.json).
literal(value) if {
	trim_space(value) != ""
	not reference(value)
	not key_file(value)
	not lower(trim_space(value)) in {"true", "false", "none", "null", "yes", "no"}
}

key_file(value) if regex.match(`^[A-Za-z0-9._~/-]*/?[A-Za-z0-9_.-]+\.(pem|key|json|p12|pfx|crt|cer|der|jks|txt|gpg|asc)$`, value)

# Values that only refer to a secret kept elsewhere.
reference(value) if regex.match(`^\$\{?[A-Za-z_][A-Za-z0-9_.]*\}?$`, value)

reference(value) if regex.match(`^\$\{\{.*\}\}$`, value)

reference(value) if regex.match(`^\$\(.*\)$`, value)

reference(value) if regex.match(`^(env|vault|secretref|awssm|gcpsm|azkv):`, lower(value))

# ---------------------------------------------------------------------------
# Secrets on command lines.

# An item of a command given as a list: --name=value or NAME=value with a secret
# name, or a literal value after a --name option with a secret name.
command_secret(path, _) := kind if {
	count(path) >= 2
	is_number(path[count(path) - 1])
	path[count(path) - 2] == "command"
	index := path[count(path) - 1]
	command := object.get(input, array.slice(path, 0, count(path) - 1), [])
	kind := argument_secret(command, index)
}

# A command given as one string, split at white space like a shell would.
command_secret(path, value) := kind if {
	last_key(path) == "command"
	is_string(path[count(path) - 1])
	words := regex.split(`\s+`, trim_space(value))
	kinds := [k | some index in numbers.range(0, count(words) - 1); k := argument_secret(words, index)]
	count(kinds) > 0
	kind := kinds[0]
}

argument_secret(words, index) := concat("", ["passes a literal secret in ", option_shown(parts[1])]) if {
	parts := regex.find_all_string_submatch_n(`^(--?[A-Za-z][A-Za-z0-9_.-]*|[A-Za-z_][A-Za-z0-9_]*)=(.*)$`, words[index], 1)[0]
	secret_name(parts[1])
	literal(parts[2])
} else := concat("", ["passes a literal secret to ", option_shown(words[index - 1])]) if {
	index > 0
	option := words[index - 1]
	regex.match(`^--?[A-Za-z][A-Za-z0-9_.-]*$`, option)
	secret_name(option)
	is_string(words[index])
	not startswith(words[index], "-")
	literal(words[index])
}

option_shown(name) := concat("", ["'", name, "'"])

# ---------------------------------------------------------------------------
# High-entropy strings, looked for where secrets end up: parameters, CI
# variables, commands and URIs.

entropy_scope(path) if array.slice(path, 0, 2) == ["training", "params"]

entropy_scope(path) if array.slice(path, 0, 2) == ["ci", "env"]

entropy_scope(path) if "command" in path

entropy_scope(path) if last_key(path) in {"uri", "url", "registry", "current", "repository_url", "prometheus_url", "source"}

# Random-looking, for a run of 20 or more letters and digits: both cases and
# digits (never a hex digest), and a change of character class (lower, upper,
# digit) at 40 % or more of its positions - random base62 changes at about 60 %,
# CamelCase words far less.
random_looking(token) if {
	regex.match(`[a-z]`, token)
	regex.match(`[A-Z]`, token)
	regex.match(`[0-9]`, token)
	chars := split(token, "")
	changes := count([i |
		some i in numbers.range(1, count(chars) - 1)
		char_class(chars[i]) != char_class(chars[i - 1])
	])
	changes * 10 >= (count(chars) - 1) * 4
}

char_class(c) := "lower" if {
	c >= "a"
	c <= "z"
} else := "upper" if {
	c >= "A"
	c <= "Z"
} else := "digit" if {
	c >= "0"
	c <= "9"
} else := "symbol"
