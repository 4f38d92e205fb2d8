"""Which Secret is which credential's: delete, names, prefixes, identity, partial lists.

Each test plays a hostile but realistic user with write access to Secrets in the
namespace, against the real API server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from k8s_support import CANARY, ControlPlane, kubectl, new_namespace, provider_for

from nebula_credential import Conflict, CorruptData, Credential
from nebula_credential.cli import main
from nebula_credential.domain import NotOwned
from nebula_credential.kubernetes.api.errors import StaleWrite
from nebula_credential.kubernetes.model.mapping import encode
from nebula_credential.kubernetes.model.naming import digest, legacy_secret_name, secret_name

_NOW = datetime(2026, 1, 2, tzinfo=UTC)

pytestmark = pytest.mark.kubernetes
PREFIX = "nebula-credentials"


@pytest.fixture(scope="module")
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "owners")


def secret_names(plane: ControlPlane, namespace: str) -> set[str]:
    out = kubectl(plane.admin_kubeconfig, "get", "secrets", "-n", namespace, "-o", "name")
    return {line.removeprefix("secret/") for line in out.split()}


def cli(plane: ControlPlane, namespace: str, *args: str, prefix: str = PREFIX) -> int:
    return main(
        [
            "--provider",
            "kubernetes",
            "--kubeconfig",
            str(plane.admin_kubeconfig),
            "--namespace",
            namespace,
            "--prefix",
            prefix,
            *args,
        ]
    )


def apply(plane: ControlPlane, namespace: str, manifest: dict[str, object]) -> None:
    kubectl(
        plane.admin_kubeconfig, "apply", "-n", namespace, "-f", "-", input_text=json.dumps(manifest)
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_delete_refuses_a_kubectl_secret_unless_forced(
    control_plane: ControlPlane, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kubectl(
        control_plane.admin_kubeconfig,
        "create",
        "secret",
        "generic",
        f"{PREFIX}-hand-made",
        "--from-literal=api_key=x",
        "-n",
        namespace,
    )

    async def refused() -> None:
        async with provider_for(control_plane, namespace) as provider:
            with pytest.raises(NotOwned, match="not written by nebula-credential"):
                await provider.delete("hand-made")

    asyncio.run(refused())
    assert f"{PREFIX}-hand-made" in secret_names(control_plane, namespace)
    assert cli(control_plane, namespace, "delete", "hand-made") == 2
    assert "--force" in capsys.readouterr().err
    assert cli(control_plane, namespace, "delete", "hand-made", "--force") == 0
    assert f"Secret {namespace}/{PREFIX}-hand-made" in capsys.readouterr().out
    assert f"{PREFIX}-hand-made" not in secret_names(control_plane, namespace)


async def test_delete_sends_uid_and_resource_version_preconditions(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace) as provider:
        await provider.store(Credential("raced", "api_key", {"api_key": "k1"}))
        name = provider.secret_name("raced")
        seen = await provider._transport.get(name)
        assert seen is not None
        await provider.store(Credential("raced", "api_key", {"api_key": "k2"}))
        with pytest.raises(StaleWrite):
            await provider._transport.delete(seen)
        assert (await provider.get("raced")).reveal("api_key") == "k2"
        assert await provider.delete("raced") is True


async def test_two_prefixes_spelling_one_name_never_touch_each_other(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with (
        provider_for(control_plane, namespace) as default,
        provider_for(control_plane, namespace, prefix="nebula") as short,
    ):
        assert default.secret_name("x") == short.secret_name("credentials-x")
        await default.store(Credential("x", "api_key", {"api_key": CANARY}))
        assert await short.retrieve("credentials-x") is None
        assert await short.exists("credentials-x") is False
        with pytest.raises(Conflict, match="holds credential 'x'"):
            await short.store(Credential("credentials-x", "api_key", {"api_key": "k"}))
        with pytest.raises(NotOwned, match="holds credential 'x'"):
            await short.delete("credentials-x")
        assert [c.id async for c in short.list_all()] == []
        assert (await default.get("x")).reveal("api_key") == CANARY
        assert await default.delete("x") is True


async def test_list_shows_only_its_own_prefix(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "prefixes")
    async with (
        provider_for(control_plane, namespace) as default,
        provider_for(control_plane, namespace, prefix="teamb") as teamb,
    ):
        await default.store(Credential("mine", "api_key", {"api_key": "k"}))
        await teamb.store(Credential("theirs", "api_key", {"api_key": "k"}))
        assert [c.id async for c in default.list_all()] == ["mine"]
        assert [c.id async for c in teamb.list_all()] == ["theirs"]
        assert await default.retrieve("theirs") is None


async def test_hashed_names_are_128_bit_and_legacy_names_still_work(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "legacy")
    cid = "Legacy_Id.v1"
    new, old = secret_name(PREFIX, cid), legacy_secret_name(PREFIX, cid)
    assert new.endswith("." + digest(cid, 32))
    assert old.endswith("." + digest(cid, 16))
    # Written the way earlier releases did: the legacy name and no prefix label.
    body = encode(Credential(cid, "api_key", {"api_key": "v1"}).evolve(version=1), old)
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": old, "labels": body.labels, "annotations": body.annotations},
        "data": body.data,
    }
    apply(control_plane, namespace, manifest)
    async with provider_for(control_plane, namespace) as provider:
        assert (await provider.get(cid)).reveal("api_key") == "v1"
        assert [c.id async for c in provider.list_all()] == [cid]
        updated = await provider.store(Credential(cid, "api_key", {"api_key": "v2"}))
        assert updated.version == 2
        assert secret_names(control_plane, namespace) == {old}  # updated in place
        assert await provider.delete(cid) is True
        assert secret_names(control_plane, namespace) == set()
        created = await provider.store(Credential(cid, "api_key", {"api_key": "v3"}))
        assert created.version == 1
        assert secret_names(control_plane, namespace) == {new}


async def test_reads_never_relabel_another_ids_secret(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "identity")
    attacker = Credential("attacker", "api_key", {"api_key": CANARY}).evolve(version=1)
    payload = encode(attacker, "x").data["credential.json"]
    # Not labelled as ours, at the victim's name, holding another id's credential.json.
    apply(
        control_plane,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{PREFIX}-victim"},
            "data": {"credential.json": payload},
        },
    )
    # Labelled as ours and claiming the victim's id, under a name that is not the victim's.
    victim = Credential("victim", "api_key", {"api_key": CANARY}).evolve(version=1)
    forged = encode(victim, f"{PREFIX}-elsewhere", prefix=PREFIX)
    apply(
        control_plane,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": forged.name,
                "labels": forged.labels,
                "annotations": forged.annotations,
            },
            "data": forged.data,
        },
    )
    async with provider_for(control_plane, namespace) as provider:
        with pytest.raises(CorruptData, match="'attacker'"):
            await provider.get("victim")
        skipped: list[CorruptData] = []
        listed = [c.id async for c in provider.list_all(on_skip=skipped.append)]
        assert "victim" not in listed
        assert [e.credential_id for e in skipped] == ["victim"]
        with pytest.raises(CorruptData):
            [c async for c in provider.list_all()]


def test_cli_list_skips_a_foreign_labelled_secret_and_exits_partial(
    control_plane: ControlPlane, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = new_namespace(control_plane, "partial")

    async def store() -> None:
        async with provider_for(control_plane, namespace) as provider:
            await provider.store(Credential("fine", "api_key", {"api_key": "k"}))

    asyncio.run(store())
    apply(
        control_plane,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": f"{PREFIX}-planted",
                "labels": {"app.kubernetes.io/managed-by": "nebula-credential"},
            },
            "data": {"junk": b64("x")},
        },
    )
    assert cli(control_plane, namespace, "-o", "json", "list") == 7
    out, err = capsys.readouterr()
    assert [item["id"] for item in json.loads(out)] == ["fine"]
    assert err.count("warning: skipped:") == 1
    assert f"{PREFIX}-planted" in err
    assert "skipped 1" in err
    assert cli(control_plane, namespace, "list", "--strict") == 1
    capsys.readouterr()


async def test_create_only_store_never_writes_over_a_secret_labelled_for_adoption(
    control_plane: ControlPlane,
) -> None:
    """What the "adopt it" hint tells a user to do (label a kubectl Secret managed-by us)
    makes it ours to update, never to create over: expected_version 0 is a Conflict."""
    ns = new_namespace(control_plane, "adopt")
    admin = control_plane.admin_kubeconfig
    name = secret_name("nebula-credentials", "adopt")
    kubectl(
        admin, "create", "secret", "generic", name, "-n", ns, f"--from-literal=api_key={CANARY}"
    )
    kubectl(
        admin, "label", "secret", name, "-n", ns, "app.kubernetes.io/managed-by=nebula-credential"
    )
    async with provider_for(control_plane, ns) as provider:
        for credential in (
            Credential("adopt", "api_key", {"api_key": "mine"}),
            Credential("adopt", "api_key", {"api_key": "mine"}).revised(3, _NOW, _NOW),
        ):
            with pytest.raises(Conflict, match="already exists") as refused:
                await provider.store(credential, expected_version=0)
            assert "without expected_version=0 to write over it" in str(refused.value)
    data = json.loads(kubectl(admin, "get", "secret", name, "-n", ns, "-o", "json"))["data"]
    assert data == {"api_key": base64.b64encode(CANARY.encode()).decode()}
    # The CLI names its own option, not the Python argument.
    done = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).with_name("nebula-credential")),
         "--kubeconfig", str(admin), "--provider", "kubernetes", "--namespace", ns,
         "store", "adopt", "--kind", "api_key", "--field", "api_key=-", "--expected-version", "0"],
        input="mine", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert "without --expected-version 0 to write over it" in done.stderr
    assert "expected_version" not in done.stderr
