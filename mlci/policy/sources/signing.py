"""OPA bundle signatures: the JWT in `.signatures.json` and the file hashes it lists.

OPA's bundle signing format: `.signatures.json` holds `{"signatures": ["<JWT>"]}`, exactly
one compact JWS whose payload lists every file of the bundle as `{name, hash, algorithm}`.
A structured file (`data.json`, `data.yaml`, `.manifest`) is hashed over its parsed value
with object keys sorted (whitespace and key order do not count); every other file over its
bytes. Verified here with the key the user gave (`--policy-key FILE`):

- a key file holding a PEM public key verifies RS256/384/512 (RSA) or ES256/384/512 (EC);
  the `cryptography` package (extra `mlci[signing]`) is imported only then;
- any other key file is an HMAC secret (its bytes, without a final newline): HS256/384/512.

The JWT header's `alg` must belong to the key's family, so a token can never make mlci
verify an HMAC with a public key as the secret (algorithm confusion).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.errors import UserError

HMAC_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
EC_ALGORITHMS = {"ES256": 32, "ES384": 48, "ES512": 66}  # algorithm -> bytes of r (and of s)
# File hash algorithms OPA writes; MD5 and SHA-1 are refused, they no longer bind content.
FILE_HASHES = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512", "SHA-224": "sha224"}
STRUCTURED_FILES = ("data.json", "data.yaml", ".manifest", ".signatures.json")
MAX_KEY_BYTES = 64 * 1024


class UntrustedBundle(UserError):
    """A bundle that fails verification: its content is not what its signer or its pin vouches for.

    Exit 2: the input (the bundle) cannot be used; nothing of it was evaluated."""

    def __init__(self, bundle: str, problem: str) -> None:
        super().__init__(f"{bundle}: untrusted policy bundle: {problem}")


@dataclass(frozen=True)
class VerificationKey:
    """The key of `--policy-key`: an HMAC secret, or a PEM public key (RSA or EC)."""

    shown: str  # the key file, as named to the user
    secret: bytes | None = None  # HMAC
    pem: bytes | None = None  # RSA / EC public key

    @classmethod
    def read(cls, path: Path) -> VerificationKey:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: cannot read the policy key: {exc.strerror or exc}") from None
        if len(raw) > MAX_KEY_BYTES:
            raise UserError(f"{path}: a policy key is at most {MAX_KEY_BYTES} bytes")
        if b"-----BEGIN " in raw:
            if b"PRIVATE KEY" in raw:
                raise UserError(f"{path}: holds a private key; give mlci the public key (it only verifies)")
            return cls(str(path), pem=raw)
        secret = raw.removesuffix(b"\n").removesuffix(b"\r")
        if not secret:
            raise UserError(f"{path}: the policy key file is empty")
        return cls(str(path), secret=secret)


def verify_signatures(bundle: str, document: bytes, files: dict[str, bytes], key: VerificationKey) -> None:
    """Raise UntrustedBundle unless `.signatures.json` is signed by `key` and lists exactly
    the bundle's `files` (name -> bytes, without `.signatures.json`) with their hashes."""
    token = _one_token(bundle, document)
    payload = _verified_payload(bundle, token, key)
    scope = payload.get("scope", "")
    if scope:
        # OPA compares the token's scope with the one it is configured with; mlci has none.
        raise UntrustedBundle(bundle, f"the signature is for scope {scope!r}; mlci accepts only unscoped signatures")
    listed = payload.get("files")
    if not isinstance(listed, list):
        raise UntrustedBundle(bundle, "the signature lists no files")
    expected: dict[str, dict[str, Any]] = {}
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise UntrustedBundle(bundle, "the signature lists a file without a name")
        name = entry["name"].lstrip("/")
        if name in expected:
            raise UntrustedBundle(bundle, f"the signature lists {name} twice")
        expected[name] = entry
    for name in sorted(files):
        entry = expected.pop(name, None)
        if entry is None:
            raise UntrustedBundle(bundle, f"{name} is not covered by the signature (a file was added)")
        _check_hash(bundle, name, files[name], entry)
    if expected:
        raise UntrustedBundle(bundle, f"{sorted(expected)[0]} is signed but missing from the bundle")


def _one_token(bundle: str, document: bytes) -> str:
    try:
        value = json.loads(document)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UntrustedBundle(bundle, ".signatures.json is not valid JSON") from None
    tokens = value.get("signatures") if isinstance(value, dict) else None
    if not isinstance(tokens, list) or len(tokens) != 1 or not isinstance(tokens[0], str):
        raise UntrustedBundle(bundle, ".signatures.json must hold exactly one signature (a JWT)")
    return tokens[0]


