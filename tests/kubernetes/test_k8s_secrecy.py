"""No secret value shows in any error, traceback, repr, log line or counter."""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback

import pytest
from k8s_support import (
    CANARY,
    ControlPlane,
    new_namespace,
    patch_credential_json,
    provider_for,
)

from nebula_credential import (
    Conflict,
    CorruptData,
    Credential,
    CredentialError,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
)
from nebula_credential.kubernetes import RetryPolicy

pytestmark = pytest.mark.kubernetes


def canary_credential(cid: str) -> Credential:
    return Credential(
        cid,
        "oauth2",
        {"access_token": CANARY, "refresh_token": "r-" + CANARY, "client_secret": CANARY},
        scope="user:alice",
    )


async def test_canary_never_leaks_through_errors_logs_or_reprs(
    control_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    namespace = new_namespace(control_plane, "secrecy")
    elsewhere = new_namespace(control_plane, "secrecy-b")
    ident = control_plane.identity(namespace)
    errors: list[CredentialError] = []
    shown: list[str] = []

    async def expect(kind: type[CredentialError], call: object) -> None:
        with pytest.raises(kind) as caught:
            await call  # type: ignore[misc]
        errors.append(caught.value)

    policy = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1, deadline=2.0)
    async with provider_for(control_plane, namespace, retry=policy) as provider:
        stored = await provider.store(canary_credential("leaky"))
        shown += [repr(provider), repr(stored), str(stored), repr(provider.stats)]
        shown.append(repr([c async for c in provider.list(scope="user:alice")]))
        await expect(Conflict, provider.store(canary_credential("leaky"), expected_version=0))
        await expect(
            PayloadTooLarge,
            provider.store(
                Credential("big", "generic", {"blob": CANARY * (1024 * 1024 // len(CANARY) + 1)})
            ),
        )
        name = provider.secret_name("leaky")
        patch_credential_json(
            control_plane, namespace, name, b'{"fields": {"access_token": "' + CANARY.encode()
        )
        await expect(CorruptData, provider.retrieve("leaky"))
        try:
            await asyncio.to_thread(control_plane.stop_apiserver)
            await expect(ProviderUnavailable, provider.store(canary_credential("down")))
        finally:
            await asyncio.to_thread(control_plane.start_apiserver)

    async with provider_for(control_plane, elsewhere, kubeconfig=ident.kubeconfig) as denied:
        await expect(PermissionDenied, denied.store(canary_credential("nope")))

    assert len(errors) == 5
    for error in errors:
        shown.append(str(error))
        shown.append(repr(error))
        shown.append("".join(traceback.format_exception(error)))  # chained causes too
    shown.append(caplog.text)
    encoded = base64.b64encode(CANARY.encode()).decode()[:16]
    for text in shown:
        assert CANARY not in text
        assert encoded not in text
