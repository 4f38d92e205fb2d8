"""What the provider writes, as kubectl and etcd see it, and what it reads back."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path

import pytest
from k8s_support import (
    CANARY,
    ControlPlane,
    kubectl,
    new_namespace,
    patch_credential_json,
    provider_for,
    secret_json,
)

from nebula_credential import Conflict, CorruptData, Credential, PayloadTooLarge, ValidationError

pytestmark = pytest.mark.kubernetes


def h40(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def b64decode(value: str) -> str:
    return base64.b64decode(value).decode()


@pytest.fixture(scope="module")
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "objects")


async def test_exact_secret_written_for_an_oauth2_credential(
    control_plane: ControlPlane, namespace: str
) -> None:
    credential = Credential(
        "github-oauth",
        "oauth2",
        {"access_token": CANARY, "refresh_token": "refresh-1", "client_id": "app-7"},
        scope="org:acme/user:alice",
        owner="alice@example.com",
        tags={"env": "prod"},
    )
    async with provider_for(control_plane, namespace) as provider:
        stored = await provider.store(credential)
    obj = secret_json(control_plane, namespace, "nebula-credentials-github-oauth")
    assert obj["type"] == "Opaque"
    assert obj["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "nebula-credential",
        "nebula-credential/kind": "oauth2",
        "nebula-credential/prefix": "nebula-credentials",
        "nebula-credential/scope-hash": h40("org:acme/user:alice"),
        "nebula-credential/scope-level-1": h40("org:acme"),
        "nebula-credential/scope-level-2": h40("org:acme/user:alice"),
        "tag.nebula-credential/env": "prod",
    }
    assert stored.created_at is not None
    stamp = stored.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert obj["metadata"]["annotations"] == {
        "nebula-credential/id": "github-oauth",
        "nebula-credential/scope": "org:acme/user:alice",
        "nebula-credential/owner": "alice@example.com",
        "nebula-credential/tags": '{"env":"prod"}',
        "nebula-credential/created-at": stamp,
        "nebula-credential/updated-at": stamp,
        "nebula-credential/version": "1",
    }
    data = obj["data"]
    assert set(data) == {"credential.json", "access_token", "refresh_token"}
    assert b64decode(data["access_token"]) == CANARY
    assert b64decode(data["refresh_token"]) == "refresh-1"
    payload = json.loads(b64decode(data["credential.json"]))
    assert payload["id"] == "github-oauth"
    assert payload["version"] == 1
    assert payload["fields"]["client_id"] == "app-7"
    managers = {entry["manager"] for entry in obj["metadata"]["managedFields"]}
    assert managers == {"nebula-credential"}
    # A scope prefix query is one label selector, usable from kubectl too.
    names = kubectl(
        control_plane.admin_kubeconfig,
        "get",
        "secrets",
        "-n",
        namespace,
        "-l",
        f"nebula-credential/scope-level-1={h40('org:acme')}",
        "-o",
        "name",
    )
    assert names.split() == ["secret/nebula-credentials-github-oauth"]


async def test_awkward_ids_round_trip_and_never_collide(
    control_plane: ControlPlane, namespace: str
) -> None:
    long_id = "Service.Account_Token-" + "Ab_." * 55
    ids = ["A_b", "a-b", "a.b", "a_b", "A-B", long_id, long_id[:-1] + "X", "x" * 255]
    scope = "test:awkward-ids"
    async with provider_for(control_plane, namespace) as provider:
        for index, cid in enumerate(ids):
            await provider.store(
                Credential(cid, "api_key", {"api_key": f"value-{index}"}, scope=scope)
            )
        for index, cid in enumerate(ids):
            found = await provider.get(cid)
            assert found.id == cid
            assert found.reveal("api_key") == f"value-{index}"
        listed = [c.id async for c in provider.list(scope=scope)]
        names = {provider.secret_name(cid) for cid in ids}
    assert sorted(listed) == sorted(ids)
    assert len(names) == len(ids)
    out = kubectl(control_plane.admin_kubeconfig, "get", "secrets", "-n", namespace, "-o", "name")
    on_server = {line.removeprefix("secret/") for line in out.split()}
    assert names <= on_server
    assert all(len(name) <= 253 for name in names)


async def test_secret_is_encrypted_in_etcd(control_plane: ControlPlane, namespace: str) -> None:
    async with provider_for(control_plane, namespace) as provider:
        await provider.store(Credential("etcd-check", "api_key", {"api_key": CANARY}))
        name = provider.secret_name("etcd-check")
    raw = control_plane.etcd_get(control_plane.secret_etcd_key(namespace, name))
    assert raw is not None
    assert raw.startswith(b"k8s:enc:")
    assert CANARY.encode() not in raw
    assert b"etcd-check" not in raw.split(b":", 4)[-1][:64]


async def test_corrupted_credential_json_is_corrupt_data(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace) as provider:
        await provider.store(
            Credential("to-corrupt", "api_key", {"api_key": CANARY}, scope="test:corrupt")
        )
        name = provider.secret_name("to-corrupt")
        patch_credential_json(
            control_plane, namespace, name, b'{"id": "to-corrupt", "kind": "api_key", "fie'
        )
        with pytest.raises(CorruptData) as caught:
            await provider.retrieve("to-corrupt")
        message = str(caught.value)
        assert f"Secret {namespace}/{name}" in message
        assert f"kubectl delete secret {name} -n {namespace}" in message
        assert CANARY not in message
        assert caught.value.credential_id == "to-corrupt"
        with pytest.raises(CorruptData):
            _ = [c async for c in provider.list(scope="test:corrupt")]
        # Writing again repairs it and keeps counting versions from the annotation.
        repaired = await provider.store(Credential("to-corrupt", "api_key", {"api_key": "new"}))
        assert repaired.version == 2
        assert (await provider.get("to-corrupt")).reveal("api_key") == "new"


async def test_payload_too_large_is_refused_before_any_request(
    control_plane: ControlPlane, namespace: str
) -> None:
    big = Credential("too-big", "generic", {"blob": CANARY + "x" * (1024 * 1024)})
    async with provider_for(control_plane, namespace) as provider:
        before = provider.stats.requests
        with pytest.raises(PayloadTooLarge, match="too-big") as caught:
            await provider.store(big)
        with pytest.raises(PayloadTooLarge):
            await provider.store(big.evolve(version=4))  # the read-first path
        assert provider.stats.requests == before
        assert CANARY not in str(caught.value)
        assert await provider.retrieve("too-big") is None


def create_seed_secret(plane: ControlPlane, namespace: str) -> None:
    """The seed's Step 1.3, verbatim apart from the namespace."""
    kubectl(
        plane.admin_kubeconfig,
        "create",
        "secret",
        "generic",
        "nebula-credentials-oauth2",
        "--from-literal=credential_id=cred_123",
        "--from-literal=credential_type=oauth2",
        f"--from-literal=access_token=eyJhbGciOi-{CANARY}",
        "--from-literal=refresh_token=1//0eXhY",
        "--namespace",
        namespace,
    )
    kubectl(
        plane.admin_kubeconfig,
        "label",
        "secret",
        "nebula-credentials-oauth2",
        "app=nebula-credential",
        "credential-type=oauth2",
        "-n",
        namespace,
    )


