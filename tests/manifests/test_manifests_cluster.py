"""Generated manifests against the real API server (v1.20): dry-run apply, and RBAC that
grants exactly what its Roles claim, asked of the authorizer verb by verb."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from k8s_support import cli_runner, kubectl, new_namespace
from manifest_support import builtin_manifests

from nebula_credential import manifests as m
from nebula_credential.kubernetes.model.naming import secret_name
from nebula_credential.testing.envtest import ControlPlane

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")


def _server_minor(plane: ControlPlane) -> str:
    version = plane.request("GET", "/version").json()
    return f"{version['major']}.{version['minor'].rstrip('+')}"


def test_the_1_20_output_is_accepted_by_the_api_server(control_plane: ControlPlane) -> None:
    assert _server_minor(control_plane) == "1.20"
    ns = new_namespace(control_plane, "manifests")
    docs = builtin_manifests("1.20", namespace=ns)
    out = kubectl(
        control_plane.admin_kubeconfig,
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        input_text=m.render_yaml(docs),
    )
    for doc in docs:
        assert f"{doc['kind'].lower()}" in out.lower()
    assert len(out.strip().splitlines()) == len(docs)


def test_the_1_29_forms_are_what_1_20_lacks(control_plane: ControlPlane) -> None:
    # The version switch matters: 1.20 serves neither policy/v1 PDBs nor batch/v1 CronJobs.
    ns = new_namespace(control_plane, "manifests")
    for doc in (m.pdb(namespace=ns), m.rotation_cronjob(namespace=ns)):
        with pytest.raises(AssertionError, match="no matches for kind"):
            kubectl(
                control_plane.admin_kubeconfig,
                "apply",
                "--dry-run=server",
                "-f",
                "-",
                input_text=m.render_yaml([doc]),
            )


def _can_i(kubeconfig: Path, verb: str, resource: str, ns: str, user: str) -> bool:
    done = subprocess.run(
        ["/usr/bin/kubectl", f"--kubeconfig={kubeconfig}", "auth", "can-i", verb, resource,
         "-n", ns, f"--as={user}"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    answer = done.stdout.strip()
    assert answer in {"yes", "no"}, done.stderr
    return answer == "yes"


def test_generated_roles_grant_exactly_what_they_claim(control_plane: ControlPlane) -> None:
    ns = new_namespace(control_plane, "rbac")
    elsewhere = new_namespace(control_plane, "rbac-other")
    ids = ["oauth2", "Team.API_key"]
    listed = [secret_name(m.DEFAULT_PREFIX, i) for i in ids]
    unlisted = secret_name(m.DEFAULT_PREFIX, "someone-else")
    docs = [
        *m.rbac(ids, namespace=ns, service_account="reader"),
        *m.rbac(ids, namespace=ns, service_account="writer", writer=True),
        *m.rbac(ids, namespace=ns, service_account="watcher", list_watch=True),
    ]
    kubectl(control_plane.admin_kubeconfig, "apply", "-f", "-", input_text=m.render_yaml(docs))
    expected = {
        "reader": {"named": {"get"}, "any": set()},
        "writer": {"named": {"get", "update", "patch", "delete"}, "any": {"create"}},
        "watcher": {"named": {"get"}, "any": {"list", "watch"}},
    }
    kubeconfig = control_plane.admin_kubeconfig
    for account, grants in expected.items():
        user = f"system:serviceaccount:{ns}:{account}"
        for verb in VERBS:
            for name in listed:
                allowed = verb in grants["named"] | grants["any"]
                assert _can_i(kubeconfig, verb, f"secrets/{name}", ns, user) is allowed, (
                    account, verb, name,
                )  # fmt: skip
                assert not _can_i(kubeconfig, verb, f"secrets/{name}", elsewhere, user)
            collection = verb in grants["any"]
            assert _can_i(kubeconfig, verb, f"secrets/{unlisted}", ns, user) is collection
            assert _can_i(kubeconfig, verb, "secrets", ns, user) is collection, (account, verb)
            assert not _can_i(kubeconfig, verb, "secrets", elsewhere, user)
            assert not _can_i(kubeconfig, verb, "configmaps", ns, user)


# Every kind `kubectl apply` takes, as the CLI prints it with no --kube-version: the
# version comes from the cluster (1.20 here), so its CronJob and PDB are forms 1.20 serves.
CLI_KINDS = [
    ("namespace", "--service-account", "app"),
    ("rbac", "-c", "oauth2", "-c", "Team.API_key"),
    ("rbac", "-c", "oauth2", "--service-account", "w" * 63, "--writer", "--list-watch"),
    ("rbac", "--writer"),
    ("deployment", "-c", "Team.API_key", "--env-key", "access_token", "--name", "a" * 63),
    ("deployment", "-c", "oauth2", "--mount-key", "access_token", "--mount-key", "expires_at"),
    (
        "rotation-cronjob",
        "--service-account",
        "r" * 63,
        "--schedule",
        "0 * * * *",
        "--within",
        "2h",
    ),
    ("pdb",),
    ("network-policy", "--metrics-port", "9090"),
]


def test_every_kind_with_the_default_version_is_accepted_by_the_api_server(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    ns = new_namespace(control_plane, "manifests-cli")
    run = cli_runner(control_plane.admin_kubeconfig, ns, home=tmp_path)
    server = control_plane.server.rstrip("/")
    for args in CLI_KINDS:
        done = run("manifests", *args)
        assert done.returncode == 0, (args, done.stderr)
        first = done.stdout.splitlines()[0]
        assert first == f"# generated for Kubernetes 1.20 (the version of the cluster at {server})"
        docs = list(yaml.safe_load_all(done.stdout))
        out = kubectl(
            control_plane.admin_kubeconfig,
            "apply",
            "--dry-run=server",
            "-f",
            "-",
            input_text=done.stdout,
        )
        assert len(out.strip().splitlines()) == len(docs), (args, out)
        apis = {d["kind"]: d["apiVersion"] for d in docs}
        assert apis.get("CronJob", "batch/v1beta1") == "batch/v1beta1"
        assert apis.get("PodDisruptionBudget", "policy/v1beta1") == "policy/v1beta1"
    as_json = run("-o", "json", "manifests", "pdb")
    assert as_json.stderr == (
        f"note: generated for Kubernetes 1.20 (the version of the cluster at {server})\n"
    )
