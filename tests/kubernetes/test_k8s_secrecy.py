"""No secret value shows in any error, traceback, repr, log line or counter."""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback
from collections.abc import Awaitable

import pytest
from k8s_support import (
    CANARY,
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
from nebula_credential.kubernetes import KubernetesSecretsProvider, RetryPolicy
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

pytestmark = pytest.mark.kubernetes


def canary_credential(cid: str) -> Credential:
    return Credential(
        cid,
        "oauth2",
        {"access_token": CANARY, "refresh_token": "r-" + CANARY, "client_secret": CANARY},
        scope="user:alice",
    )


async def test_canary_never_leaks_through_errors_logs_or_reprs(
    control_plane_factory: PlaneFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Its own plane: the API server is stopped below, and must not take others down.
    with control_plane_factory("secrecy") as plane:
        async with asyncio.timeout(240):
            errors, shown = await provoke_every_error(plane, caplog)
    assert [type(error) for error in errors] == [
        Conflict,
        PayloadTooLarge,
        CorruptData,
        ProviderUnavailable,
        PermissionDenied,
    ]
    for error in errors:
        shown.append(str(error))
        shown.append(repr(error))
        shown.append("".join(traceback.format_exception(error)))  # chained causes too
    # The outage made the provider log its retries and its giving up, each naming the
    # Secret it was writing: the log check below reads real records, not an empty log.
    provider_records = [
        r for r in caplog.records if r.name.startswith("nebula_credential.kubernetes")
    ]
    messages = [r.getMessage() for r in provider_records]
    down = '"nebula-credentials-down"'
    assert any(m.startswith("retrying ") and down in m for m in messages), messages
    assert any(m.startswith("giving up: ") and down in m for m in messages), messages
    # An application logging our objects and errors, tracebacks included, as apps do.
    assert any(r.name == "app" and r.exc_info for r in caplog.records)
    shown.append(caplog.text)
    encoded = base64.b64encode(CANARY.encode()).decode()[:16]
    for text in shown:
        assert CANARY not in text
        assert encoded not in text


async def provoke_every_error(
    plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> tuple[list[CredentialError], list[str]]:
    caplog.set_level(logging.DEBUG)
    app_log = logging.getLogger("app")
    namespace = new_namespace(plane, "secrecy")
    elsewhere = new_namespace(plane, "secrecy-b")
    ident = plane.identity(namespace)
    errors: list[CredentialError] = []
    shown: list[str] = []

    async def expect(kind: type[CredentialError], call: Awaitable[object]) -> None:
        with pytest.raises(kind) as caught:
            await asyncio.wait_for(call, timeout=30)
        errors.append(caught.value)
        app_log.debug("call failed: %s", caught.value, exc_info=caught.value)

    policy = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1, deadline=2.0)
    async with provider_for(plane, namespace, retry=policy) as provider:
        stored = await asyncio.wait_for(provider.store(canary_credential("leaky")), timeout=30)
        app_log.debug("stored %r (%s) with %r", stored, stored, provider)
        listed = await asyncio.wait_for(listed_in(provider, "user:alice"), timeout=30)
        shown += [repr(provider), repr(stored), str(stored), repr(provider.stats), repr(listed)]
        await expect(Conflict, provider.store(canary_credential("leaky"), expected_version=0))
        await expect(
            PayloadTooLarge,
            provider.store(
                Credential("big", "generic", {"blob": CANARY * (1024 * 1024 // len(CANARY) + 1)})
            ),
        )
        name = provider.secret_name("leaky")
        patch_credential_json(
            plane, namespace, name, b'{"fields": {"access_token": "' + CANARY.encode()
        )
        await expect(CorruptData, provider.retrieve("leaky"))
        try:
            await asyncio.wait_for(asyncio.to_thread(plane.stop_apiserver), timeout=30)
            await expect(ProviderUnavailable, provider.store(canary_credential("down")))
        finally:
            await asyncio.wait_for(asyncio.to_thread(plane.start_apiserver), timeout=90)

    async with provider_for(plane, elsewhere, kubeconfig=ident.kubeconfig) as denied:
        await expect(PermissionDenied, denied.store(canary_credential("nope")))
    return errors, shown


async def listed_in(provider: KubernetesSecretsProvider, scope: str) -> list[Credential]:
    return [c async for c in provider.list(scope=scope)]
