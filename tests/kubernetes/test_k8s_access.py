"""RBAC and authentication: a limited identity stays in its namespace, with clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from k8s_support import CANARY, ControlPlane, new_namespace, provider_for

from nebula_credential import AuthenticationError, ConfigurationError, Credential, PermissionDenied
from nebula_credential.cli.exit_codes import exit_code_for

pytestmark = pytest.mark.kubernetes


async def test_limited_identity_reads_its_namespace_and_is_denied_elsewhere(
    control_plane: ControlPlane,
) -> None:
    home = new_namespace(control_plane, "iso-a")
    other = new_namespace(control_plane, "iso-b")
    ident = control_plane.identity(home)
    async with provider_for(control_plane, other) as admin:
        await admin.store(Credential("theirs", "api_key", {"api_key": CANARY}))

    async with provider_for(control_plane, kubeconfig=ident.kubeconfig) as mine:
        assert mine.namespace == home  # from the identity's kubeconfig context
        await mine.store(Credential("mine", "api_key", {"api_key": "k"}, scope="user:a"))
        assert (await mine.get("mine")).reveal("api_key") == "k"
        assert [c.id async for c in mine.list(scope="user:a")] == ["mine"]

    async with provider_for(control_plane, other, kubeconfig=ident.kubeconfig) as foreign:
        with pytest.raises(PermissionDenied) as got:
            await foreign.retrieve("theirs")
        denied = got.value
        assert (denied.verb, denied.resource, denied.namespace) == ("get", "secrets", other)
        assert denied.credential_id == "theirs"
        assert f"kubectl auth can-i get secrets -n {other}" in str(denied)
        assert ident.username in str(denied)  # the server says who was refused
        assert exit_code_for(denied) == 5

        with pytest.raises(PermissionDenied) as got:
            await foreign.store(Credential("x", "api_key", {"api_key": CANARY}))
        assert got.value.verb == "create"
        assert CANARY not in str(got.value)

        with pytest.raises(PermissionDenied) as got:
            _ = [c async for c in foreign.list_all()]
        assert (got.value.verb, got.value.namespace) == ("list", other)

        with pytest.raises(PermissionDenied) as got:
            await foreign.delete("theirs")
        # delete reads the Secret first, to delete only the credential's own.
        assert got.value.verb == "get"
        assert foreign.stats.retries == 0  # 403 is final, never retried


async def test_read_only_identity_cannot_write(control_plane: ControlPlane) -> None:
    home = new_namespace(control_plane, "readonly")
    ident = control_plane.identity(home, verbs=["get", "list"])
    async with provider_for(control_plane, home) as admin:
        await admin.store(Credential("shared", "api_key", {"api_key": "k"}))
    async with provider_for(control_plane, kubeconfig=ident.kubeconfig) as reader:
        assert (await reader.get("shared")).reveal("api_key") == "k"
        with pytest.raises(PermissionDenied) as got:
            await reader.store((await reader.get("shared")).evolve(fields={"api_key": "k2"}))
        assert got.value.verb == "update"
        assert f"kubectl auth can-i update secrets -n {home}" in str(got.value)


async def test_rejected_token_is_an_authentication_error(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    config = yaml.safe_load(await asyncio.to_thread(Path(control_plane.admin_kubeconfig).read_text))
    for user in config["users"]:
        user["user"] = {"token": "wrong-token-" + CANARY}
    bad = tmp_path / "bad-token.yaml"
    await asyncio.to_thread(bad.write_text, yaml.safe_dump(config))
    async with provider_for(control_plane, "default", kubeconfig=bad) as provider:
        with pytest.raises(AuthenticationError) as got:
            await provider.retrieve("anything")
    assert "HTTP 401" in str(got.value)
    assert CANARY not in str(got.value)
    assert exit_code_for(got.value) == 5


async def test_missing_namespace_is_named_with_the_fix(control_plane: ControlPlane) -> None:
    async with provider_for(control_plane, "no-such-namespace-x1") as provider:
        assert await provider.retrieve("anything") is None
        with pytest.raises(ConfigurationError) as got:
            await provider.store(Credential("c", "api_key", {"api_key": CANARY}))
    assert "kubectl create namespace no-such-namespace-x1" in str(got.value)
    assert got.value.credential_id == "c"


async def test_untrusted_server_certificate_is_a_configuration_error(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    config = yaml.safe_load(await asyncio.to_thread(Path(control_plane.admin_kubeconfig).read_text))
    for cluster in config["clusters"]:
        cluster["cluster"] = {"server": control_plane.server}  # system CAs only
    untrusted = tmp_path / "untrusted.yaml"
    await asyncio.to_thread(untrusted.write_text, yaml.safe_dump(config))
    async with provider_for(control_plane, "default", kubeconfig=untrusted) as provider:
        with pytest.raises(ConfigurationError, match="not trusted") as got:
            await provider.retrieve("anything")
        assert provider.stats.retries == 0
    assert control_plane.server in str(got.value)