async def test_seed_kubectl_secret_reads_as_typed_oauth2(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "seed")
    create_seed_secret(control_plane, namespace)
    async with provider_for(control_plane, namespace) as provider:
        foreign = await provider.read_secret("nebula-credentials-oauth2")
        assert foreign is not None
        assert (foreign.id, foreign.kind.value, foreign.version) == ("cred_123", "oauth2", 0)
        assert foreign.reveal("access_token") == f"eyJhbGciOi-{CANARY}"
        assert foreign.reveal("refresh_token") == "1//0eXhY"
        # The same Secret is what retrieve("oauth2") finds under the default prefix.
        by_id = await provider.get("oauth2")
        assert by_id.id == "oauth2"
        assert by_id.reveal("refresh_token") == "1//0eXhY"
        assert await provider.read_secret("nebula-credentials-absent") is None
        requests = provider.stats.requests
        for bad in ("a..b", "Upper", "x" * 254, "a\x1b[2Jb", "../etc"):
            with pytest.raises(ValidationError, match="is not a valid name"):
                await provider.read_secret(bad)
        assert provider.stats.requests == requests  # refused before anything was sent
        # It is not ours: storing over it is refused until it is adopted.
        with pytest.raises(Conflict, match="kubectl label secret nebula-credentials-oauth2"):
            await provider.store(by_id)
        kubectl(
            control_plane.admin_kubeconfig,
            "label",
            "secret",
            "nebula-credentials-oauth2",
            "app.kubernetes.io/managed-by=nebula-credential",
            "-n",
            namespace,
        )
        adopted = await provider.store(by_id.evolve(fields={"access_token": "rotated"}))
        assert adopted.version == 1
        assert (await provider.get("oauth2")).reveal("access_token") == "rotated"


async def test_secret_from_a_credential_json_file_and_eso_style_keys(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "foreign")
    source = Credential("api", "api_key", {"api_key": CANARY, "header_name": "X-Key"})
    (tmp_path / "credential.json").write_text(source.to_json(reveal=True))
    admin = control_plane.admin_kubeconfig
    kubectl(
        admin,
        "create",
        "secret",
        "generic",
        "nebula-credentials-api-key",
        f"--from-file=credential.json={tmp_path / 'credential.json'}",
        "-n",
        namespace,
    )
    # What External Secrets Operator writes for the seed's ExternalSecret: flat keys only.
    kubectl(
        admin,
        "create",
        "secret",
        "generic",
        "nebula-oauth2-external",
        "--from-literal=accessToken=at-1",
        "--from-literal=refresh_token=rt-1",
        "-n",
        namespace,
    )
    async with provider_for(control_plane, namespace) as provider:
        from_file = await provider.read_secret("nebula-credentials-api-key")
        assert from_file == source
        with pytest.raises(CorruptData, match=r"does not say which kind"):
            await provider.read_secret("nebula-oauth2-external")
        eso = await provider.read_secret(
            "nebula-oauth2-external", kind="oauth2", field_names={"accessToken": "access_token"}
        )
        assert eso is not None
        assert eso.id == "nebula-oauth2-external"
        assert (eso.reveal("access_token"), eso.reveal("refresh_token")) == ("at-1", "rt-1")


async def test_audit_log_and_managed_fields_name_nebula_credential(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace) as provider:
        await provider.store(Credential("audited-agent", "api_key", {"api_key": CANARY}))
        name = provider.secret_name("audited-agent")
    obj = secret_json(control_plane, namespace, name)
    assert {entry["manager"] for entry in obj["metadata"]["managedFields"]} == {"nebula-credential"}

    def agents() -> set[str]:
        text = control_plane.audit_log_path.read_text(encoding="utf-8")
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        return {
            event.get("userAgent", "")
            for event in events
            if event.get("verb") == "create"
            and event.get("objectRef", {}).get("namespace") == namespace
            and event.get("objectRef", {}).get("name") == name
        }

    seen: set[str] = set()
    for _ in range(100):  # the log backend writes as it answers; allow for buffering
        seen = await asyncio.to_thread(agents)
        if seen:
            break
        await asyncio.sleep(0.05)
    assert seen
    assert all(agent.startswith("nebula-credential/") for agent in seen), seen