def _verified_payload(bundle: str, token: str, key: VerificationKey) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise UntrustedBundle(bundle, "the signature is not a compact JWT")
    header, payload = _json_part(bundle, parts[0], "header"), _json_part(bundle, parts[1], "payload")
    algorithm = header.get("alg")
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    signature = _b64(bundle, parts[2], "signature")
    if key.secret is not None:
        if algorithm not in HMAC_ALGORITHMS:
            problem = f"signed with {algorithm!r}, but {key.shown} is an HMAC secret (HS256/384/512)"
            raise UntrustedBundle(bundle, problem)
        digest = hmac.new(key.secret, signed, HMAC_ALGORITHMS[algorithm]).digest()
        if not hmac.compare_digest(digest, signature):
            raise UntrustedBundle(bundle, _other_key(key))
    else:
        _verify_public(bundle, key, str(algorithm), signed, signature)
    return payload


def _verify_public(bundle: str, key: VerificationKey, algorithm: str, signed: bytes, signature: bytes) -> None:
    from mlci.extras import require_extra

    require_extra("signing", f"verifying {algorithm} bundle signatures")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    assert key.pem is not None
    try:
        public = serialization.load_pem_public_key(key.pem)
    except ValueError as exc:
        raise UserError(f"{key.shown}: not a PEM public key: {exc}") from None
    bits = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    try:
        if isinstance(public, rsa.RSAPublicKey) and algorithm in RSA_ALGORITHMS:
            public.verify(signature, signed, padding.PKCS1v15(), bits[algorithm[2:]])
        elif isinstance(public, ec.EllipticCurvePublicKey) and algorithm in EC_ALGORITHMS:
            size = EC_ALGORITHMS[algorithm]
            if len(signature) != 2 * size:
                raise InvalidSignature
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            public.verify(encode_dss_signature(r, s), signed, ec.ECDSA(bits[algorithm[2:]]))
        else:
            kind = type(public).__name__.removeprefix("_")
            raise UntrustedBundle(bundle, f"signed with {algorithm!r}, which {key.shown} ({kind}) cannot verify")
    except InvalidSignature:
        raise UntrustedBundle(bundle, _other_key(key)) from None


def _other_key(key: VerificationKey) -> str:
    return f"the signature does not verify with {key.shown} (signed with another key, or altered)"


def _check_hash(bundle: str, name: str, content: bytes, entry: dict[str, Any]) -> None:
    algorithm = entry.get("algorithm")
    if algorithm not in FILE_HASHES:
        raise UntrustedBundle(bundle, f"{name}: hash algorithm {algorithm!r} is not accepted (use SHA-256)")
    hasher = hashlib.new(FILE_HASHES[str(algorithm)])
    if name.rsplit("/", 1)[-1] in STRUCTURED_FILES:
        try:
            hasher.update(structured_digest_input(content))
        except ValueError:
            raise UntrustedBundle(bundle, f"{name}: not valid JSON") from None
    else:
        hasher.update(content)
    if not hmac.compare_digest(hasher.hexdigest(), str(entry.get("hash", "")).lower()):
        raise UntrustedBundle(bundle, f"{name}: its content does not match the signed hash (the file was changed)")


class _Number(str):
    """A JSON number kept as written: OPA hashes numbers in their source form."""


def structured_digest_input(content: bytes) -> bytes:
    """The bytes OPA hashes for a JSON file: the value with object keys sorted, no whitespace,
    strings encoded as Go's encoding/json writes them (HTML characters left alone)."""
    value = json.loads(content, parse_float=_Number, parse_int=_Number, parse_constant=_refuse_constant)
    out: list[str] = []
    _walk(value, out)
    return "".join(out).encode("utf-8")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _walk(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-8"))):
            out.append("," if i else "")
            out.append(_go_string(key) + ":")
            _walk(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            _walk(item, out)
        out.append("]")
    elif isinstance(value, _Number):
        out.append(str.__str__(value))
    elif isinstance(value, str):
        out.append(_go_string(value))
    else:
        out.append(json.dumps(value))  # true, false, null


def _go_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    # Go also escapes the JavaScript line separators (raw in Python's output, so safe to replace).
    return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _json_part(bundle: str, part: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(bundle, part, what))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UntrustedBundle(bundle, f"the signature's {what} is not JSON") from None
    if not isinstance(value, dict):
        raise UntrustedBundle(bundle, f"the signature's {what} is not a JSON object")
    return value


def _b64(bundle: str, part: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise UntrustedBundle(bundle, f"the signature's {what} is not base64url") from None
