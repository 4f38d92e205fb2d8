"""An update whose version is known is one request (a guarded JSON Patch) on the real API
server, with the same ownership, identity and version checks as reading first."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

import pytest
from k8s_support import TRANSPORTS, kubectl, new_namespace, provider_for, secret_json

from nebula_credential import Conflict, Credential
from nebula_credential.http.message import DROPPED, NoReply, Request, Response
from nebula_credential.kubernetes import KubernetesSecretsProvider, RetryPolicy
from nebula_credential.kubernetes.api.clients import client_on
from nebula_credential.kubernetes.api.exchange import ApiClient
from nebula_credential.kubernetes.api.secret_calls import HttpTransport
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes
SECRET = "nebula-credentials-svc"


def oauth(**fields: str) -> Credential:
    base = {"access_token": "at-1", "refresh_token": "rt-1", "client_id": "cid"}
    base.update(fields)
    return Credential("svc", "oauth2", {k: v for k, v in base.items() if v})


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "onereq")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_update_with_a_known_version_is_one_request(
    control_plane: ControlPlane, namespace: str, transport: str
) -> None:
    async with provider_for(control_plane, namespace, transport=transport) as provider:
        first = await provider.store(oauth())
        before = provider.stats.requests
        second = await provider.store(first.evolve(fields={"access_token": "at-2"}))
        assert provider.stats.requests - before == 1
        assert second.version == first.version + 1
        assert second.created_at == first.created_at
        assert await provider.retrieve("svc") == second


async def test_a_field_dropped_by_the_update_leaves_the_secret(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace) as provider:
        first = await provider.store(oauth())
        assert "refresh_token" in secret_json(control_plane, namespace, SECRET)["data"]
        before = provider.stats.requests
        await provider.store(first.evolve(fields={"refresh_token": None}))
        assert provider.stats.requests - before == 1
        data = secret_json(control_plane, namespace, SECRET)["data"]
        assert "refresh_token" not in data
        assert {"access_token", "credential.json"} <= set(data)


async def test_a_concurrent_update_is_not_overwritten(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace) as provider:
        first = await provider.store(oauth())
        other = await provider.store(first.evolve(fields={"access_token": "theirs"}))
        with pytest.raises(Conflict):
            await provider.store(
                first.evolve(fields={"access_token": "ours"}), expected_version=first.version
            )
        assert await provider.retrieve("svc") == other
        # Without a pinned version the write lands over the current one, as before.
        mine = await provider.store(first.evolve(fields={"access_token": "ours"}))
        assert mine.version == other.version + 1
        assert (await provider.retrieve("svc")).reveal("access_token") == "ours"


async def test_a_hand_edited_or_foreign_secret_is_checked_as_when_read_first(
    control_plane: ControlPlane, namespace: str
) -> None:
    admin = control_plane.admin_kubeconfig
    async with provider_for(control_plane, namespace) as provider:
        first = await provider.store(oauth())
        # Someone set the version annotation by hand: credential.json holds the version,
        # the annotation is only a copy, so the update lands as the next version anyway.
        kubectl(admin, "annotate", "secret", SECRET, "-n", namespace,
                "nebula-credential/version=7", "--overwrite")  # fmt: skip
        landed = await provider.store(first.evolve(fields={"access_token": "at-2"}))
        assert landed.version == first.version + 1
        notes = secret_json(control_plane, namespace, SECRET)["metadata"]["annotations"]
        assert notes["nebula-credential/version"] == str(landed.version)
        # Someone took the managed-by label away: the Secret is no longer ours to write.
        kubectl(admin, "label", "secret", SECRET, "-n", namespace,
                "app.kubernetes.io/managed-by-")  # fmt: skip
        before = secret_json(control_plane, namespace, SECRET)["data"]
        with pytest.raises(Conflict, match="not written by nebula-credential"):
            await provider.store(landed.evolve(fields={"access_token": "at-3"}))
        assert secret_json(control_plane, namespace, SECRET)["data"] == before


class LosesFirstPatchReply:
    """The real asyncio driver, except that the reply to the first PATCH is lost after the
    server applied it (a fault injected in the client: a real connection cannot be made
    to drop exactly there through TLS)."""

    def __init__(self, real: ApiClient) -> None:
        self.inner = real.driver
        self.origin = self.inner.origin
        self.blocking = self.inner.blocking
        self.patches = 0

    async def send(self, request: Request, auth: Mapping[str, str]) -> Response:
        answer = await self.inner.send(request, auth)
        if request.method == "PATCH":
            self.patches += 1
            if self.patches == 1:
                raise NoReply(DROPPED, "ServerDisconnectedError: injected", sent=True)
        return answer

    def lines(
        self, request: Request, auth: Mapping[str, str], max_line: int
    ) -> AsyncGenerator[bytes, None]:
        return self.inner.lines(request, auth, max_line)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

    async def close(self) -> None:
        await self.inner.close()


async def test_a_patch_whose_reply_was_lost_is_written_once(
    control_plane: ControlPlane, namespace: str
) -> None:
    target = load_cluster_config(namespace=namespace, kubeconfig=control_plane.admin_kubeconfig)
    real = client_on("aiohttp", target, policy=RetryPolicy(base_delay=0.01), timeout=10.0)
    flaky = LosesFirstPatchReply(real)
    client = ApiClient(flaky, real.endpoint, policy=real.policy, namespace=namespace)
    provider = KubernetesSecretsProvider(transport=HttpTransport(client, namespace))
    async with provider:
        first = await provider.store(oauth())
        stored = await provider.store(first.evolve(fields={"access_token": "at-2"}))
        assert flaky.patches == 2  # the repeat found its own write: tests no longer hold
        assert stored.version == first.version + 1
        assert await provider.retrieve("svc") == stored
        assert provider.stats.retries >= 1
        # Pinned or not, the next updates are one more version each, never a lost one.
        stored = await provider.store(stored.evolve(fields={"access_token": "at-3"}))
        stored = await provider.store(
            stored.evolve(fields={"access_token": "at-4"}), expected_version=stored.version
        )
        assert stored.version == first.version + 3


async def test_a_role_without_patch_still_updates_by_read_and_replace(
    control_plane: ControlPlane, namespace: str
) -> None:
    """Roles written before updates became patches grant 'update' only: the first update
    learns that and every later one reads and replaces, as that Role allows."""
    writer = control_plane.identity(namespace, ["get", "create", "update"])
    async with provider_for(control_plane, namespace, kubeconfig=writer.kubeconfig) as provider:
        stored = await provider.store(oauth())
        for round_ in range(3):
            before = provider.stats.requests
            stored = await provider.store(stored.evolve(fields={"access_token": f"at-{round_}"}))
            # The first: the refused patch, a read and a replace; then a read and a replace.
            assert provider.stats.requests - before == (3 if round_ == 0 else 2)
        assert stored.version == 4
        assert (await provider.retrieve("svc")).reveal("access_token") == "at-2"
