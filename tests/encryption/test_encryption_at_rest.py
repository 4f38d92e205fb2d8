"""Encryption at rest, verified in etcd, and a key rotation finished by ``reencrypt``."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import Sequence

from rotation_support import config, reencrypt_cli, stored_under

from nebula_credential.domain import Credential, CredentialKind
from nebula_credential.kubernetes import KubernetesSecretsProvider
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

CANARY = "canary-at-rest-5e8c-do-not-print"
COUNT = 120


def prefixes(plane: ControlPlane, namespace: str) -> Counter[str]:
    return stored_under(plane, namespace, CANARY)


async def store_all(provider: KubernetesSecretsProvider, ids: Sequence[str]) -> None:
    gate = asyncio.Semaphore(16)

    async def one(cid: str) -> None:
        async with gate:
            fields = {"api_key": f"{CANARY}-{cid}"}
            await provider.store(Credential(cid, CredentialKind.API_KEY, fields))

    await asyncio.gather(*(one(c) for c in ids))


async def read_all(provider: KubernetesSecretsProvider, ids: Sequence[str]) -> int:
    found = 0
    for cid in ids:
        credential = await provider.get(cid)
        assert credential.reveal("api_key") == f"{CANARY}-{cid}"
        found += 1
    return found


def test_key_rotation_then_reencrypt(control_plane_factory: PlaneFactory) -> None:
    key1, key2, key3 = (os.urandom(32) for _ in range(3))
    plane = control_plane_factory(
        "at-rest", encryption_config=config(("aescbc", "key1", key1)), identity_pool=2
    )
    namespace = f"rotate-{secrets.token_hex(3)}"
    plane.ensure_namespace(namespace)
    ids = [f"svc.{i:04d}" for i in range(COUNT)]

    def provider() -> KubernetesSecretsProvider:
        return KubernetesSecretsProvider(namespace, kubeconfig=plane.admin_kubeconfig)

    async def with_provider(work):  # type: ignore[no-untyped-def]
        p = provider()
        try:
            return await work(p)
        finally:
            await p.close()

    asyncio.run(with_provider(lambda p: store_all(p, ids)))
    figures: dict[str, object] = {"secrets": COUNT}
    figures["initial"] = dict(prefixes(plane, namespace))
    assert figures["initial"] == {"k8s:enc:aescbc:v1:key1": COUNT}

    # 1. The new key is added second: the API server can read it, still writes key1.
    plane.set_encryption_config(config(("aescbc", "key1", key1), ("aescbc", "key2", key2)))
    # 2. The new key becomes primary: new writes use it, old Secrets stay under key1.
    plane.set_encryption_config(config(("aescbc", "key2", key2), ("aescbc", "key1", key1)))
    asyncio.run(with_provider(lambda p: store_all(p, ids[:1])))
    figures["before_reencrypt"] = dict(prefixes(plane, namespace))
    assert figures["before_reencrypt"] == {
        "k8s:enc:aescbc:v1:key1": COUNT - 1,
        "k8s:enc:aescbc:v1:key2": 1,
    }
    # 3. reencrypt rewrites every managed Secret; none is left under key1.
    began = time.monotonic()
    done = reencrypt_cli(plane, namespace)
    figures["reencrypt_seconds"] = round(time.monotonic() - began, 2)
    assert done.returncode == 0, done.stderr
    import json

    summary = json.loads(done.stdout)
    figures["reencrypt_summary"] = {
        k: summary[k] for k in ("rewritten", "current", "failed", "seconds")
    }
    # The one Secret written after the switch is under key2 already: the API server
    # writes nothing for it, and its resourceVersion stays.
    assert (summary["rewritten"], summary["current"], summary["failed"]) == (COUNT - 1, 1, 0)
    figures["after_reencrypt"] = dict(prefixes(plane, namespace))
    assert figures["after_reencrypt"] == {"k8s:enc:aescbc:v1:key2": COUNT}
    # 4. The old key is removed; every credential still reads.
    plane.set_encryption_config(config(("aescbc", "key2", key2)))
    assert asyncio.run(with_provider(lambda p: read_all(p, ids))) == COUNT

    # The same rotation onto secretbox.
    plane.set_encryption_config(config(("secretbox", "key3", key3), ("aescbc", "key2", key2)))
    again = reencrypt_cli(plane, namespace)
    assert again.returncode == 0, again.stderr
    figures["after_secretbox"] = dict(prefixes(plane, namespace))
    assert figures["after_secretbox"] == {"k8s:enc:secretbox:v1:key3": COUNT}
    plane.set_encryption_config(config(("secretbox", "key3", key3)))
    assert asyncio.run(with_provider(lambda p: read_all(p, ids))) == COUNT
    # A second run on an up-to-date store writes nothing new but still succeeds.
    assert reencrypt_cli(plane, namespace).returncode == 0
    print("\nencryption-at-rest figures:", figures)
