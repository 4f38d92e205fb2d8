"""What a plane writes before its first start, and the state file other processes attach to."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._configs import audit_policy, encryption_config, token_file, write_kubeconfig, write_private
from ._identities import PoolUser
from ._pki import generate_pki, generate_sni

ADMIN_USER = "nebula-admin"
STATE_FILE = "plane.json"
ENCRYPTION_FILE = "encryption.yaml"
# kube-apiserver serves a certificate for this name only, signed by a second CA
# (sni-ca.crt), to clients asking for it by SNI (kubeconfig tls-server-name).
SNI_NAME = "apiserver.nebula.test"


@dataclass
class Material:
    """The secrets a running plane hands out: its CA, the admin token, the user pool."""

    ca_pem: bytes
    admin_token: str
    pool: list[PoolUser] = field(default_factory=list)


def write_material(
    directory: Path,
    name: str,
    server: str,
    pool_size: int,
    encryption: str | None = None,
) -> Material:
    """Certificates, keys, token file, encryption config, audit policy, admin kubeconfig.

    ``encryption`` is the EncryptionConfiguration YAML; default: aescbc with a new key.
    """
    d = directory
    pki = generate_pki(name)
    (d / "ca.crt").write_bytes(pki.ca_cert)
    write_private(d / "ca.key", pki.ca_key)
    (d / "apiserver.crt").write_bytes(pki.server_cert)
    write_private(d / "apiserver.key", pki.server_key)
    write_private(d / "sa.key", pki.sa_key)
    (d / "sa.pub").write_bytes(pki.sa_pub)
    sni_ca, sni_cert, sni_key = generate_sni(SNI_NAME)
    (d / "sni-ca.crt").write_bytes(sni_ca)
    (d / "sni.crt").write_bytes(sni_cert)
    write_private(d / "sni.key", sni_key)

    material = Material(ca_pem=pki.ca_cert, admin_token=secrets.token_urlsafe(32))
    material.pool = [
        PoolUser(name=f"identity-{i:02d}", token=secrets.token_urlsafe(32))
        for i in range(pool_size)
    ]
    rows: list[tuple[str, str, str, Sequence[str]]] = [
        (material.admin_token, ADMIN_USER, ADMIN_USER, ("system:masters",))
    ]
    rows += [(u.token, u.username, u.name, u.groups) for u in material.pool]
    write_private(d / "tokens.csv", token_file(rows))
    text = encryption if encryption is not None else encryption_config(os.urandom(32))
    write_private(d / ENCRYPTION_FILE, text.encode())
    (d / "audit-policy.yaml").write_text(audit_policy())
    write_kubeconfig(
        d / "admin.yaml",
        cluster=name,
        server=server,
        ca_pem=pki.ca_cert,
        user=f"{name}-admin",
        token=material.admin_token,
        namespace="default",
        context=name,
    )
    return material


def save_state(directory: Path, state: dict[str, Any]) -> None:
    write_private(directory / STATE_FILE, json.dumps(state, indent=2).encode())


def load_state(directory: Path) -> tuple[dict[str, Any], Material]:
    """The saved state of a plane started elsewhere, and its material."""
    state: dict[str, Any] = json.loads((directory / STATE_FILE).read_text())
    material = Material(
        ca_pem=Path(state["ca_file"]).read_bytes(),
        admin_token=state["admin_token"],
        pool=[PoolUser(name=p["name"], token=p["token"]) for p in state["pool"]],
    )
    return state, material
