"""Secrets other tools write, made with kubectl, read through the library and the CLI.

Kubernetes' built-in Secret types say what they hold: the kind follows the type when
nothing else names it, and every hint names the kind that fits the keys present, in
the words of the caller (keyword arguments for the library, options for the CLI).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from k8s_support import CANARY, cli_runner, kubectl, new_namespace, provider_for

from nebula_credential import CorruptData, InvalidCredential
from nebula_credential.testing.envtest import ControlPlane

PREFIX = "nebula-credentials"
LIBRARY_WORDS = ("kind='", "field_names=", "ignore_unknown=")


def _pem_pair(directory: Path) -> tuple[Path, Path, str, str]:
    """A self-signed certificate and its key, as files for ``kubectl create secret tls``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "svc.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    (directory / "tls.crt").write_text(cert_pem)
    (directory / "tls.key").write_text(key_pem)
    return directory / "tls.crt", directory / "tls.key", cert_pem, key_pem


@pytest.fixture(scope="module")
def cluster(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """One namespace holding a Secret of every built-in type kubectl makes."""
    ns = new_namespace(control_plane, "foreign-types")
    admin = control_plane.admin_kubeconfig
    files = tmp_path_factory.mktemp("tls")
    cert_file, key_file, cert_pem, key_pem = _pem_pair(files)

    def make(*args: str) -> None:
        kubectl(admin, "create", "secret", *args, "-n", ns)

    make(
        "generic",
        f"{PREFIX}-basic",
        "--type=kubernetes.io/basic-auth",
        "--from-literal=username=svc-user",
        f"--from-literal=password={CANARY}",
    )
    make("tls", f"{PREFIX}-tls", f"--cert={cert_file}", f"--key={key_file}")
    make("tls", f"{PREFIX}-tls-labelled", f"--cert={cert_file}", f"--key={key_file}")
    kubectl(
        admin,
        "label",
        "secret",
        f"{PREFIX}-tls-labelled",
        "-n",
        ns,
        "nebula-credential/kind=certificate",
    )
    make(
        "docker-registry",
        f"{PREFIX}-registry",
        "--docker-server=registry.example:5000",
        "--docker-username=puller",
        f"--docker-password={CANARY}",
    )
    make(
        "generic",
        f"{PREFIX}-ssh",
        "--type=kubernetes.io/ssh-auth",
        f"--from-literal=ssh-privatekey={CANARY}",
    )
    make(
        "generic",
        f"{PREFIX}-opaque-login",
        "--from-literal=username=svc-user",
        f"--from-literal=password={CANARY}",
    )
    return {"namespace": ns, "cert": cert_pem, "key": key_pem}


async def test_basic_auth_and_tls_secrets_read_as_their_kind(
    control_plane: ControlPlane, cluster: dict[str, str]
) -> None:
    async with provider_for(control_plane, cluster["namespace"]) as provider:
        basic = await provider.get("basic")
        assert basic.kind.value == "basic_auth"
        assert (basic.fields["username"], basic.reveal("password")) == ("svc-user", CANARY)
        tls = await provider.get("tls")
        assert tls.kind.value == "certificate"
        assert tls.fields["certificate"] == cluster["cert"]
        assert tls.reveal("private_key") == cluster["key"]
        assert CANARY not in repr(basic)
        # read_secret by name takes the same path.
        by_name = await provider.read_secret(f"{PREFIX}-tls")
        assert by_name is not None
        assert by_name.reveal("private_key") == cluster["key"]


async def test_registry_and_ssh_secrets_read_as_generic_under_their_own_keys(
    control_plane: ControlPlane, cluster: dict[str, str]
) -> None:
    async with provider_for(control_plane, cluster["namespace"]) as provider:
        registry = await provider.get("registry")
        assert registry.kind.value == "generic"
        config = json.loads(str(registry.reveal(".dockerconfigjson")))
        assert config["auths"]["registry.example:5000"]["password"] == CANARY
        ssh = await provider.get("ssh")
        assert (ssh.kind.value, ssh.reveal("ssh-privatekey")) == ("generic", CANARY)


async def test_the_caller_and_the_labels_still_come_before_the_type(
    control_plane: ControlPlane, cluster: dict[str, str]
) -> None:
    async with provider_for(control_plane, cluster["namespace"]) as provider:
        labelled = await provider.get("tls-labelled")
        assert labelled.kind.value == "certificate"
        assert labelled.reveal("private_key") == cluster["key"]
        as_generic = await provider.read_secret(f"{PREFIX}-tls", kind="generic")
        assert as_generic is not None
        assert set(as_generic.fields) == {"tls.crt", "tls.key"}


async def test_an_opaque_login_names_basic_auth_in_keyword_arguments(
    control_plane: ControlPlane, cluster: dict[str, str]
) -> None:
    ns = cluster["namespace"]
    async with provider_for(control_plane, ns) as provider:
        with pytest.raises(CorruptData) as caught:
            await provider.get("opaque-login")
        message = str(caught.value)
        assert "pass kind='basic_auth'" in message
        assert f"kubectl label secret {PREFIX}-opaque-login -n {ns} " in message
        assert message.endswith("nebula-credential/kind=basic_auth")
        assert "oauth2" not in message
        assert CANARY not in message
        login = await provider.read_secret(f"{PREFIX}-opaque-login", kind="basic_auth")
        assert login is not None
        assert login.reveal("password") == CANARY
        # Keys of another kind than the one asked for: the hint names the one they fit.
        with pytest.raises(InvalidCredential) as wrong:
            await provider.read_secret(f"{PREFIX}-opaque-login", kind="api_key")
        assert "basic_auth (its keys fit)" in str(wrong.value)
        assert "field_names=" in str(wrong.value)


def test_cli_reads_every_type_and_speaks_in_options(
    control_plane: ControlPlane, cluster: dict[str, str]
) -> None:
    run = cli_runner(control_plane.admin_kubeconfig, cluster["namespace"])
    expected = {
        "basic": "basic_auth",
        "tls": "certificate",
        "tls-labelled": "certificate",
        "registry": "generic",
        "ssh": "generic",
    }
    for cid, kind in expected.items():
        done = run("-o", "json", "get", cid)
        assert done.returncode == 0, (cid, done.stderr)
        shown = json.loads(done.stdout)
        assert (shown["id"], shown["kind"]) == (cid, kind)
        assert CANARY not in done.stdout
    key = run("get", "tls-labelled", "--field", "private_key", "--reveal")
    assert key.stdout == cluster["key"] + "\n"

    refused = run("get", "opaque-login")
    assert refused.returncode == 1
    assert "pass --kind basic_auth or label it" in refused.stderr
    assert not any(word in refused.stderr for word in LIBRARY_WORDS)
    assert refused.stderr.count("\n") == 1

    read = run("get", "opaque-login", "--kind", "basic_auth", "--field", "password", "--reveal")
    assert (read.returncode, read.stdout) == (0, CANARY + "\n"), read.stderr
    wrong = run("get", "opaque-login", "--kind", "api_key")
    assert wrong.returncode == 2
    assert "--map-key KEY=FIELD" in wrong.stderr
    assert "--ignore-unknown" in wrong.stderr
    assert "basic_auth (its keys fit)" in wrong.stderr
    assert not any(word in wrong.stderr for word in LIBRARY_WORDS)


def test_cli_maps_keys_onto_fields(control_plane: ControlPlane) -> None:
    ns = new_namespace(control_plane, "foreign-map")
    kubectl(
        control_plane.admin_kubeconfig,
        "create",
        "secret",
        "generic",
        f"{PREFIX}-github",
        "--from-literal=accessToken=at-1",
        f"--from-literal=refreshToken={CANARY}",
        "--from-literal=note=kept-elsewhere",
        "-n",
        ns,
    )
    run = cli_runner(control_plane.admin_kubeconfig, ns)
    args = ["get", "github", "--kind", "oauth2", "--map-key", "accessToken=access_token"]
    args += ["--map-key", "refreshToken=refresh_token"]
    refused = run(*args)
    assert refused.returncode == 2
    assert "not oauth2 fields: note" in refused.stderr
    done = run("-o", "json", *args, "--ignore-unknown", "--reveal")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["fields"] == {"access_token": "at-1", "refresh_token": CANARY}
    absent = run("get", "nothing-here", "--kind", "oauth2")
    assert absent.returncode == 3
    assert f"no Secret {PREFIX}-nothing-here" in absent.stderr
    bad = run("get", "github", "--map-key", "accessToken")
    assert bad.returncode == 2
    assert "--map-key #1 has no '='" in bad.stderr
    local = run("get", "github", "--kind", "oauth2", provider="local")
    assert local.returncode == 2
    assert "--provider kubernetes" in local.stderr


def test_cli_reads_a_secret_by_its_own_name(control_plane: ControlPlane, tmp_path: Path) -> None:
    """cert-manager and ``kubectl create secret tls web-tls`` name Secrets without our
    prefix: ``get NAME --by-name`` reads that Secret, not ``<prefix>-NAME``."""
    ns = new_namespace(control_plane, "foreign-by-name")
    cert_file, key_file, cert_pem, _ = _pem_pair(tmp_path)
    admin = control_plane.admin_kubeconfig
    kubectl(admin, "create", "secret", "tls", "web-tls", f"--cert={cert_file}",
            f"--key={key_file}", "-n", ns)  # fmt: skip
    run = cli_runner(admin, ns)
    assert run("get", "web-tls").returncode == 3  # the credential web-tls: <prefix>-web-tls
    done = run("-o", "json", "get", "web-tls", "--by-name")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["id"], shown["kind"]) == ("web-tls", "certificate")
    cert = run("get", "web-tls", "--by-name", "--field", "certificate", "--reveal")
    assert cert.stdout == cert_pem + "\n"
    missing = run("get", "no-such-secret", "--by-name")
    assert missing.returncode == 3
    assert "Secret 'no-such-secret' not found" in missing.stderr
    bad = run("get", "Web_TLS\x1b[2J", "--by-name")
    assert bad.returncode == 2
    assert "\x1b" not in bad.stderr
    local = run("get", "web-tls", "--by-name", provider="local")
    assert local.returncode == 2
    assert "--provider kubernetes" in local.stderr
