"""Helpers for the KMS plugin tests: the CLI, SoftHSM2 tokens, Secrets through the API
server and what etcd holds for them."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.kms import KmsPlugin

EXE = str(Path(sys.executable).with_name("nebula-credential"))
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "nebula-kms"
PIN = "4242-token-pin"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``nebula-credential ARGS`` in a real process."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


def new_file_kek(path: Path) -> str:
    """A new key file at ``path`` made by ``kms new-kek``; its KEK id."""
    done = cli("kms", "new-kek", f"file:{path}")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def plugin(directory: Path, *keks: str) -> KmsPlugin:
    """``nebula-credential kms serve`` with ``--kek`` for each source (first encrypts)."""
    argv = [EXE, "kms", "serve", "--grace", "1"]
    for kek in keks:
        argv += ["--kek", kek]
    return KmsPlugin(argv, directory)


def softhsm_token(directory: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """A fresh SoftHSM2 token in ``directory`` (SOFTHSM2_CONF set for this process and the
    plugin it starts); returns ``uri(label)``: the pkcs11: URI of an object on it, with the
    module and a 0600 PIN file."""
    if shutil.which("softhsm2-util") is None or not Path(SOFTHSM_MODULE).exists():
        pytest.fail("SoftHSM2 is missing: apt-get install softhsm2 (scripts/test.sh does)")
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    init = ["softhsm2-util", "--init-token", "--free", "--label", TOKEN]
    init += ["--so-pin", "so-" + PIN, "--pin", PIN]
    subprocess.run(init, capture_output=True, check=True, timeout=30)
    if "pkcs11" in sys.modules:  # SoftHSM2 reads SOFTHSM2_CONF when initialised
        import pkcs11

        pkcs11.lib(SOFTHSM_MODULE).reinitialize()
    pin_file = directory / "pin"
    pin_file.write_text(PIN)
    pin_file.chmod(0o600)
    query = f"module-path={SOFTHSM_MODULE}&pin-source=file:{pin_file}"
    return lambda label: f"pkcs11:token={TOKEN};object={label}?{query}"


def put_secret(plane: ControlPlane, namespace: str, name: str, value: str) -> None:
    """Create a Secret through the API server."""
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {"token": base64.b64encode(value.encode()).decode()},
    }
    plane.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body).raise_for_status(
        f"create {name}"
    )


def read_secret(plane: ControlPlane, namespace: str, name: str) -> str:
    """A Secret's ``token`` through the API server."""
    answer = plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
    data = answer.raise_for_status(f"get {name}").json()["data"]
    return base64.b64decode(data["token"]).decode()


def stored(plane: ControlPlane, namespace: str) -> dict[str, bytes]:
    """The raw etcd values of the namespace's Secrets, by Secret name."""
    prefix = f"{plane.etcd_prefix}/secrets/{namespace}/"
    return {key.rsplit("/", 1)[1]: value for key, value in plane.etcd_get_prefix(prefix).items()}


def wrapped_kek_id(value: bytes, prefix: bytes) -> str:
    """The KEK id inside the wrapped DEK of a KMS v1 value: after the prefix come the
    wrapped DEK's length (2 bytes, big-endian) and the wrapped DEK, our blob."""
    assert value.startswith(prefix)
    rest = value[len(prefix) :]
    size = int.from_bytes(rest[:2], "big")
    blob = rest[2 : 2 + size]
    assert blob.startswith(b"nkms\x01"), "the wrapped DEK is not the plugin's blob"
    return blob[6 : 6 + blob[5]].decode()


def reencrypt_all(plane: ControlPlane, namespace: str) -> dict[str, object]:
    """``nebula-credential -o json reencrypt --all-secrets`` as the admin; its summary."""
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    argv = [EXE, "--provider", "kubernetes", "--kubeconfig", str(plane.admin_kubeconfig)]
    argv += ["--namespace", namespace, "-o", "json", "reencrypt", "--all-secrets"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    summary: dict[str, object] = json.loads(done.stdout)
    return summary


def wrapped_by(plane: ControlPlane, namespace: str) -> dict[tuple[str, str], int]:
    """How many of the namespace's Secrets are stored under each (prefix, KEK id)."""
    seen: dict[tuple[str, str], int] = {}
    for value in stored(plane, namespace).values():
        prefix = b":".join(value.split(b":", 5)[:5]) + b":"
        key = (prefix.decode(), wrapped_kek_id(value, prefix))
        seen[key] = seen.get(key, 0) + 1
    return seen
