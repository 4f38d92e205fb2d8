"""Rotation leases as real ``coordination.k8s.io/v1`` Leases: another identity, a foreign
or hand-edited Lease, a Lease taken over while the rotation waits for the endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from k8s_support import kubectl, new_namespace, provider_for
from oauth_server import AuthServer
from rotate_support import oauth2

from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes
EXE = str(Path(sys.executable).with_name("nebula-credential"))


def _run(
    kubeconfig: Path, namespace: str, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["NEBULA_CREDENTIAL_HOME"] = str(home)
    env["HOME"] = str(home.parent)
    argv = [EXE, "--provider", "kubernetes", "--kubeconfig", str(kubeconfig)]
    return subprocess.run(
        [*argv, "--namespace", namespace, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


async def _setup(plane: ControlPlane, auth: AuthServer, prefix: str, path: str = "/token") -> str:
    namespace = new_namespace(plane, prefix)
    async with provider_for(plane, namespace) as provider:
        await provider.store(oauth2("svc", auth, auth.grant("app"), path=path))
    return namespace


def _patch_lease(plane: ControlPlane, namespace: str, spec: dict[str, object]) -> None:
    """Edit the rotation lease by hand, as ``kubectl patch`` does."""
    patch = json.dumps({"spec": spec})
    name = "nebula-credentials-svc"
    kubectl(
        plane.admin_kubeconfig,
        "patch",
        "lease",
        name,
        "-n",
        namespace,
        "--type",
        "merge",
        "-p",
        patch,
    )


def _lease(plane: ControlPlane, namespace: str) -> dict[str, object]:
    out = kubectl(
        plane.admin_kubeconfig,
        "get",
        "lease",
        "nebula-credentials-svc",
        "-n",
        namespace,
        "-o",
        "json",
    )
    return dict(json.loads(out))


async def test_an_identity_without_lease_rights_is_told_what_to_grant(
    control_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    namespace = await _setup(control_plane, auth, "rotate-rbac")
    ident = control_plane.identity(namespace)  # every verb on Secrets, nothing on Leases
    before = _run(ident.kubeconfig, namespace, tmp_path / "home", "-o", "json", "get", "svc")
    done = _run(ident.kubeconfig, namespace, tmp_path / "home", "rotate", "svc")
    after = _run(ident.kubeconfig, namespace, tmp_path / "home", "-o", "json", "get", "svc")
    assert done.returncode == 5, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert "leases.coordination.k8s.io" in done.stderr
    assert "kubectl auth can-i create leases.coordination.k8s.io" in done.stderr
    assert after.stdout == before.stdout
    assert sum(auth.hits.values()) == 0


async def test_a_lease_nebula_credential_did_not_make_blocks_and_says_so(
    control_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    namespace = await _setup(control_plane, auth, "rotate-foreign")
    manifest = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "nebula-credentials-svc", "namespace": namespace},
        "spec": {"holderIdentity": "some-controller", "leaseDurationSeconds": 15},
    }
    kubectl(control_plane.admin_kubeconfig, "apply", "-f", "-", input_text=json.dumps(manifest))
    done = _run(control_plane.admin_kubeconfig, namespace, tmp_path / "home", "rotate", "svc")
    assert done.returncode == 4, done.stderr
    assert "nebula-credential did not make" in done.stderr
    assert sum(auth.hits.values()) == 0
    assert _lease(control_plane, namespace)["spec"] == manifest["spec"]  # left alone


async def test_a_hand_edited_lease_with_an_absurd_term_is_stale(
    control_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    namespace = await _setup(control_plane, auth, "rotate-absurd")
    async with provider_for(control_plane, namespace) as provider:
        await provider.acquire_lease("svc", seconds=60)
    _patch_lease(control_plane, namespace, {"leaseDurationSeconds": 2_000_000_000})
    done = _run(control_plane.admin_kubeconfig, namespace, tmp_path / "home", "rotate", "svc")
    assert done.returncode == 0, done.stderr
    assert auth.hits["/token"] == 1


async def test_a_lease_taken_over_mid_rotation_fences_the_write(
    control_plane: ControlPlane, auth: AuthServer, tmp_path: Path
) -> None:
    """Someone rewrites the holder while the endpoint is answering: the issued tokens
    must not be written (the lease is not ours) and must not be lost either."""
    namespace = await _setup(control_plane, auth, "rotate-fence", path="/token-late")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["NEBULA_CREDENTIAL_HOME"] = str(tmp_path / "home")
    argv = [EXE, "--provider", "kubernetes", "--kubeconfig", str(control_plane.admin_kubeconfig)]
    rotation = _spawn([*argv, "--namespace", namespace, "rotate", "svc"], env)
    assert auth.granted.wait(30)
    _patch_lease(control_plane, namespace, {"holderIdentity": "intruder"})
    auth.answer_late.set()
    out, err = rotation.communicate(timeout=120)
    assert rotation.returncode == 8, err
    assert "intruder" in err
    assert "--resume" in err
    async with provider_for(control_plane, namespace) as provider:
        now = await provider.get("svc")
    assert now.version == 1  # fenced: nothing written
    assert len(list((tmp_path / "home" / "pending").glob("*.grant"))) == 1
    assert auth.hits["/token-late"] == 1
    assert out == ""
