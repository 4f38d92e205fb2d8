"""Rotation's RBAC against the real API server (v1.20): the writer's lease Role holds a
real identity to its own credentials' Leases, and the rotator's Role is all that
``rotate --due`` needs, run as the CronJob runs it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from k8s_support import kubectl, new_namespace, provider_for
from manifest_support import can_i

from nebula_credential import Credential, PermissionDenied
from nebula_credential import manifests as m
from nebula_credential.domain import format_timestamp, utcnow
from nebula_credential.kubernetes.model.naming import secret_name
from nebula_credential.testing.envtest import ControlPlane, Identity

pytestmark = pytest.mark.kubernetes

LEASES = "leases.coordination.k8s.io"
ISSUED = "issued-access-canary-31d7"


def _apply(plane: ControlPlane, docs: list[dict[str, Any]]) -> None:
    kubectl(plane.admin_kubeconfig, "apply", "-f", "-", input_text=m.render_yaml(docs))


def _until_allowed(plane: ControlPlane, verb: str, resource: str, ns: str, user: str) -> None:
    """RBAC takes effect once the authorizer's cache has the new binding."""
    deadline = time.monotonic() + 15
    while not can_i(plane, verb, resource, ns, user):
        assert time.monotonic() < deadline, f"{user} never got {verb} {resource} in {ns}"
        time.sleep(0.1)


def _pooled(plane: ControlPlane, ns: str) -> tuple[Identity, str]:
    """A token user with no permissions, and the namespace of its ServiceAccount name."""
    ident = plane.identity(ns, verbs=[])
    _, _, sa_namespace, name = ident.username.split(":")
    assert name == ident.name
    return ident, sa_namespace


def test_writer_lease_rules_on_the_authorizer(control_plane: ControlPlane) -> None:
    ns = new_namespace(control_plane, "lease-rbac")
    elsewhere = new_namespace(control_plane, "lease-rbac-other")
    ids = ["oauth2", "Team.API_key"]
    listed = [secret_name(m.DEFAULT_PREFIX, i) for i in ids]
    unlisted = secret_name(m.DEFAULT_PREFIX, "someone-else")
    _apply(
        control_plane,
        [
            *m.rbac(ids, namespace=ns, service_account="writer", writer=True),
            *m.rbac(namespace=ns, service_account="any-writer", writer=True),
            *m.rbac(ids, namespace=ns, service_account="reader", list_watch=True),
        ],
    )
    who = {a: f"system:serviceaccount:{ns}:{a}" for a in ("writer", "any-writer", "reader")}
    _until_allowed(control_plane, "create", LEASES, ns, who["any-writer"])

    def can(account: str, verb: str, name: str | None = None, where: str = ns) -> bool:
        resource = LEASES if name is None else f"{LEASES}/{name}"
        return can_i(control_plane, verb, resource, where, who[account])

    for verb in ("get", "delete"):
        for name in listed:
            assert can("writer", verb, name)
            assert not can("writer", verb, name, elsewhere)
        assert not can("writer", verb, unlisted), verb
        assert not can("writer", verb), verb  # the collection: not by name
        assert can("any-writer", verb, unlisted)
    assert can("writer", "create")  # create cannot be held to a name
    assert can("any-writer", "create")
    assert not can("writer", "create", where=elsewhere)
    for verb in ("update", "patch", "list", "watch", "deletecollection"):
        for account in ("writer", "any-writer"):
            assert not can(account, verb, listed[0]), (account, verb)
            assert not can(account, verb), (account, verb)
    for verb in ("get", "create", "delete", "update", "list", "watch"):
        assert not can("reader", verb, listed[0]), verb
        assert not can("reader", verb), verb


