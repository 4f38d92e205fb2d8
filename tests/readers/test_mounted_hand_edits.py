"""A Secret volume whose per-field key was edited by hand (``kubectl patch`` on the real
API server, then laid out the kubelet's way): the reader and ``mounted --follow`` show
the new value, though ``credential.json`` did not change, and say so."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from k8s_support import kubectl, new_namespace, provider_for, secret_json
from kubelet import KubeletVolume
from prometheus_client import CollectorRegistry

from nebula_credential import Credential, metrics
from nebula_credential.readers import MountedCredential
from nebula_credential.testing.envtest import ControlPlane

SECRET = "nebula-credentials-svc"
OLD = "old-token-41d2-do-not-print"
NEW = "hand-fixed-token-77b0-do-not-print"


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    return new_namespace(control_plane, "handmount")


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    registry = CollectorRegistry()
    metrics.enable(registry)
    try:
        yield registry
    finally:
        metrics.disable(registry)


async def store_secret(plane: ControlPlane, namespace: str) -> None:
    fields = {"access_token": OLD, "refresh_token": "rt-9a7c-do-not-print", "client_id": "cid"}
    async with provider_for(plane, namespace) as provider:
        await provider.store(Credential("svc", "oauth2", fields))


def hand_edit(plane: ControlPlane, namespace: str) -> None:
    body = json.dumps({"data": {"access_token": base64.b64encode(NEW.encode()).decode()}})
    kubectl(plane.admin_kubeconfig, "patch", "secret", SECRET, "-n", namespace,
            "--type=merge", "-p", body)  # fmt: skip


def volume_payload(plane: ControlPlane, namespace: str) -> dict[str, bytes]:
    """What the kubelet writes into the volume: every key of the Secret, decoded."""
    data = secret_json(plane, namespace, SECRET)["data"]
    return {key: base64.b64decode(value) for key, value in data.items()}


async def test_the_reader_returns_the_edited_key_and_counts_it(
    control_plane: ControlPlane, namespace: str, registry: CollectorRegistry, tmp_path: Path
) -> None:
    await store_secret(control_plane, namespace)
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(volume_payload(control_plane, namespace))
    reader = MountedCredential(volume.root)
    assert reader.load().reveal("access_token") == OLD

    hand_edit(control_plane, namespace)
    payload = volume_payload(control_plane, namespace)
    assert json.loads(payload["credential.json"])["fields"]["access_token"] == OLD
    volume.swap(payload)
    change = reader.refresh()
    assert change is not None
    assert change.error is None
    assert change.credential.reveal("access_token") == NEW
    assert reader.credential.reveal("access_token") == NEW
    labels = {"source": "volume", "namespace": ""}
    assert registry.get_sample_value("nebula_hand_edits_total", labels) == 1


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _next(lines: queue.Queue[str], timeout: float) -> str | None:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


def test_mounted_follow_prints_the_change_of_a_per_field_key(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    asyncio.run(store_secret(control_plane, namespace))
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(volume_payload(control_plane, namespace))
    exe = str(Path(sys.executable).with_name("nebula-credential"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    args = [exe, "mounted", str(volume.root), "--follow", "-o", "json", "--reveal"]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(stream, sink), daemon=True)
        for stream, sink in ((proc.stdout, out), (proc.stderr, err))
    ]
    for pump in pumps:
        pump.start()
    try:
        first = _next(out, 15)
        assert first is not None
        assert json.loads(first)["fields"]["access_token"] == OLD

        hand_edit(control_plane, namespace)
        volume.swap(volume_payload(control_plane, namespace))
        swapped = time.monotonic()
        changed = _next(out, 5)
        assert changed is not None, "nothing printed for the edited key"
        assert time.monotonic() - swapped < 2.0
        assert json.loads(changed)["fields"]["access_token"] == NEW
        warning = _next(err, 2)
        assert warning is not None
        assert warning.startswith("warning: credential 'svc': ")
        assert "access_token" in warning
        assert "credential.json" in warning
        assert NEW not in warning
        assert OLD not in warning
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pump in pumps:
            pump.join(10)
        proc.stdout.close()
        proc.stderr.close()
