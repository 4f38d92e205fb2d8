"""Throttling and outages of a real API server: retried, then a typed ProviderUnavailable.

Each test here runs on a plane of its own and bounds every await, so an API server that
fails to come back fails one test, not every test after it.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from k8s_support import new_namespace, on_every_transport, provider_for

from nebula_credential import Credential, ProviderUnavailable
from nebula_credential.cli.exit_codes import exit_code_for
from nebula_credential.kubernetes import KubernetesSecretsProvider, RetryPolicy
from nebula_credential.testing.envtest.plugin import PlaneFactory

pytestmark = pytest.mark.kubernetes

THROTTLED_ARGS = (
    "--max-requests-inflight=1",
    "--max-mutating-requests-inflight=1",
    "--enable-priority-and-fairness=false",
)


async def listed_ids(provider: KubernetesSecretsProvider) -> set[str]:
    return {c.id async for c in provider.list_all()}


@on_every_transport
async def test_real_429s_are_retried_until_every_write_lands(
    transport: str, control_plane_factory: PlaneFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with control_plane_factory("throttled", extra_apiserver_args=THROTTLED_ARGS) as plane:
        namespace = new_namespace(plane, "throttled")
        # system:masters is exempt from the in-flight limit, so write as a limited identity.
        ident = plane.identity(namespace)
        policy = RetryPolicy(attempts=40, base_delay=0.05, max_delay=1.0, deadline=120.0)
        caplog.set_level(logging.INFO, logger="nebula_credential.kubernetes")
        count = 200
        async with asyncio.timeout(300):
            async with provider_for(
                plane, kubeconfig=ident.kubeconfig, retry=policy, transport=transport
            ) as provider:
                stored = await asyncio.wait_for(
                    asyncio.gather(
                        *(
                            provider.store(
                                Credential(f"burst-{i}", "api_key", {"api_key": f"k{i}"})
                            )
                            for i in range(count)
                        )
                    ),
                    timeout=180,
                )
                stats = provider.stats.snapshot()
                listed = await asyncio.wait_for(listed_ids(provider), timeout=60)
    assert [s.version for s in stored] == [1] * count
    assert listed == {f"burst-{i}" for i in range(count)}
    assert stats["throttled"] > 0, stats
    assert stats["gave_up"] == 0
    assert "after HTTP 429" in caplog.text


@on_every_transport
async def test_stopped_api_server_gives_provider_unavailable_then_recovers(
    transport: str,
    control_plane_factory: PlaneFactory,
) -> None:
    with control_plane_factory("outage") as plane:
        namespace = new_namespace(plane, "outage")
        policy = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2, deadline=3.0)
        async with asyncio.timeout(240):
            async with provider_for(
                plane, namespace, retry=policy, transport=transport
            ) as provider:
                written: list[str] = []
                underway = asyncio.Event()

                async def migrate() -> None:
                    for i in range(100_000):
                        cid = f"moved-{i}"
                        await provider.store(Credential(cid, "api_key", {"api_key": f"k{i}"}))
                        written.append(cid)
                        if len(written) == 20:
                            underway.set()

                task = asyncio.create_task(migrate())
                await asyncio.wait_for(underway.wait(), timeout=30)
                try:
                    await asyncio.wait_for(asyncio.to_thread(plane.stop_apiserver), timeout=30)
                    started = time.monotonic()
                    with pytest.raises(ProviderUnavailable) as caught:
                        await asyncio.wait_for(task, timeout=30)
                    assert time.monotonic() - started < 10
                    message = str(caught.value)
                    assert plane.server in message
                    assert "kubectl get --raw /readyz" in message
                    assert exit_code_for(caught.value) == 6
                    assert provider.stats.connection_errors > 0
                    assert provider.stats.gave_up >= 1
                    with pytest.raises(ProviderUnavailable):
                        await asyncio.wait_for(provider.retrieve(written[0]), timeout=30)
                finally:
                    task.cancel()
                    await asyncio.wait_for(asyncio.to_thread(plane.start_apiserver), timeout=90)
                # The same provider (and its connection pool) works again after the restart.
                for cid in written:
                    assert await asyncio.wait_for(provider.exists(cid), timeout=30)
                again = await asyncio.wait_for(
                    provider.store(Credential("after-restart", "api_key", {"api_key": "k"})),
                    timeout=30,
                )
                assert again.version == 1
