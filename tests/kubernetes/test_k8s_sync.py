"""Blocking code reaches every part of the Kubernetes provider, on the real API server."""

from __future__ import annotations

import threading

import pytest
from k8s_support import CANARY, ControlPlane, kubectl, new_namespace, provider_for

from nebula_credential import Credential, ProviderUnavailable, SyncKubernetesSecretsProvider

pytestmark = pytest.mark.kubernetes


def test_sync_facade_reads_foreign_secrets_watches_and_counts(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "sync")
    listed = control_plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets")
    start = listed.raise_for_status("list secrets").json()["metadata"]["resourceVersion"]
    kubectl(
        control_plane.admin_kubeconfig,
        "create", "secret", "generic", "legacy-oauth", "-n", namespace,
        f"--from-literal=access_token={CANARY}",
    )  # fmt: skip
    store = SyncKubernetesSecretsProvider(provider_for(control_plane, namespace))
    with store:
        legacy = store.read_secret("legacy-oauth", kind="oauth2")
        assert legacy is not None
        assert legacy.reveal("access_token") == CANARY
        assert store.read_secret("absent-secret", kind="oauth2") is None
        stored = store.store(Credential("svc", "api_key", {"api_key": CANARY}))
        assert store.secret_name("svc").startswith("nebula-credentials-")
        assert kubectl(
            control_plane.admin_kubeconfig, "get", "secret", store.secret_name("svc"),
            "-n", namespace, "-o", "name",
        ).strip() == f"secret/{store.secret_name('svc')}"  # fmt: skip
        store.delete(stored.id)
        events = []
        watch = store.watch(resource_version=start)
        for event in watch:
            events.append((event.type, event.credential_id))
            if event.type == "DELETED":
                break
        watch.close()
        assert events == [("ADDED", "svc"), ("DELETED", "svc")]
        assert store.stats.requests >= 4
        half_read = store.watch(resource_version=start)
        assert next(half_read).type == "ADDED"
    # Closing ends the watch still open, and nothing restarts afterwards.
    with pytest.raises(ProviderUnavailable, match="closed"):
        store.read_secret("legacy-oauth", kind="oauth2")
    del half_read
    assert "nebula-credential-sync" not in {t.name for t in threading.enumerate()}