async def test_an_identity_holds_its_own_credentials_lease_and_no_other(
    control_plane: ControlPlane,
) -> None:
    ns = new_namespace(control_plane, "lease-ident")
    ident, sa_namespace = _pooled(control_plane, ns)
    _apply(
        control_plane,
        m.rbac(
            ["oauth2"],
            namespace=ns,
            service_account=ident.name,
            service_account_namespace=sa_namespace,
            writer=True,
        ),
    )
    _until_allowed(control_plane, "create", LEASES, ns, ident.username)
    mine, theirs = secret_name(m.DEFAULT_PREFIX, "oauth2"), secret_name(m.DEFAULT_PREFIX, "other")
    admin = control_plane.admin_kubeconfig

    # The rotator's own calls, as this identity: create, get and delete its Lease.
    async with provider_for(control_plane, ns, kubeconfig=ident.kubeconfig) as provider:
        lease = await provider.acquire_lease("oauth2", seconds=120)
        held = json.loads(kubectl(admin, "get", "lease", mine, "-n", ns, "-o", "json"))
        assert held["spec"]["holderIdentity"] == lease.holder
        await provider.release_lease(lease)
        assert not kubectl(admin, "get", "lease", "-n", ns, "--ignore-not-found", "-o", "name")

        # Another credential's live lease: creating it meets AlreadyExists, and the
        # identity may not even read it to see who holds it.
        async with provider_for(control_plane, ns) as other_rotator:
            other = await other_rotator.acquire_lease("other", seconds=120)
            with pytest.raises(PermissionDenied) as got:
                await provider.acquire_lease("other", seconds=120)
            assert got.value.verb == "get"
            assert theirs in kubectl(admin, "get", "lease", theirs, "-n", ns, "-o", "name")
            await other_rotator.release_lease(other)

    # With the identity's own kubeconfig, verb by verb.
    kubectl(admin, "create", "-n", ns, "-f", "-", input_text=_lease_yaml(theirs))
    for verb in (("get", "lease", theirs), ("delete", "lease", theirs)):
        with pytest.raises(AssertionError, match="forbidden"):
            kubectl(ident.kubeconfig, *verb, "-n", ns)
    kubectl(ident.kubeconfig, "create", "-n", ns, "-f", "-", input_text=_lease_yaml(mine))
    assert mine in kubectl(ident.kubeconfig, "get", "lease", mine, "-n", ns, "-o", "name")
    kubectl(ident.kubeconfig, "delete", "lease", mine, "-n", ns)
    with pytest.raises(AssertionError, match="forbidden"):
        kubectl(ident.kubeconfig, "patch", "lease", theirs, "-n", ns, "--type=merge",
                "-p", '{"spec":{"holderIdentity":"x"}}')  # fmt: skip


def _lease_yaml(name: str) -> str:
    return json.dumps(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name},
            "spec": {"holderIdentity": "test", "leaseDurationSeconds": 60},
        }
    )


class _TokenEndpoint(BaseHTTPRequestHandler):
    """Answers every refresh-token grant with new tokens (the grant's details are the
    rotation tests' business; here only the permissions around it matter)."""

    calls: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.calls.append(self.rfile.read(length).decode())
        body = json.dumps(
            {
                "access_token": ISSUED,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": f"refresh-{len(self.calls)}-canary",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_url() -> Iterator[str]:
    _TokenEndpoint.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _oauth2(cid: str, token_url: str, expires_in: timedelta) -> Credential:
    return Credential(
        cid,
        "oauth2",
        {
            "access_token": f"old-access-{cid}",
            "refresh_token": f"old-refresh-{cid}",
            "client_id": "app",
            "client_secret": "client-secret-canary",
            "token_url": token_url,
            "access_token_expires_at": format_timestamp(utcnow() + expires_in),
        },
    )


async def test_rotate_due_runs_as_the_cronjob_with_only_the_rotator_role(
    control_plane: ControlPlane, token_url: str, tmp_path: Path
) -> None:
    ns = new_namespace(control_plane, "rotator")
    async with provider_for(control_plane, ns) as admin:
        await admin.store(_oauth2("due", token_url, timedelta(minutes=5)))
        await admin.store(_oauth2("later", token_url, timedelta(days=2)))
    ident, sa_namespace = _pooled(control_plane, ns)
    _apply(
        control_plane,
        m.rotation_rbac(
            namespace=ns, service_account=ident.name, service_account_namespace=sa_namespace
        ),
    )
    _until_allowed(control_plane, "update", "secrets", ns, ident.username)
    for verb, resource in (
        ("create", "secrets"), ("delete", "secrets"),
        ("watch", "secrets"), ("update", LEASES), ("list", LEASES), ("get", "configmaps"),
    ):  # fmt: skip
        assert not can_i(control_plane, verb, resource, ns, ident.username), (verb, resource)

    cronjob = m.rotation_cronjob(namespace=ns, within="30m", kube="1.20")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    # The pod's layout on this machine: a world-writable mount, as an emptyDir is.
    mount = tmp_path / container["volumeMounts"][0]["mountPath"].lstrip("/")
    mount.mkdir(parents=True)
    mount.chmod(0o777)
    home = mount / Path(env["NEBULA_CREDENTIAL_HOME"]).relative_to(
        container["volumeMounts"][0]["mountPath"]
    )
    exe, *args = container["command"]
    done = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).with_name(exe)), "--kubeconfig", str(ident.kubeconfig),
         "--namespace", ns, *args],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NEBULA_CREDENTIAL_HOME": str(home)},
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].startswith("rotated due (version 1 -> 2")
    assert "1 rotated, 0 failed, 0 skipped, 1 not due" in done.stdout
    assert len(_TokenEndpoint.calls) == 1
    async with provider_for(control_plane, ns) as admin:
        assert (await admin.get("due")).reveal("access_token") == ISSUED
        assert (await admin.get("later")).version == 1
    leases = kubectl(control_plane.admin_kubeconfig, "get", "lease", "-n", ns, "-o", "name")
    assert leases.strip() == ""  # taken, then given back
    assert (home / "pending").is_dir()  # the journal it kept the grant in meanwhile
    assert home.stat().st_mode & 0o777 == 0o700
    assert ISSUED not in done.stdout + done.stderr
