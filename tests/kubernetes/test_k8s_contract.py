"""The provider contract, run against KubernetesSecretsProvider on a real API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from k8s_support import (
    TRANSPORTS,
    ControlPlane,
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


async def test_injected_lightkube_client_is_used_and_left_open(
    control_plane: ControlPlane, contract_namespace: str
) -> None:
    from lightkube import AsyncClient, KubeConfig
    from lightkube.resources.core_v1 import Secret

    from nebula_credential import Credential

    client = AsyncClient(KubeConfig.from_file(control_plane.admin_kubeconfig).get())
    try:
        provider = KubernetesSecretsProvider.with_client(client, contract_namespace)
        async with provider:
            await provider.store(Credential("injected", "api_key", {"api_key": "k"}))
        # The provider closed itself, not the caller's client.
        found = await client.get(
            Secret, "nebula-credentials-injected", namespace=contract_namespace
        )
        assert found.metadata is not None
        assert found.metadata.annotations["nebula-credential/id"] == "injected"
    finally:
        await client.close()
