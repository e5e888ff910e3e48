"""Policy sources beyond a folder: an OPA bundle archive (`opa build`), verified by its
signature (--policy-key) or a sha256 pin before any of it is used, read in memory with no
traversal, links or bombs; and a git repository pinned to a full commit, fetched without
running anything of it. Every source gives the same findings as the folder it was made
from, on every engine, and what cannot be trusted is exit 2 (exit 3 when a fetch fails)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import FIXTURES, ROOT, require_tool

POLICIES = FIXTURES / "policies"
SPEC = ROOT / "examples" / "iris-classifier" / "mlproject.yaml"
TODAY = "2026-11-22"
SECRET = "s3cret-bundle-key"


def _opa() -> str:
    return require_tool(judges.tool("opa"), "opa")


@pytest.fixture(params=["embedded", "opa"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "opa":
        monkeypatch.setenv("MLCI_OPA", _opa())
    return str(request.param)


def _build(source: Path, out: Path, *signing: str) -> Path:
    subprocess.run([_opa(), "build", "-b", str(source), "-o", str(out), *signing], check=True, capture_output=True)
    return out


def _pinned(bundle: Path) -> str:
    return f"{bundle}#sha256={hashlib.sha256(bundle.read_bytes()).hexdigest()}"


def _key(tmp_path: Path, text: str = SECRET) -> Path:
    key = tmp_path / "bundle.key"
    key.write_text(text + "\n")  # as `echo` writes it: the final newline is not part of the secret
    return key


def _check(cli, *args: str, engine: str = "embedded"):
    result = cli("check", str(SPEC), "--now", TODAY, "-o", "json", "--engine", engine, *args)
    assert "Traceback" not in result.stderr
    return result


def _findings(result) -> list[tuple[str, str, str, int]]:
    found = json.loads(result.stdout)["findings"]
    return sorted((f["rule_id"], f["severity"], f["message"], f["line"]) for f in found)


def _git(*args: str, cwd: Path) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _repository(tmp_path: Path, folder: Path, name: str = "repo") -> tuple[Path, str]:
    """A real git repository with `folder` copied to policies/; returns it and its commit."""
    repo = tmp_path / name
    (repo / "policies").mkdir(parents=True)
    for file in folder.iterdir():
        (repo / "policies" / file.name).write_bytes(file.read_bytes())
    (repo / "README.md").write_text("policies\n")
    _git("init", "-q", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "policies", cwd=repo)
    return repo, _git("rev-parse", "HEAD", cwd=repo)


def _rewrite(bundle: Path, out: Path, change, extra: tuple[tuple[str, bytes], ...] = ()) -> Path:
    """A copy of the archive with each member passed through `change(name, bytes)` (None
    drops it), and the `extra` members added."""
    with tarfile.open(bundle) as source:
        members = [(m.name, source.extractfile(m).read()) for m in source.getmembers() if m.isfile()]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as target:
        for name, content in [*((n, change(n, c)) for n, c in members), *extra]:
            if content is None:
                continue
            info = tarfile.TarInfo(name)
            info.size = len(content)
            target.addfile(info, io.BytesIO(content))
    out.write_bytes(buffer.getvalue())
    return out


# --- one policy, three sources, two engines ----------------------------------------------


@pytest.mark.parametrize("folder", ["main_deny", "message_overrides", "deny_named"])
def test_a_folder_its_bundle_and_its_git_commit_give_the_same_findings(
    cli, engine: str, tmp_path: Path, folder: str
) -> None:
    source = POLICIES / folder
    bundle = _build(source, tmp_path / "b.tar.gz")
    signed = _build(source, tmp_path / "signed.tar.gz", "--signing-key", SECRET, "--signing-alg", "HS256")
    repo, commit = _repository(tmp_path, source)
    from_folder = _check(cli, "--policies", str(source), engine=engine)
    assert from_folder.exit_code == 1, from_folder.stderr
    expected = _findings(from_folder)
    for args in (
        ("--policies", _pinned(bundle)),
        ("--policies", str(signed), "--policy-key", str(_key(tmp_path))),
        ("--policies", f"git+file://{repo}@{commit}#subdirectory=policies"),
    ):
        result = _check(cli, *args, engine=engine)
        assert result.exit_code == 1, (args, result.stderr)
        assert _findings(result) == expected, args


def test_bundle_data_reaches_the_rules_under_its_paths(cli, engine: str, tmp_path: Path) -> None:
    # opa build merges every data.json into the bundle's data document: here mlci_settings and org.
    bundle = _build(POLICIES / "org_data", tmp_path / "b.tar.gz")
    result = _check(cli, "--policies", _pinned(bundle), engine=engine)
    assert result.exit_code == 1, result.stderr
    assert _findings(result) == [("main.deny", "high", "team ml-platform is restricted", 3)]


def test_bundle_rego_goes_through_the_same_refusals_as_a_folder(cli, tmp_path: Path) -> None:
    bundle = _build(POLICIES / "refuse_metadata_without_id", tmp_path / "b.tar.gz")
    result = _check(cli, "--policies", _pinned(bundle))
    assert result.exit_code == 2, result.stderr
    assert f"{bundle}/" in result.stderr and "policy.rego:" in result.stderr
    assert "has METADATA but no custom.id" in result.stderr


def test_a_changed_bundle_is_a_new_decision_not_a_cached_one(cli, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    rule = 'package main\n\nimport rego.v1\n\ndeny contains "{}" if input.project.team == "ml-platform"\n'
    (folder / "p.rego").write_text(rule.format("first"))
    bundle = _build(folder, tmp_path / "b.tar.gz")
    assert _findings(_check(cli, "--policies", _pinned(bundle)))[0][2] == "first"
    (folder / "p.rego").write_text(rule.format("second"))
    _build(folder, bundle)
    assert _findings(_check(cli, "--policies", _pinned(bundle)))[0][2] == "second"


def test_policy_test_runs_a_bundles_rego_tests(cli, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "p.rego").write_text("package org\n\nimport rego.v1\n\nlimit := 3\n")
    (folder / "p_test.rego").write_text("package org_test\n\nimport rego.v1\n\ntest_limit if data.org.limit == 4\n")
    bundle = _build(folder, tmp_path / "b.tar.gz")
    result = cli("policy", "test", "--policies", _pinned(bundle), "-v")
    assert result.exit_code == 1, result.stderr
    assert "FAIL: data.org_test.test_limit" in result.stdout


def test_report_takes_a_bundle_and_refuses_an_unverified_one(cli, tmp_path: Path) -> None:
    bundle = _build(POLICIES / "main_deny", tmp_path / "b.tar.gz")
    refused = cli("report", str(SPEC), "--framework", "gdpr", "--now", TODAY, "--policies", str(bundle))
    assert refused.exit_code == 2
    assert "#sha256=" in refused.stderr
    accepted = cli("report", str(SPEC), "--framework", "gdpr", "--now", TODAY, "--policies", _pinned(bundle))
    assert accepted.exit_code in (0, 1), accepted.stderr
    assert "untrusted" not in accepted.stderr


# --- verification -------------------------------------------------------------------------


def test_an_unsigned_unpinned_bundle_is_refused_with_how_to_pin_it(cli, tmp_path: Path) -> None:
    bundle = _build(POLICIES / "main_deny", tmp_path / "b.tar.gz")
    result = _check(cli, "--policies", str(bundle))
    assert result.exit_code == 2
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert f"{bundle}#sha256=<hex>" in result.stderr and digest in result.stderr
    assert result.stdout == ""


def test_a_pin_that_does_not_match_is_refused(cli, tmp_path: Path) -> None:
    bundle = _build(POLICIES / "main_deny", tmp_path / "b.tar.gz")
    result = _check(cli, "--policies", f"{bundle}#sha256={'0' * 64}")
    assert result.exit_code == 2
    assert f"{bundle}: untrusted policy bundle" in result.stderr and "not the pinned" in result.stderr


def test_a_key_requires_a_signature(cli, tmp_path: Path) -> None:
    bundle = _build(POLICIES / "main_deny", tmp_path / "b.tar.gz")
    result = _check(cli, "--policies", _pinned(bundle), "--policy-key", str(_key(tmp_path)))
    assert result.exit_code == 2
    assert "it is not signed" in result.stderr


def test_a_bundle_signed_with_another_key_is_refused(cli, tmp_path: Path) -> None:
    signed = _build(POLICIES / "main_deny", tmp_path / "b.tar.gz", "--signing-key", "other", "--signing-alg", "HS256")
    result = _check(cli, "--policies", str(signed), "--policy-key", str(_key(tmp_path)))
    assert result.exit_code == 2
    assert f"{signed}: untrusted policy bundle" in result.stderr and "another key" in result.stderr


def _edit_rego(name: str, content: bytes) -> bytes:
    return content.replace(b"ml-platform", b"nobody-at-all") if name.endswith(".rego") else content


def _drop_rego(name: str, content: bytes) -> bytes | None:
    return None if name.endswith(".rego") else content


INJECTED = (("/extra.rego", b'package main\n\nimport rego.v1\n\ndeny contains "injected" if true\n'),)


@pytest.mark.parametrize(
    "change, extra, phrase",
    [
        (_edit_rego, (), "does not match the signed hash"),
        (lambda n, c: c, INJECTED, "extra.rego is not covered by the signature"),
        (_drop_rego, (), "is signed but missing from the bundle"),
    ],
    ids=["edited", "added", "removed"],
)
def test_a_tampered_signed_bundle_is_refused(cli, tmp_path: Path, change, extra, phrase: str) -> None:
    signed = _build(POLICIES / "main_deny", tmp_path / "b.tar.gz", "--signing-key", SECRET, "--signing-alg", "HS256")
    tampered = _rewrite(signed, tmp_path / "tampered.tar.gz", change, extra)
    result = _check(cli, "--policies", str(tampered), "--policy-key", str(_key(tmp_path)))
    assert result.exit_code == 2, result.stderr
    assert f"{tampered}: untrusted policy bundle" in result.stderr and phrase in result.stderr


def _key_pair(folder: Path, kind: str) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    private = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    folder.mkdir(exist_ok=True)
    private_pem = folder / f"{kind}.pem"
    private_pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_pem = folder / f"{kind}.pub.pem"
    public_pem.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_pem, public_pem


@pytest.mark.parametrize("kind, algorithm", [("rsa", "RS256"), ("ec", "ES256")])
def test_public_key_signatures_verify_and_another_key_pair_is_refused(
    cli, tmp_path: Path, kind: str, algorithm: str
) -> None:
    private, public = _key_pair(tmp_path / "ours", kind)
    _, stranger = _key_pair(tmp_path / "theirs", kind)
    signed = _build(
        POLICIES / "main_deny", tmp_path / "b.tar.gz", "--signing-key", str(private), "--signing-alg", algorithm
    )
    good = _check(cli, "--policies", str(signed), "--policy-key", str(public))
    assert good.exit_code == 1, good.stderr
    assert _findings(good) == [("main.deny", "high", "team ml-platform may not ship from here", 3)]
    bad = _check(cli, "--policies", str(signed), "--policy-key", str(stranger))
    assert bad.exit_code == 2
    assert "another key" in bad.stderr


def test_a_public_key_without_the_signing_extra_names_it(cli, tmp_path: Path, monkeypatch) -> None:
    import sys

    private, public = _key_pair(tmp_path, "ec")
    signed = _build(
        POLICIES / "main_deny", tmp_path / "b.tar.gz", "--signing-key", str(private), "--signing-alg", "ES256"
    )
    monkeypatch.setitem(sys.modules, "cryptography", None)  # as on a core install, where it is absent
    result = _check(cli, "--policies", str(signed), "--policy-key", str(public))
    assert result.exit_code == 2
    assert "pip install 'mlci[signing]'" in result.stderr


def test_a_plain_tar_of_a_folder_is_a_bundle_too(cli, tmp_path: Path) -> None:
    folder = POLICIES / "main_deny"
    bundle = tmp_path / "plain.tar.gz"
    subprocess.run(["tar", "-C", str(folder), "-czf", str(bundle), "."], check=True)
    result = _check(cli, "--policies", _pinned(bundle))
    assert result.exit_code == 1, result.stderr
    assert _findings(result) == [("main.deny", "high", "team ml-platform may not ship from here", 3)]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_public_key_is_never_used_as_an_hmac_secret(cli, tmp_path: Path) -> None:
    # Algorithm confusion: re-sign the files list with HS256, using the public PEM as the secret.
    _, public = _key_pair(tmp_path, "rsa")
    signed = _build(POLICIES / "main_deny", tmp_path / "b.tar.gz", "--signing-key", "x", "--signing-alg", "HS256")
    with tarfile.open(signed) as archive:
        token = json.loads(archive.extractfile("/.signatures.json").read())["signatures"][0]
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = token.split(".")[1]
    mac = hmac.new(public.read_bytes(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    forged_doc = json.dumps({"signatures": [f"{head}.{body}.{_b64(mac)}"]}).encode()
    forged = _rewrite(signed, tmp_path / "forged.tar.gz", lambda n, c: forged_doc if n == "/.signatures.json" else c)
    result = _check(cli, "--policies", str(forged), "--policy-key", str(public))
    assert result.exit_code == 2
    assert "'HS256'" in result.stderr and "untrusted policy bundle" in result.stderr


# --- safe reading of the archive ----------------------------------------------------------


def _archive(tmp_path: Path, *members: tarfile.TarInfo, contents: dict[str, bytes] | None = None) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info in members:
            data = (contents or {}).get(info.name)
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    path = tmp_path / "evil.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


REGO = b'package main\n\nimport rego.v1\n\ndeny contains "x" if true\n'


@pytest.mark.parametrize(
    "member, phrase",
    [
        (_member("../escape.rego"), "would leave the bundle"),
        (_member("policies/../../escape.rego"), "would leave the bundle"),
        (_member("//etc/escape.rego"), "would leave the bundle"),
        (_member("policies\\..\\escape.rego"), "would leave the bundle"),
        (_member("link.rego", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (_member("hard.rego", tarfile.LNKTYPE, "/etc/passwd"), "is a link"),
        (_member("dev.rego", tarfile.CHRTYPE), "is a device"),
        (_member("fifo.rego", tarfile.FIFOTYPE), "is a FIFO"),
        (_member("policy.wasm"), "cannot interpret"),
        (_member("data.yaml"), "cannot interpret"),
        (_member("notes.txt"), "refuses what it does not read"),
    ],
)
def test_unsafe_or_uninterpretable_members_are_refused(cli, tmp_path: Path, member, phrase: str) -> None:
    contents = {member.name: REGO} if member.type == tarfile.REGTYPE else {}
    bundle = _archive(tmp_path, member, contents=contents)
    result = _check(cli, "--policies", _pinned(bundle))  # pinned: the refusal is about the content
    assert result.exit_code == 2, result.stderr
    assert phrase in result.stderr
    assert not (tmp_path.parent / "escape.rego").exists()


def test_a_duplicate_member_is_refused(cli, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for body in (REGO, REGO.replace(b'"x"', b'"y"')):
            info = tarfile.TarInfo("/p.rego")
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    bundle = tmp_path / "dup.tar.gz"
    bundle.write_bytes(buffer.getvalue())
    result = _check(cli, "--policies", _pinned(bundle))
    assert result.exit_code == 2
    assert "appears twice" in result.stderr


def test_a_tar_bomb_stops_at_the_limit(cli, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as archive:
        info = tarfile.TarInfo("data.json")
        info.size = 64 << 20
        archive.addfile(info, io.BytesIO(b" " * info.size))
    bomb.write_bytes(buffer.getvalue())
    assert bomb.stat().st_size < 1 << 20
    result = _check(cli, "--policies", _pinned(bomb))
    assert result.exit_code == 2
    assert "unpacks to more than" in result.stderr


def test_too_many_members_are_refused(cli, tmp_path: Path) -> None:
    members = [_member(f"d{i}/") for i in range(2001)]
    for info in members:
        info.type = tarfile.DIRTYPE
    result = _check(cli, "--policies", _pinned(_archive(tmp_path, *members)))
    assert result.exit_code == 2
    assert "at most 2000 entries" in result.stderr


def test_packages_outside_the_manifest_roots_are_refused(cli, tmp_path: Path) -> None:
    # opa build refuses to write such a bundle; a hand-made archive is what a pull request can hold.
    contents = {"/.manifest": b'{"roots": ["org"]}', "/p.rego": REGO}
    bundle = _archive(tmp_path, *(_member(name) for name in contents), contents=contents)
    result = _check(cli, "--policies", _pinned(bundle))
    assert result.exit_code == 2
    assert "package main lies outside the bundle's roots" in result.stderr


@pytest.mark.parametrize("manifest", ['{"rego_version": 0}', '{"file_rego_versions": {"/p.rego": 0}}'])
def test_a_bundle_of_rego_v0_is_refused(cli, tmp_path: Path, manifest: str) -> None:
    contents = {"/.manifest": manifest.encode(), "/p.rego": REGO}
    bundle = _archive(tmp_path, *(_member(name) for name in contents), contents=contents)
    result = _check(cli, "--policies", _pinned(bundle))
    assert result.exit_code == 2
    assert "declares Rego v0 modules" in result.stderr


# --- git ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["main", "v1", "SHORT"])
def test_a_git_url_must_be_pinned_to_a_full_commit(cli, tmp_path: Path, ref: str) -> None:
    repo, commit = _repository(tmp_path, POLICIES / "main_deny")
    _git("tag", "v1", cwd=repo)
    ref = commit[:10] if ref == "SHORT" else ref
    result = _check(cli, "--policies", f"git+file://{repo}@{ref}#subdirectory=policies")
    assert result.exit_code == 2
    assert "full 40-hex commit" in result.stderr
    unpinned = _check(cli, "--policies", f"git+file://{repo}#subdirectory=policies")
    assert unpinned.exit_code == 2
    assert "pin the policy repository to a full commit" in unpinned.stderr


def test_a_git_fetch_that_fails_is_undecided_never_a_pass(cli, tmp_path: Path) -> None:
    repo, commit = _repository(tmp_path, POLICIES / "main_deny")
    _git("commit", "-q", "--allow-empty", "-m", "not there", cwd=repo)
    missing = "f" * 40
    result = _check(cli, "--policies", f"git+file://{repo}@{missing}#subdirectory=policies")
    assert result.exit_code == 3, result.stderr
    assert "cannot fetch the policies" in result.stderr
    gone = _check(cli, "--policies", f"git+file://{tmp_path}/no-such-repo@{commit[::-1]}")
    assert gone.exit_code == 3


def test_a_tampered_cached_checkout_is_not_used(cli, tmp_path: Path, _private_decision_cache: Path) -> None:
    repo, commit = _repository(tmp_path, POLICIES / "main_deny")
    url = f"git+file://{repo}@{commit}#subdirectory=policies"
    assert _check(cli, "--policies", url).exit_code == 1
    cached = _private_decision_cache / "policy-git" / f"{commit}.git"
    for pack in (cached / "objects").rglob("*"):
        if pack.is_file() and pack.suffix in ("", ".pack"):
            pack.chmod(0o644)
            raw = bytearray(pack.read_bytes())
            raw[len(raw) // 2] ^= 0xFF
            pack.write_bytes(bytes(raw))
    result = _check(cli, "--policies", url, "--no-cache")
    assert result.exit_code == 3, result.stderr
    assert "failed verification" in result.stderr


def test_git_sources_refuse_symlinks_credentials_and_escaping_subdirectories(cli, tmp_path: Path) -> None:
    repo, _ = _repository(tmp_path, POLICIES / "main_deny")
    (repo / "policies" / "link.rego").symlink_to("/etc/passwd")
    _git("add", ".", cwd=repo)
    _git("commit", "-q", "-m", "link", cwd=repo)
    commit = _git("rev-parse", "HEAD", cwd=repo)
    linked = _check(cli, "--policies", f"git+file://{repo}@{commit}#subdirectory=policies")
    assert linked.exit_code == 2
    assert "link.rego: is a symbolic link" in linked.stderr
    escaping = _check(cli, "--policies", f"git+file://{repo}@{commit}#subdirectory=../other")
    assert escaping.exit_code == 2
    option = _check(cli, "--policies", f"git+ssh://-oProxyCommand=touch%20pwned/org/p.git@{commit}")
    assert option.exit_code == 2
    assert "not a repository URL with a host name" in option.stderr
    secret = _check(cli, "--policies", f"git+https://user:token@example.org/org/p.git@{commit}")
    assert secret.exit_code == 2
    assert "credentials do not belong in the URL" in secret.stderr
    assert "token" not in secret.stderr


# --- configuration ------------------------------------------------------------------------


@pytest.fixture
def repo_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_config_takes_a_pinned_bundle(cli, repo_root: Path) -> None:
    bundle = _build(POLICIES / "main_deny", repo_root / "org.tar.gz")
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    (repo_root / ".mlci.yaml").write_text(f"policies: ['org.tar.gz#sha256={digest}']\n")
    result = _check(cli)
    assert result.exit_code == 1, result.stderr
    assert ("main.deny", "high", "team ml-platform may not ship from here", 3) in _findings(result)


@pytest.mark.parametrize(
    "entry, phrase",
    [
        ("git+https://example.org/org/p.git@main", "not a full commit id"),
        (f"git+file:///tmp/p@{'a' * 40}", "git+https://"),
        ("org.tar.gz#sha256=abc", "64 hex digits"),
    ],
)
def test_config_refuses_unpinned_or_local_sources_at_their_line(cli, repo_root: Path, entry: str, phrase: str) -> None:
    _build(POLICIES / "main_deny", repo_root / "org.tar.gz")
    (repo_root / ".mlci.yaml").write_text(f"# org policies\npolicies:\n  - '{entry}'\n")
    result = _check(cli)
    assert result.exit_code == 2
    assert ".mlci.yaml:3:5:" in result.stderr and phrase in result.stderr
