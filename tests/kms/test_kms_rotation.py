"""KEK rotation end to end on the real 1.20 API server (KMS v1).

The API server sees nothing stale in a KMS v1 value whose provider name is unchanged, so
after a new KEK becomes primary in the plugin a ``reencrypt`` rewrites nothing: the
rotation needs a new provider name (first, on the same socket) with the old one kept
second for reading. Then every Secret is re-wrapped under the new KEK, the old KEK and
provider name can go, and everything reads back after an API server restart."""

from __future__ import annotations

import secrets
from pathlib import Path

from kms_support import (
    new_file_kek,
    plugin,
    put_secret,
    read_secret,
    reencrypt_all,
    wrapped_by,
)

from nebula_credential.testing.envtest.plugin import PlaneFactory

COUNT = 10


def providers(endpoint: str, *names: str) -> str:
    """KMS providers ``names`` in order (the first encrypts), all on ``endpoint``."""
    lines = [
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        "  - resources: [secrets]",
        "    providers:",
    ]
    for name in names:
        lines += ["      - kms:", f"          name: {name}", f"          endpoint: {endpoint}"]
        lines += ["          cachesize: 1000", "          timeout: 3s"]
    return "\n".join(lines) + "\n"


def test_kek_rotation_with_reencrypt(control_plane_factory: PlaneFactory, tmp_path: Path) -> None:
    id1, id2 = new_file_kek(tmp_path / "k1"), new_file_kek(tmp_path / "k2")
    k1, k2 = f"file:{tmp_path / 'k1'}", f"file:{tmp_path / 'k2'}"
    sock_dir = tmp_path / "kms"
    old = plugin(sock_dir, k1).start()
    endpoint = old.endpoint
    names = [f"s{i:02d}" for i in range(COUNT)]
    try:
        config = providers(endpoint, "nebula")
        with control_plane_factory(
            "kms-rotate", encryption_config=config, identity_pool=1
        ) as plane:
            namespace = f"rot-{secrets.token_hex(3)}"
            plane.ensure_namespace(namespace)
            for name in names:
                put_secret(plane, namespace, name, f"value-{name}")
            assert wrapped_by(plane, namespace) == {("k8s:enc:kms:v1:nebula:", id1): COUNT}

            # 1. The plugin gets k2 as primary and keeps k1 for reading.
            old.stop()
            both = plugin(sock_dir, k2, k1).start()
            try:
                # Same provider name: the API server finds nothing stale, writes nothing.
                same = reencrypt_all(plane, namespace)
                assert (same["rewritten"], same["current"]) == (0, COUNT)
                assert wrapped_by(plane, namespace) == {("k8s:enc:kms:v1:nebula:", id1): COUNT}
                # 2. A new provider name first, the old one second: reencrypt re-wraps all.
                plane.set_encryption_config(providers(endpoint, "nebula-2", "nebula"))
                moved = reencrypt_all(plane, namespace)
                assert (moved["rewritten"], moved["failed"]) == (COUNT, 0)
                assert wrapped_by(plane, namespace) == {("k8s:enc:kms:v1:nebula-2:", id2): COUNT}
            finally:
                both.stop()

            # 3. k1 and the old provider name retired; everything reads after a restart.
            with plugin(sock_dir, k2):
                plane.set_encryption_config(providers(endpoint, "nebula-2"))
                for name in names:
                    assert read_secret(plane, namespace, name) == f"value-{name}"
                again = reencrypt_all(plane, namespace)
                assert (again["rewritten"], again["current"]) == (0, COUNT)
    finally:
        old.stop()
