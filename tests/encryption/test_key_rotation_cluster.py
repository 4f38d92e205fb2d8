"""A full key rotation as the Kubernetes documentation prescribes it, on a real API
server: Secrets of ours and of others in several namespaces, the new key added and made
primary, ``reencrypt --all-secrets --all-namespaces``, every Secret under the new key in
etcd, the old key removed (no plain fallback either), the API server restarted, ready,
and every Secret readable."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets

from k8s_support import kubectl
from rotation_support import config, reencrypt_cli, stored_under

from nebula_credential.domain import Credential, CredentialKind
from nebula_credential.kubernetes import KubernetesSecretsProvider
from nebula_credential.testing.envtest.plugin import PlaneFactory

CANARY = "canary-rotation-3d9a-do-not-print"
OURS_PER_NAMESPACE = 12
THEIRS_PER_NAMESPACE = 4


async def store_ours(provider: KubernetesSecretsProvider, ids: list[str]) -> None:
    for cid in ids:
        fields = {"api_key": f"{CANARY}-{provider.namespace}-{cid}"}
        await provider.store(Credential(cid, CredentialKind.API_KEY, fields))


async def read_ours(provider: KubernetesSecretsProvider, ids: list[str]) -> int:
    read = 0
    for cid in ids:
        found = await provider.get(cid)
        assert found.reveal("api_key") == f"{CANARY}-{provider.namespace}-{cid}"
        read += 1
    return read


def test_full_rotation_of_every_secret_then_the_old_key_removed(
    control_plane_factory: PlaneFactory,
) -> None:
    key1, key2 = os.urandom(32), os.urandom(32)
    plane = control_plane_factory("rotation", encryption_config=config(("aescbc", "key1", key1)))
    try:
        namespaces = [f"rot{i}-{secrets.token_hex(3)}" for i in range(3)]
        ids = [f"svc.{i:02d}" for i in range(OURS_PER_NAMESPACE)]
        admin = plane.admin_kubeconfig
        for ns in namespaces:
            plane.ensure_namespace(ns)

            async def fill(ns: str = ns) -> None:
                provider = KubernetesSecretsProvider(ns, kubeconfig=admin)
                try:
                    await store_ours(provider, ids)
                finally:
                    await provider.close()

            asyncio.run(fill())
            for j in range(THEIRS_PER_NAMESPACE):  # not ours: plain kubectl Secrets
                literal = f"--from-literal=password={CANARY}-{ns}-theirs{j}"
                kubectl(admin, "create", "secret", "generic", f"theirs-{j}", "-n", ns, literal)
        total = len(namespaces) * (OURS_PER_NAMESPACE + THEIRS_PER_NAMESPACE)
        assert stored_under(plane, canary=CANARY) == {"k8s:enc:aescbc:v1:key1": total}

        # The new key is added second (every API server can read it), then made primary.
        plane.set_encryption_config(config(("aescbc", "key1", key1), ("aescbc", "key2", key2)))
        plane.set_encryption_config(config(("aescbc", "key2", key2), ("aescbc", "key1", key1)))

        # Ours only, in one namespace: the others are counted, and the old key must stay.
        partial = reencrypt_cli(plane, namespaces[0])
        assert partial.returncode == 0, partial.stderr
        report = json.loads(partial.stdout)
        assert (report["rewritten"], report["untouched"]) == (
            OURS_PER_NAMESPACE,
            THEIRS_PER_NAMESPACE,
        )
        assert report["old_key_still_needed"] is True
        assert stored_under(plane)["k8s:enc:aescbc:v1:key1"] == total - OURS_PER_NAMESPACE

        done = reencrypt_cli(plane, namespaces[0], "--all-secrets", "--all-namespaces")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["namespace"] is None
        assert (report["rewritten"], report["current"]) == (
            total - OURS_PER_NAMESPACE,
            OURS_PER_NAMESPACE,
        )
        assert (report["untouched"], report["failed"], report["vanished"]) == (0, 0, 0)
        assert report["old_key_still_needed"] is False
        assert stored_under(plane, canary=CANARY) == {"k8s:enc:aescbc:v1:key2": total}

        # The old key goes, and the plain fallback with it: nothing could hide behind it.
        plane.set_encryption_config(config(("aescbc", "key2", key2), fallback=False))
        ready = plane.request("GET", "/readyz")
        assert (ready.status, ready.body) == (200, b"ok")
        listed = json.loads(kubectl(admin, "get", "secrets", "--all-namespaces", "-o", "json"))
        theirs = {
            f"{item['metadata']['namespace']}/{item['metadata']['name']}": item["data"]["password"]
            for item in listed["items"]
            if item["metadata"]["name"].startswith("theirs-")
        }
        assert len(listed["items"]) == total
        assert {k: base64.b64decode(v).decode() for k, v in theirs.items()} == {
            f"{ns}/theirs-{j}": f"{CANARY}-{ns}-theirs{j}"
            for ns in namespaces
            for j in range(THEIRS_PER_NAMESPACE)
        }
        for ns in namespaces:

            async def read(ns: str = ns) -> int:
                provider = KubernetesSecretsProvider(ns, kubeconfig=admin)
                try:
                    return await read_ours(provider, ids)
                finally:
                    await provider.close()

            assert asyncio.run(read()) == OURS_PER_NAMESPACE

        # A rerun finds everything current: the API server writes nothing.
        again = reencrypt_cli(plane, namespaces[0], "--all-secrets", "--all-namespaces")
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert (report["rewritten"], report["current"]) == (0, total)
    finally:
        plane.close()
