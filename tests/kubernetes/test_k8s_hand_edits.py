"""A per-field key edited by hand with ``kubectl patch`` on the real API server: reads
return what pods see and say so (log, metric, one CLI line); the next write reconciles."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import pytest
from k8s_support import TRANSPORTS, cli_runner, kubectl, new_namespace, provider_for, secret_json
from prometheus_client import CollectorRegistry

from nebula_credential import CorruptData, Credential, metrics
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes
SECRET = "nebula-credentials-svc"
OLD = "old-token-3c1d-do-not-print"
NEW = "hand-fixed-token-8e2a-do-not-print"


def oauth() -> Credential:
    fields = {"access_token": OLD, "refresh_token": "rt-5f0e-do-not-print", "client_id": "cid"}
    return Credential("svc", "oauth2", fields)


def patch_key(plane: ControlPlane, namespace: str, key: str, raw: bytes) -> None:
    """What a person fixing a token does: one data key, nothing else of the Secret."""
    body = json.dumps({"data": {key: base64.b64encode(raw).decode()}})
    kubectl(plane.admin_kubeconfig, "patch", "secret", SECRET, "-n", namespace,
            "--type=merge", "-p", body)  # fmt: skip


def stored_data(plane: ControlPlane, namespace: str) -> dict[str, bytes]:
    data = secret_json(plane, namespace, SECRET)["data"]
    return {key: base64.b64decode(value) for key, value in data.items()}


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "handedit")


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    registry = CollectorRegistry()
    metrics.enable(registry)
    try:
        yield registry
    finally:
        metrics.disable(registry)


def counted(registry: CollectorRegistry, namespace: str) -> float:
    labels = {"source": "secret", "namespace": namespace}
    return registry.get_sample_value("nebula_hand_edits_total", labels) or 0.0


def hand_edit_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "hand_edit", None) is not None]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_read_returns_the_hand_edited_key_and_reports_it(
    control_plane: ControlPlane,
    namespace: str,
    transport: str,
    registry: CollectorRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="nebula_credential")
    async with provider_for(control_plane, namespace, transport=transport) as provider:
        stored = await provider.store(oauth())
        assert counted(registry, namespace) == 0
        patch_key(control_plane, namespace, "access_token", NEW.encode())

        read = await provider.retrieve("svc")
        assert read is not None
        assert read.reveal("access_token") == NEW  # what a pod's secretKeyRef gives
        assert read.reveal("refresh_token") == stored.reveal("refresh_token")
        assert read.version == stored.version  # a hand edit is no write of ours
        assert counted(registry, namespace) == 1
        (listed,) = [c async for c in provider.list()]
        assert listed.reveal("access_token") == NEW
        assert counted(registry, namespace) == 2  # every read that found it

        records = hand_edit_records(caplog)
        assert len(records) == 1, "one warning per edited revision, not per read"
        assert records[0].levelno == logging.WARNING
        message = records[0].getMessage()
        assert "access_token" in message
        assert "credential.json" in message
        assert f"{namespace}/{SECRET}" in message
        assert "refresh_token" not in message  # only the keys that differ
        everything = caplog.text + repr(records[0].__dict__)
        assert NEW not in everything
        assert OLD not in everything


async def test_cli_get_and_list_print_the_value_pods_see_and_one_warning_line(
    control_plane: ControlPlane, namespace: str
) -> None:
    run = cli_runner(control_plane.admin_kubeconfig, namespace)
    async with provider_for(control_plane, namespace) as provider:
        await provider.store(oauth())
    patch_key(control_plane, namespace, "access_token", NEW.encode())

    done = run("get", "svc", "--field", "access_token", "--reveal")
    assert done.returncode == 0, done.stderr
    assert done.stdout == NEW + "\n"
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("warning: credential 'svc': ")
    assert "access_token" in lines[0]
    assert "credential.json" in lines[0]
    assert "Traceback" not in done.stderr
    assert NEW not in done.stderr
    assert OLD not in done.stderr

    shown = run("get", "svc", "-o", "json", "--reveal")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["fields"]["access_token"] == NEW
    assert len(shown.stderr.splitlines()) == 1

    asked = run("get", "svc", "--kind", "oauth2", "--field", "access_token", "--reveal")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout == NEW + "\n"
    assert len(asked.stderr.splitlines()) == 1
    assert "access_token" in asked.stderr

    listed = run("list", "-o", "json", "--reveal")
    assert listed.returncode == 0, listed.stderr
    assert [c["fields"]["access_token"] for c in json.loads(listed.stdout)] == [NEW]
    assert "access_token" in listed.stderr
    assert NEW not in listed.stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_next_write_makes_the_keys_agree_again(
    control_plane: ControlPlane, namespace: str, transport: str, registry: CollectorRegistry
) -> None:
    async with provider_for(control_plane, namespace, transport=transport) as provider:
        first = await provider.store(oauth())
        patch_key(control_plane, namespace, "access_token", NEW.encode())
        read = await provider.retrieve("svc")
        assert read is not None
        before = provider.stats.requests
        # The single-request update: its tests check metadata, never the edited data.
        written = await provider.store(read.evolve(fields={"client_id": "cid-2"}))
        assert provider.stats.requests - before == 1
        assert written.version == first.version + 1

        data = stored_data(control_plane, namespace)
        assert data["access_token"] == NEW.encode()
        assert json.loads(data["credential.json"])["fields"]["access_token"] == NEW
        seen = counted(registry, namespace)
        again = await provider.retrieve("svc")
        assert again == written
        assert counted(registry, namespace) == seen  # nothing to report any more


async def test_a_write_with_the_version_read_before_the_edit_still_lands(
    control_plane: ControlPlane, namespace: str
) -> None:
    """A hand edit is no version: expected_version compares the versions our writes
    made, so a writer that read before the edit replaces it (the README says so)."""
    async with provider_for(control_plane, namespace) as provider:
        first = await provider.store(oauth())
        patch_key(control_plane, namespace, "access_token", NEW.encode())
        mine = first.evolve(fields={"access_token": "writer-token"})
        written = await provider.store(mine, expected_version=first.version)
        assert written.version == first.version + 1
        data = stored_data(control_plane, namespace)
        assert data["access_token"] == b"writer-token"
        assert json.loads(data["credential.json"])["fields"]["access_token"] == "writer-token"


async def test_a_generic_credential_is_reconciled_by_the_read_then_replace_path(
    control_plane: ControlPlane, namespace: str
) -> None:
    async with provider_for(control_plane, namespace) as provider:
        first = await provider.store(Credential("svc", "generic", {"token": OLD, "user": "u"}))
        patch_key(control_plane, namespace, "token", NEW.encode())
        read = await provider.retrieve("svc")
        assert read is not None
        assert read.reveal("token") == NEW
        written = await provider.store(read.evolve(fields={"user": "u2"}))
        assert written.version == first.version + 1
        data = stored_data(control_plane, namespace)
        assert data["token"] == NEW.encode()
        assert json.loads(data["credential.json"])["fields"]["token"] == NEW
        assert await provider.retrieve("svc") == written


async def test_a_key_no_credential_can_hold_is_a_clear_error_and_stays_writable(
    control_plane: ControlPlane, namespace: str
) -> None:
    run = cli_runner(control_plane.admin_kubeconfig, namespace)
    async with provider_for(control_plane, namespace) as provider:
        first = await provider.store(oauth())
        patch_key(control_plane, namespace, "access_token", b"\xff\xfe" + NEW.encode())
        with pytest.raises(CorruptData, match=r"access_token.*not UTF-8") as caught:
            await provider.retrieve("svc")
        assert NEW not in str(caught.value)
        done = run("get", "svc")
        assert done.returncode == 1
        assert done.stderr.startswith("error: ")
        assert len(done.stderr.splitlines()) == 1
        assert "Traceback" not in done.stderr
        assert NEW not in done.stderr
        # A write over it is not refused: the new credential replaces every key.
        written = await provider.store(first.evolve(fields={"access_token": "at-3"}))
        assert (await provider.retrieve("svc")) == written
        assert stored_data(control_plane, namespace)["access_token"] == b"at-3"
