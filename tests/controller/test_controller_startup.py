"""Start-up order: the workloads' list may come in before the list of our Secrets (a
namespace with many Secrets takes seconds to list). No workload is judged before that
first list, so no credential looks missing, and the controller is not ready before it.

The controller's parts run in this process against the real API server: its Leader
(on a real Lease), a Namespace engine, the Secret watch loop and its readiness.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from controller_support import create, deployment, template_digest
from k8s_support import ControlPlane, new_namespace, provider_for

from nebula_credential import Credential, SyncKubernetesSecretsProvider
from nebula_credential.controller.actions import ControllerMetrics
from nebula_credential.controller.engine import Namespace
from nebula_credential.controller.leader import Leader
from nebula_credential.controller.watches import Liveness, watch_secrets
from nebula_credential.kubernetes import open_client
from nebula_credential.kubernetes.api.object_calls import ObjectCalls
from nebula_credential.kubernetes.api.secret_calls import HttpTransport

pytestmark = pytest.mark.kubernetes


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    namespace = new_namespace(control_plane, "ctl")
    with SyncKubernetesSecretsProvider(provider_for(control_plane, namespace)) as store:
        store.store(Credential("db", "api_key", {"api_key": "v0"}))
        secret = store.secret_name("db")
    create(control_plane, namespace, deployment("app", "db", {"K": secret}))
    return namespace


async def test_no_workload_is_judged_before_the_secrets_are_listed(
    control_plane: ControlPlane, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = open_client(kubeconfig=control_plane.admin_kubeconfig, namespace=namespace)
    watching: asyncio.Task[None] | None = None
    try:
        calls = ObjectCalls(client, namespace)
        leader = Leader(calls, "startup-test", 15.0)
        await leader.attempt()
        assert leader.acting()
        space = Namespace(calls, leader, ControllerMetrics(), quiet=0.05, max_wait=0.2)
        live = Liveness()
        live.set("deployments", True)  # the workload watch is live ...
        _, items = await calls.list("Deployment")
        for item in items:
            space.workload_seen("Deployment", "ADDED", item)
        caplog.set_level(logging.INFO, logger="nebula_credential.controller")
        await asyncio.sleep(0.6)  # ... well past the debounce
        assert "missing-credential" not in caplog.text
        assert template_digest(control_plane, namespace, "app") is None

        transport = HttpTransport(client, namespace, owns=False)
        watching = asyncio.ensure_future(watch_secrets(space, transport, live))
        await asyncio.sleep(0)
        assert not live.ready()  # not before the Secrets are listed
        for _ in range(100):
            if live.ready() and template_digest(control_plane, namespace, "app"):
                break
            await asyncio.sleep(0.05)
        assert live.ready()
        assert template_digest(control_plane, namespace, "app")
        assert "missing-credential" not in caplog.text
        assert '"action": "restart"' in caplog.text
    finally:
        if watching is not None:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        await client.close()
