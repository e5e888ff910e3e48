"""The OPA server engine (`--opa-url`): a real OPA over its REST API.

It fails closed like the other engines (engines.py), and a server is a peer that
can misbehave, so:

- One deadline (`--opa-timeout`) covers everything: connecting, uploading and
  every query. A per-request timeout would not do: a server that trickles one byte
  every few seconds never trips a socket timeout. The work runs in a daemon
  thread that mlci stops waiting for at the deadline.
- The decision must cover every rule of the pack. With the upload (the default),
  mlci uploads its pack, including the generated decision module, and the answer
  must hold a key for every rule. With `--opa-server-policies` the server's own
  modules are listed first (their ASTs, parsed by OPA) and every rule mlci expects
  must be defined there; then mlci reads those rules itself from their packages'
  documents, so a stale or hand-written decision module on the server cannot stand
  in for missing rules.
- Queries run with the Data API's `strict-builtin-errors`, as `opa eval` does.

opa-python-client uploads the policies and data (its RegoParseError carries
OPA's error list with positions). Queries and the policy listing use a
`requests` session of our own: the client sends no `strict-builtin-errors`, and
its session retries on 500, which is how OPA reports a failed built-in.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from mlci.errors import MlciError, PolicyEngineError
from mlci.policy.engines import DEFAULT_OPA_TIMEOUT, checked_decision, listed, opa_error
from mlci.policy.pack import PolicyPack


class OpaServerEngine:
    """Decide on an OPA server. An undefined or partial decision is an error, never a pass."""

    name = "opa-server"

    def __init__(self, url: str, upload: bool = True, timeout: float = DEFAULT_OPA_TIMEOUT) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PolicyEngineError(self.name, f"--opa-url {url!r} is not an http(s) URL")
        self.url = url
        self.host = parts.hostname
        self.ssl = parts.scheme == "https"
        try:
            self.port = parts.port or (443 if self.ssl else 8181)
        except ValueError:
            raise PolicyEngineError(self.name, f"--opa-url {url!r} has an invalid port") from None
        self.root = f"{parts.scheme}://{parts.netloc}/v1"
        self.upload = upload
        self.timeout = timeout

    def evaluate(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        session = _Session(self, time.monotonic() + self.timeout)
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["value"] = session.run(pack, data, inputs)
            except BaseException as exc:  # handed to the caller's thread, which raises it
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="mlci-opa-server", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            session.close()
            raise PolicyEngineError(
                self.name, f"{self.url} did not finish within the deadline ({self.timeout:g} s, --opa-timeout)"
            )
        session.close()
        if "error" in outcome:
            raise outcome["error"]
        return list(outcome["value"])


class _Session:
    """One check's conversation with the server, every request bounded by the deadline."""

    def __init__(self, engine: OpaServerEngine, deadline: float) -> None:
        import requests

        self.engine = engine
        self.deadline = deadline
        self.http = requests.Session()
        self.client: Any = None
        self.server_sources: dict[str, str] = {}  # the server's own policies: id -> Rego, to name a failing rule

    def left(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise PolicyEngineError(
                self.engine.name,
                f"{self.engine.url} did not finish within the deadline ({self.engine.timeout:g} s, --opa-timeout)",
            )
        return remaining

    def close(self) -> None:
        self.http.close()
        if self.client is not None:
            self.client.close_connection()

    def run(self, pack: PolicyPack, data: dict[str, Any], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            if self.engine.upload:
                try:
                    self._upload(pack, data)
                    self._refuse_foreign_modules(pack)
                    return [checked_decision(self.engine.name, pack, self._query_data(pack, doc)) for doc in inputs]
                finally:
                    self._remove_uploads(pack, data)
            self._check_coverage(pack)
            return [checked_decision(self.engine.name, pack, self._query_rules(pack, doc)) for doc in inputs]
        except MlciError:
            raise
        except Exception as exc:
            raise PolicyEngineError(
                self.engine.name, f"{self.engine.url}: {_describe(exc, self.engine.timeout)}"
            ) from None

    def _upload(self, pack: PolicyPack, data: dict[str, Any]) -> None:
        from opa_client import OpaClient
        from opa_client.errors import RegoParseError

        engine = self.engine
        self.client = OpaClient(host=engine.host, port=engine.port, ssl=engine.ssl, timeout=self.left(), retries=0)
        for policy_id, name in policy_ids(pack).items():
            self.client.timeout = self.left()
            try:
                self.client.update_policy_from_string(pack.modules[name], policy_id, rego_compat=False)
            except RegoParseError as exc:
                errors = exc.errors or [{"code": exc.expression, "message": exc.message}]
                raise opa_error(engine.name, pack, errors, {policy_id: name}) from None
        for key, value in data.items():
            # PUT directly: the client takes only objects, and a list or a number is
            # valid organisation data on the other engines (settings.py refuses '/' in keys).
            from urllib.parse import quote

            url = f"{engine.root}/data/{quote(key, safe='')}"
            response = self.http.put(url, json=value, timeout=self.left(), allow_redirects=False)
            self._refuse_redirect(response)
            response.raise_for_status()

    def _refuse_foreign_modules(self, pack: PolicyPack) -> None:
        """Rules merge by package on the server too: a module mlci did not upload (left by
        another project's check, or loaded by hand) that adds to a package of this pack
        joins its decision; one clause `allowed(x) if true` switches a rule off."""
        from mlci.policy.pack import packages_of

        response = self.http.get(f"{self.engine.root}/policies", timeout=self.left(), allow_redirects=False)
        self._refuse_redirect(response)
        response.raise_for_status()
        ours = set(policy_ids(pack))
        evaluated = packages_of(pack.modules)
        foreign = []
        for policy in response.json().get("result") or []:
            if not isinstance(policy, dict) or policy.get("id") in ours or not isinstance(policy.get("ast"), dict):
                continue
            package = ".".join(_ref_names((policy["ast"].get("package") or {}).get("path"))[1:])
            if any(package == p or package.startswith(f"{p}.") or p.startswith(f"{package}.") for p in evaluated):
                foreign.append(f"{policy.get('id')} (package {package})")
        if foreign:
            raise PolicyEngineError(
                self.engine.name,
                f"{self.engine.url} holds modules mlci did not upload in packages it evaluates: {listed(foreign)}; "
                "they would join the decision: remove them, or give mlci a server of its own",
            )

    def _remove_uploads(self, pack: PolicyPack, data: dict[str, Any]) -> None:
        """Best effort, after the check: the user's modules and data leave the server, so they
        never join another project's decision (mlci's own modules are the same for everyone)."""
        from urllib.parse import quote

        from mlci.policy.pack import SETTINGS_DATA_KEYS
        from mlci.policy.rego_errors import is_mlci_module

        urls = [
            f"{self.engine.root}/policies/{quote(policy_id, safe='/')}"
            for policy_id, name in policy_ids(pack).items()
            if not is_mlci_module(name)
        ]
        urls += [f"{self.engine.root}/data/{quote(key, safe='')}" for key in data if key not in SETTINGS_DATA_KEYS]
        for url in urls:
            try:
                self.http.delete(url, timeout=min(self.left(), 5.0), allow_redirects=False)
            except Exception:  # past the deadline or unreachable: the check's own outcome stands
                return

    def _query_data(self, pack: PolicyPack, document: dict[str, Any]) -> Any:
        """The Data API: POST /v1/data/<decision path>."""
        path = pack.decision_query.removeprefix("data.").replace(".", "/")
        body = self._post(f"{self.engine.root}/data/{path}", {"input": document}, pack)
        return body.get("result")  # absent when the decision is undefined

    def _query_rules(self, pack: PolicyPack, document: dict[str, Any]) -> Any:
        """Each expected rule read from the documents of its top-level package, through the
        Data API (the one that honours strict-builtin-errors; /v1/query ignores it). A rule
        that is undefined on this input reads as the decision module's default."""
        from mlci.policy.decision import UNDEFINED

        paths = {key: _rule_path(pack, key) for key in pack.expected_keys}
        roots: dict[str, Any] = {}
        for root in sorted({path[0] for path in paths.values()}):
            body = self._post(f"{self.engine.root}/data/{root}", {"input": document}, pack)
            roots[root] = body.get("result")
        decision: dict[str, Any] = {}
        for key, path in paths.items():
            value: Any = roots
            for part in path:
                value = value.get(part, UNDEFINED) if isinstance(value, dict) else UNDEFINED
            decision[key] = value
        return decision

    def _check_coverage(self, pack: PolicyPack) -> None:
        """Every rule mlci expects must be defined by a module the server holds."""
        response = self.http.get(f"{self.engine.root}/policies", timeout=self.left(), allow_redirects=False)
        self._refuse_redirect(response)
        response.raise_for_status()
        policies = response.json().get("result")
        defined = rules_defined(policies)
        self.server_sources = {
            str(p.get("id")): str(p.get("raw", "")) for p in policies or [] if isinstance(p, dict) and p.get("id")
        }
        missing = sorted(pack.expected_keys - defined)
        if missing:
            raise PolicyEngineError(
                self.engine.name,
                f"{self.engine.url} holds {len(pack.expected_keys) - len(missing)} of the pack's "
                f"{len(pack.expected_keys)} rules; missing: {listed(missing)} "
                "(load them on the server, or drop --opa-server-policies to upload mlci's pack)",
            )

    def _refuse_redirect(self, response: Any) -> None:
        """A redirect is an error, never followed: on 301/302/303 an HTTP client repeats a
        POST as a GET without its body, and OPA then decides over no input at all
        (every rule undefined: a pass)."""
        if response.is_redirect or 300 <= response.status_code < 400:
            target = response.headers.get("Location", "?")
            raise PolicyEngineError(
                self.engine.name,
                f"{self.engine.url} answered HTTP {response.status_code}, a redirect to {target}; "
                "mlci does not follow redirects: give --opa-url the server's own address",
            )

    def _post(self, url: str, body: dict[str, Any], pack: PolicyPack) -> dict[str, Any]:
        response = self.http.post(
            url, params={"strict-builtin-errors": "true"}, json=body, timeout=self.left(), allow_redirects=False
        )
        self._refuse_redirect(response)
        try:
            answer = response.json()
        except ValueError:
            response.raise_for_status()
            raise PolicyEngineError(
                self.engine.name, f"{self.engine.url} answered with something other than JSON"
            ) from None
        if not isinstance(answer, dict):
            raise PolicyEngineError(self.engine.name, f"{self.engine.url} answered with something other than an object")
        if response.status_code != 200:
            errors = answer.get("errors") or [answer]
            raise opa_error(self.engine.name, pack, errors, policy_ids(pack), self.server_sources)
        return answer


def policy_ids(pack: PolicyPack) -> dict[str, str]:
    """policy id on the server -> the pack's module name; ids are unique and stable across runs."""
    ids: dict[str, str] = {}
    for name in pack.modules:
        base = "mlci/" + name.replace("/", "_").removesuffix(".rego")
        policy_id, n = base, 1
        while policy_id in ids:
            n += 1
            policy_id = f"{base}-{n}"
        ids[policy_id] = name
    return ids


def rules_defined(policies: Any) -> frozenset[str]:
    """`package.rule` of every rule in OPA's list of policies (GET /v1/policies, ASTs)."""
    found: set[str] = set()
    for policy in policies if isinstance(policies, list) else []:
        ast = policy.get("ast") if isinstance(policy, dict) else None
        if not isinstance(ast, dict):
            continue
        package = _ref_names((ast.get("package") or {}).get("path"))
        if not package or package[0] != "data":
            continue
        for rule in ast.get("rules") or []:
            head = rule.get("head") if isinstance(rule, dict) else None
            if not isinstance(head, dict):
                continue
            name = head.get("name") or next(iter(_ref_names(head.get("ref"))), "")
            if name:
                found.add(".".join([*package[1:], name]))
    return frozenset(found)


def _rule_path(pack: PolicyPack, key: str) -> list[str]:
    rule = pack.decision_rules.get(key)
    return [*rule.package.split("."), rule.name] if rule is not None else key.split(".")


def _ref_names(ref: Any) -> list[str]:
    return [str(term.get("value")) for term in ref if isinstance(term, dict)] if isinstance(ref, list) else []


def _describe(exc: Exception, timeout: float) -> str:
    import requests
    from urllib3.exceptions import NewConnectionError
    from urllib3.exceptions import TimeoutError as SocketTimeout

    # Each request may wait only for what is left of the deadline, so a socket
    # timeout (raw, or wrapped by the client's retries) is the deadline passing.
    # (urllib3's NewConnectionError, a refused connection, subclasses its TimeoutError.)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    refused = isinstance(reason, NewConnectionError) or isinstance(exc, requests.exceptions.ConnectTimeout)
    if not refused and (isinstance(exc, requests.Timeout) or isinstance(reason, SocketTimeout)):
        return f"did not finish within the deadline ({timeout:g} s, --opa-timeout)"
    if isinstance(exc, requests.ConnectionError):
        return "server unreachable (connection failed)"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} from the server"
    message = getattr(exc, "message", None) or str(exc)
    return "\n".join(str(message).strip().splitlines()[:8])
