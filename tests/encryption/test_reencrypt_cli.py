"""``reencrypt`` as a platform engineer meets it on a real API server: a namespace that
does not exist, Secrets it leaves alone, a Role without ``patch``, progress, resuming."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import pytest
from k8s_support import cli_runner, kubectl, new_namespace

from nebula_credential.cli.reencrypt_resume import ResumeFile
from nebula_credential.domain import Credential, CredentialKind
from nebula_credential.kubernetes import KubernetesSecretsProvider, open_client
from nebula_credential.kubernetes.api.secret_sweep import SecretSweep
from nebula_credential.kubernetes.store.reencrypt import ReencryptSummary, reencrypt_secrets
from nebula_credential.testing.envtest import ControlPlane


def store_ours(plane: ControlPlane, namespace: str, count: int) -> None:
    async def run() -> None:
        provider = KubernetesSecretsProvider(namespace, kubeconfig=plane.admin_kubeconfig)
        try:
            for i in range(count):
                fields = {"api_key": f"value-{i}"}
                await provider.store(Credential(f"svc.{i:03d}", CredentialKind.API_KEY, fields))
        finally:
            await provider.close()

    asyncio.run(run())


def create_theirs(plane: ControlPlane, namespace: str, count: int) -> None:
    for j in range(count):
        name = f"theirs-{j}"
        kubectl(plane.admin_kubeconfig, "create", "secret", "generic", name, "-n", namespace)


def test_a_namespace_that_does_not_exist_is_exit_3(control_plane: ControlPlane) -> None:
    missing = f"no-such-{secrets.token_hex(4)}"
    run = cli_runner(control_plane.admin_kubeconfig, missing)
    for output in ("table", "json"):
        done = run("-o", output, "reencrypt")
        assert done.returncode == 3, done.stderr
        assert f"namespace '{missing}' does not exist" in done.stderr
        assert done.stdout == ""  # no "rewrote 0 Secret(s)" to mistake for success
        assert "Traceback" not in done.stderr


def test_secrets_left_alone_are_counted_and_the_old_key_kept(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "untouched")
    store_ours(control_plane, namespace, 2)
    create_theirs(control_plane, namespace, 3)
    run = cli_runner(control_plane.admin_kubeconfig, namespace)

    done = run("-o", "json", "reencrypt")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["rewritten"] + report["current"], report["untouched"]) == (2, 3)
    assert report["old_key_still_needed"] is True

    table = run("reencrypt")
    assert table.returncode == 0, table.stderr
    assert "3 Secret(s) not managed by nebula-credential were not rewritten" in table.stdout
    assert "may still be under the old key: keep it configured until" in table.stdout
    assert "`nebula-credential reencrypt --all-secrets --all-namespaces` has run" in table.stdout

    every = run("-o", "json", "reencrypt", "--all-secrets")
    assert every.returncode == 0, every.stderr
    report = json.loads(every.stdout)
    assert (report["rewritten"] + report["current"], report["untouched"]) == (5, 0)
    # One namespace is not the cluster: the old key still stays.
    assert report["old_key_still_needed"] is True
    assert (
        "Secrets of other namespaces were not rewritten" in run("reencrypt", "--all-secrets").stdout
    )


def test_a_role_without_patch_is_told_to_grant_patch(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "nopatch")
    store_ours(control_plane, namespace, 20)
    ident = control_plane.identity(namespace, verbs=["get", "list", "update"])
    done = cli_runner(ident.kubeconfig)("reencrypt")
    assert done.returncode == 5, done.stderr
    assert "grants 'patch' on secrets" in done.stderr
    assert "'update'" not in done.stderr
    assert done.stderr.count("permission denied") == 1  # one refusal, not one per Secret
    assert "Traceback" not in done.stderr


def test_progress_lines_on_stderr_and_every_namespace_needs_cluster_rights(
    control_plane: ControlPlane,
) -> None:
    namespace = new_namespace(control_plane, "progress")
    store_ours(control_plane, namespace, 3)
    run = cli_runner(control_plane.admin_kubeconfig, namespace)
    done = run("-o", "json", "reencrypt", "--progress-every", "0")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("reencrypt: ")]
    assert len(lines) == 3
    assert lines[-1].startswith(f"reencrypt: 3 Secret(s) seen in namespace {namespace}: ")
    quiet = run("-o", "json", "reencrypt")  # the default: a line every 5 seconds at most
    assert quiet.returncode == 0
    assert quiet.stderr == ""

    ident = control_plane.identity(namespace, verbs=["get", "list", "patch"])
    refused = cli_runner(ident.kubeconfig)("reencrypt", "--all-namespaces")
    assert refused.returncode == 5
    assert "kubectl auth can-i list secrets --all-namespaces" in refused.stderr


def test_an_interrupted_run_resumes_where_it_stopped(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "resume")
    store_ours(control_plane, namespace, 30)
    state = tmp_path / "reencrypt.state"
    api = open_client(namespace=namespace, kubeconfig=control_plane.admin_kubeconfig)
    scope = {"server": api.site.server, "namespace": namespace, "all_secrets": False}
    saved = ResumeFile(state, scope)
    pages: list[str | None] = []

    def interrupt(summary: ReencryptSummary) -> None:
        saved.save(summary)
        pages.append(summary.position)
        if len(pages) == 2:
            raise KeyboardInterrupt  # Ctrl-C after two pages of ten

    async def first() -> None:
        sweep = SecretSweep(api)
        try:
            await reencrypt_secrets(sweep, namespace, page_size=10, checkpoint=interrupt)
        finally:
            await sweep.close()

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(first())
    names = sorted(
        kubectl(
            control_plane.admin_kubeconfig,
            "get",
            "secrets",
            "-n",
            namespace,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ).split()
    )
    assert json.loads(state.read_text())["after"] == f"{namespace}/{names[19]}"

    run = cli_runner(control_plane.admin_kubeconfig, namespace)
    other = run("-o", "json", "reencrypt", "--all-secrets", "--resume", str(state))
    assert other.returncode == 2  # the file is for another choice of Secrets: not skipped
    assert "records another run" in other.stderr

    unwritable = run("reencrypt", "--resume", "/proc/reencrypt.state")
    assert unwritable.returncode == 2  # refused before any Secret is written
    assert "cannot write --resume file /proc/reencrypt.state" in unwritable.stderr

    done = run("-o", "json", "reencrypt", "--resume", str(state))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["skipped"], report["rewritten"] + report["current"]) == (20, 10)
    assert not state.exists()  # finished with nothing failed: the state is gone
