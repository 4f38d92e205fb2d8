"""Credentials too large for the cluster: a typed PayloadTooLarge, never an outage.

The Secret data limit (1 MiB) is not the only one: etcd refuses a request over its
``--max-request-bytes`` (1.5 MiB by default), and the stored object carries labels,
annotations and managed fields besides its data.
"""

from __future__ import annotations

import base64
import time

import pytest
from k8s_support import CANARY, ControlPlane, new_namespace, provider_for

from nebula_credential import Credential, PayloadTooLarge
from nebula_credential.cli.exit_codes import exit_code_for
from nebula_credential.domain.wire import encode_json
from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.kubernetes.model.mapping import (
    CREDENTIAL_KEY,
    annotations_for,
    data_size,
    labels_for,
)
from nebula_credential.kubernetes.model.objects import SecretObject

pytestmark = pytest.mark.kubernetes


def heavy(cid: str, tags: int, value_bytes: int) -> Credential:
    """Many long tags plus one large secret field, under the 1 MiB data limit."""
    many = {f"t{i:04d}-" + "k" * 57: f"{i:04d}" + "v" * 59 for i in range(tags)}
    return Credential(cid, "api_key", {"api_key": CANARY + "x" * value_bytes}, tags=many)


def raw_request_bytes(secret: SecretObject) -> int:
    pairs = [*secret.labels.items(), *secret.annotations.items(), *secret.data.items()]
    return sum(len(k) + len(v) for k, v in pairs)


async def test_object_over_etcds_request_limit_is_payload_too_large(
    control_plane: ControlPlane,
) -> None:
    credential = heavy("heavy", tags=1900, value_bytes=390_000)
    assert data_size(credential) < 1024 * 1024  # under the Secret data limit
    namespace = new_namespace(control_plane, "limits")
    policy = RetryPolicy(attempts=6, base_delay=0.5, max_delay=2.0, deadline=30.0)
    async with provider_for(control_plane, namespace, retry=policy) as provider:
        started = time.monotonic()
        with pytest.raises(PayloadTooLarge, match="heavy") as caught:
            await provider.store(credential)
        elapsed = time.monotonic() - started
        assert provider.stats.retries == 0
        assert await provider.retrieve("heavy") is None
    assert elapsed < 5
    assert exit_code_for(caught.value) != 6
    assert CANARY not in str(caught.value)


async def test_server_says_request_too_large_without_retrying(
    control_plane: ControlPlane,
) -> None:
    """Sent anyway (the size check is bypassed by encoding ourselves): no retry storm."""
    credential = heavy("heavy-raw", tags=1900, value_bytes=390_000)
    namespace = new_namespace(control_plane, "limits")
    policy = RetryPolicy(attempts=6, base_delay=0.5, max_delay=2.0, deadline=30.0)
    async with provider_for(control_plane, namespace, retry=policy) as provider:
        secret = encode_unchecked(credential, provider.secret_name("heavy-raw"))
        assert raw_request_bytes(secret) < 3 * 1024 * 1024  # under the API server's body limit
        with pytest.raises(PayloadTooLarge, match="too large") as caught:
            await provider._transport.create(secret)
        assert provider.stats.retries == 0
    assert CANARY not in str(caught.value)


def encode_unchecked(credential: Credential, name: str) -> SecretObject:
    """The Secret ``encode`` would write, built without its size check."""
    stored = credential.evolve(version=1)
    wire = stored.to_dict(reveal=True)
    data = {CREDENTIAL_KEY: b64(encode_json(wire))}
    data["api_key"] = b64(stored.reveal("api_key").encode())
    return SecretObject(
        name=name, labels=labels_for(stored), annotations=annotations_for(wire), data=data
    )


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
