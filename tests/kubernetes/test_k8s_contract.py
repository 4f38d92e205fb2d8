"""The provider contract, run against KubernetesSecretsProvider on a real API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from k8s_support import (
    TRANSPORTS,
    ControlPlane,
    kubectl,
    new_namespace,
    patch_credential_json,
    provider_for,
)

from nebula_credential import SyncCredentialProvider
from nebula_credential.kubernetes import KubernetesSecretsProvider
from nebula_credential.providers import CredentialProvider
from nebula_credential.testing import ProviderContract
from nebula_credential.testing.contract import Corrupter

pytestmark = pytest.mark.kubernetes


@pytest.fixture(scope="module")
def contract_namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "contract")


class TestKubernetesProviderContract(ProviderContract):
    @pytest.fixture(params=TRANSPORTS)
    async def provider(
        self, control_plane: ControlPlane, contract_namespace: str, request: pytest.FixtureRequest
    ) -> AsyncIterator[KubernetesSecretsProvider]:
        transport = request.param
        async with provider_for(control_plane, contract_namespace, transport=transport) as provider:
            yield provider

    @pytest.fixture
    def corrupt(self, control_plane: ControlPlane, contract_namespace: str) -> Corrupter:
        async def damage(provider: CredentialProvider, credential_id: str) -> None:
            assert isinstance(provider, KubernetesSecretsProvider)
            name = provider.secret_name(credential_id)
            patch_credential_json(control_plane, contract_namespace, name, b"{not json")

        return damage


def test_sync_facade_drives_the_async_provider(
    control_plane: ControlPlane, contract_namespace: str
) -> None:
    from nebula_credential import Credential

    provider = provider_for(control_plane, contract_namespace)
    with SyncCredentialProvider(provider) as store:
        stored = store.store(
            Credential("sync-facade", "api_key", {"api_key": "k"}, scope="sync:one")
        )
        assert stored.version == 1
        assert store.get("sync-facade").reveal("api_key") == "k"
        assert [c.id for c in store.list(scope="sync:one")] == ["sync-facade"]
        assert store.delete("sync-facade") is True
        assert store.exists("sync-facade") is False


async def test_a_shared_client_serves_two_namespaces_and_is_left_open(
    control_plane: ControlPlane, contract_namespace: str
) -> None:
    from nebula_credential import Credential
    from nebula_credential.kubernetes import open_client

    other = new_namespace(control_plane, "shared")
    client = open_client(kubeconfig=control_plane.admin_kubeconfig, namespace=contract_namespace)
    try:
        here = KubernetesSecretsProvider.with_client(client)
        there = KubernetesSecretsProvider.with_client(client, other)
        assert (here.namespace, there.namespace) == (contract_namespace, other)
        async with here:
            await here.store(Credential("injected", "api_key", {"api_key": "k"}))
        # The provider closed itself, not the caller's client: the other one still works.
        async with there:
            assert await there.retrieve("injected") is None
            await there.store(Credential("injected", "api_key", {"api_key": "k2"}))
        listed = kubectl(
            control_plane.admin_kubeconfig,
            "get",
            "secret",
            "nebula-credentials-injected",
            "-n",
            contract_namespace,
            "-o",
            "jsonpath={.metadata.annotations.nebula-credential/id}",
        )
        assert listed == "injected"
        assert client.stats.requests == 3  # create, get, create: one request each
    finally:
        await client.close()
