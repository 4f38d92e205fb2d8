"""The generated Roles are enough for the provider, for ids of every shape: an identity
that holds exactly the Role `manifests rbac` printed, and nothing else, runs the CLI
against the real API server (v1.20)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from k8s_support import CANARY, cli_runner, kubectl, new_namespace

from nebula_credential.kubernetes.model.naming import legacy_secret_name, secret_name
from nebula_credential.testing.envtest import ControlPlane, Identity

pytestmark = pytest.mark.kubernetes

PREFIX = "nebula-credentials"
NOT_DNS_SAFE = "Team.API_key"


def _may(plane: ControlPlane, verb: str, resource: str, ns: str, user: str) -> bool:
    done = subprocess.run(
        ["/usr/bin/kubectl", f"--kubeconfig={plane.admin_kubeconfig}", "auth", "can-i", verb,
         resource, "-n", ns, f"--as={user}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.stdout.strip() == "yes"


def _holding(plane: ControlPlane, ns: str, tmp_path: Path, *rbac_args: str) -> Identity:
    """A user with no permissions, then bound (as the ServiceAccount its token stands for)
    to exactly what ``manifests rbac`` prints for it; waits until the authorizer agrees."""
    ident = plane.identity(ns, verbs=[])
    _, _, sa_namespace, name = ident.username.split(":")
    admin = cli_runner(plane.admin_kubeconfig, ns, home=tmp_path)
    printed = admin("manifests", "rbac", "--service-account", name,
                    "--service-account-namespace", sa_namespace, *rbac_args)  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    kubectl(plane.admin_kubeconfig, "apply", "-f", "-", input_text=printed.stdout)
    current = secret_name(PREFIX, NOT_DNS_SAFE)
    deadline = time.monotonic() + 15
    while not _may(plane, "get", f"secrets/{current}", ns, ident.username):
        assert time.monotonic() < deadline, "the Role never took effect"
        time.sleep(0.1)
    return ident


def test_a_reader_role_finds_a_missing_id_missing_not_forbidden(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    ns = new_namespace(control_plane, "rbac-legacy")
    ident = _holding(control_plane, ns, tmp_path, "-c", NOT_DNS_SAFE, "-c", "oauth2")
    reader = cli_runner(ident.kubeconfig, ns, home=tmp_path)

    missing = reader("get", NOT_DNS_SAFE)
    assert missing.returncode == 3, missing.stderr  # was 5: the legacy name was not granted
    legacy = legacy_secret_name(PREFIX, NOT_DNS_SAFE)
    assert _may(control_plane, "get", f"secrets/{legacy}", ns, ident.username)
    assert "not found" in missing.stderr.lower()
    assert "forbidden" not in missing.stderr.lower()

    admin = cli_runner(control_plane.admin_kubeconfig, ns, home=tmp_path)
    stored = admin("store", NOT_DNS_SAFE, "--kind", "api_key", "--field", "api_key=-",
                   stdin=CANARY)  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    found = reader("get", NOT_DNS_SAFE, "--field", "api_key", "--reveal")
    assert found.returncode == 0, found.stderr
    assert found.stdout == f"{CANARY}\n"
    # Still nothing beyond the named Secrets.
    other = reader("get", "someone-else")
    assert other.returncode == 5, other.stderr


def test_a_writer_role_stores_and_deletes_an_id_that_is_not_dns_safe(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    ns = new_namespace(control_plane, "rbac-legacy-w")
    ident = _holding(control_plane, ns, tmp_path, "-c", NOT_DNS_SAFE, "--writer")
    writer = cli_runner(ident.kubeconfig, ns, home=tmp_path)

    stored = writer("store", NOT_DNS_SAFE, "--kind", "api_key", "--field", "api_key=-",
                    stdin=CANARY)  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    name = secret_name(PREFIX, NOT_DNS_SAFE)
    assert name in kubectl(control_plane.admin_kubeconfig, "get", "secret", "-n", ns, "-o", "name")
    again = writer("store", NOT_DNS_SAFE, "--kind", "api_key", "--field", "api_key=-",
                   stdin="second")  # fmt: skip
    assert again.returncode == 0, again.stderr
    deleted = writer("delete", NOT_DNS_SAFE)
    assert deleted.returncode == 0, deleted.stderr
    gone = writer("get", NOT_DNS_SAFE)
    assert gone.returncode == 3, gone.stderr
