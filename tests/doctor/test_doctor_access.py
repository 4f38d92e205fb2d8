"""doctor checks access the way RBAC grants it: per named Secret for the credentials a
user names, so our own least-privilege Roles pass; its fix binds the identity it runs as;
what controllers write in conditions is shown escaped."""

from __future__ import annotations

import base64
import json
import secrets
import shlex
import time
from pathlib import Path

import yaml
from k8s_support import kubectl
from operator_support import EXTERNAL, SEALED, create_with_condition, install_operator_crds

from nebula_credential.kubernetes.model.naming import candidate_names
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

POOL_NAMESPACE = "nebula-identities"


def _by_check(done) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    assert done.stdout.startswith("{"), done.stdout + done.stderr
    return {f["check"]: f for f in json.loads(done.stdout)["findings"]}


def _wait_allowed(plane: ControlPlane, user: str, ns: str, verb: str, name: str) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": ["system:authenticated"],
            "resourceAttributes": {
                "namespace": ns,
                "verb": verb,
                "resource": "secrets",
                "name": name,
            },
        },
    }
    for _ in range(300):
        answer = plane.request(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review
        ).json()
        if answer["status"].get("allowed"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{user} may still not {verb} {name}")


def test_our_least_privilege_reader_role_is_ok_for_its_named_credentials(
    cli, control_plane: ControlPlane
) -> None:
    ns = f"doctor-named-{secrets.token_hex(4)}"
    who = control_plane.identity(ns, verbs=[])
    roles = cli(
        "--namespace", ns, "manifests", "rbac", "--credential", "app-token",
        "--service-account", who.name, "--service-account-namespace", POOL_NAMESPACE,
    )  # fmt: skip
    assert roles.returncode == 0, roles.stderr
    kubectl(control_plane.admin_kubeconfig, "apply", "-f", "-", input_text=roles.stdout)
    _wait_allowed(control_plane, who.username, ns, "get", "nebula-credentials-app-token")

    done = cli("--kubeconfig", str(who.kubeconfig), "doctor", "--need", "read",
               "--credential", "app-token", "-o", "json")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found = _by_check(done)
    assert found["access get"]["status"] == "ok"
    assert found["access get"]["detail"].startswith("ok (named Secrets only)")
    assert "access" not in found
    for verb in ("list", "watch"):  # only listing and watching need them
        assert found[f"access {verb}"]["status"] == "info"

    # Without ids, the rules it holds show the same: named Secrets only, nothing missing.
    table = cli("--kubeconfig", str(who.kubeconfig), "doctor", "--need", "read")
    assert table.returncode == 0, table.stdout + table.stderr
    assert "ok   access get: ok (named Secrets only)" in table.stdout
    assert "nebula-credentials-app-token" in table.stdout
    assert "may not get" not in table.stdout
    assert "--resource=secrets -n" not in table.stdout  # no read access to every Secret

    # A writer's Roles: named get/update/patch/delete, and create (which names cannot hold).
    roles = cli(
        "--namespace", ns, "manifests", "rbac", "--credential", "app-token", "--writer",
        "--service-account", who.name, "--service-account-namespace", POOL_NAMESPACE,
    )  # fmt: skip
    kubectl(control_plane.admin_kubeconfig, "apply", "-f", "-", input_text=roles.stdout)
    _wait_allowed(control_plane, who.username, ns, "delete", "nebula-credentials-app-token")
    write = cli("--kubeconfig", str(who.kubeconfig), "doctor", "-c", "app-token", "-o", "json")
    assert write.returncode == 0, write.stdout + write.stderr
    found = _by_check(write)
    for verb in ("get", "update", "patch", "delete"):
        assert found[f"access {verb}"]["detail"].startswith("ok (named Secrets only)"), verb
    assert found["access create"]["status"] == "ok"


def test_every_name_the_provider_reads_is_checked_and_the_fix_grants_it(
    cli, control_plane: ControlPlane
) -> None:
    """An id that is not DNS-safe is also read under the name earlier releases gave it:
    a Role granting only the new name lets a get of a missing credential fail as denied."""
    ns = f"doctor-legacy-{secrets.token_hex(4)}"
    who = control_plane.identity(ns, verbs=[])
    new, legacy = candidate_names("nebula-credentials", "App_Token")
    control_plane.request(
        "POST",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "only-new"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "verbs": ["get"],
                    "resourceNames": [new],
                }
            ],
        },
    ).raise_for_status("role")
    kubectl(control_plane.admin_kubeconfig, "create", "rolebinding", "only-new", "-n", ns,
            "--role=only-new", f"--serviceaccount={POOL_NAMESPACE}:{who.name}")  # fmt: skip
    _wait_allowed(control_plane, who.username, ns, "get", new)

    args = ("--kubeconfig", str(who.kubeconfig), "doctor", "--need", "read", "-c", "App_Token")
    done = cli(*args, "-o", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    found = _by_check(done)
    assert found["access get"] == {
        "check": "access get",
        "status": "fail",
        "detail": f"may not get {legacy} in {ns}",
        "fix": None,
    }
    fix = found["access"]["fix"]
    assert f"--resource-name={legacy}" in fix
    assert f"--serviceaccount={POOL_NAMESPACE}:{who.name}" in fix
    assert "<your user name>" not in fix

    # The fix, run as printed (by an admin), is what was missing.
    _run_fix(control_plane, fix)
    _wait_allowed(control_plane, who.username, ns, "get", legacy)
    again = cli(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ok   access get: ok (named Secrets only)" in again.stdout


def test_the_fix_binds_the_identity_doctor_runs_as(cli, control_plane: ControlPlane) -> None:
    ns = f"doctor-who-{secrets.token_hex(4)}"
    who = control_plane.identity(ns, verbs=["get", "list"])
    done = cli("--kubeconfig", str(who.kubeconfig), "doctor", "-o", "json")
    assert done.returncode == 1
    found = _by_check(done)
    assert found["identity"]["detail"].startswith(who.username)
    assert found["access"]["detail"] == "missing: watch, create, update, patch, delete"
    fix = found["access"]["fix"]
    assert f"--serviceaccount={POOL_NAMESPACE}:{who.name} -n {ns}" in fix
    assert "<your user name>" not in fix
    assert f"--service-account {who.name} --service-account-namespace {POOL_NAMESPACE}" in fix
    assert who.token not in done.stdout + done.stderr


def test_condition_messages_are_shown_escaped(
    cli, control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    plane = control_plane_factory("doctor-operators", identity_pool=1)
    try:
        install_operator_crds(plane)
        ns = "doctor-operators"
        plane.ensure_namespace(ns)
        hostile = "\x1b]0;owned\x07\x1b[2Jfailed \u202eevil\u202c [/bold]x"
        create_with_condition(plane, SEALED, ns, "sealed", hostile)
        create_with_condition(plane, EXTERNAL, ns, "external", "line one\nline two\x9b1m")
        args = ("--kubeconfig", str(plane.admin_kubeconfig), "--namespace", ns, "doctor")
        table = cli(*args)
        as_json = cli(*args, "-o", "json")
    finally:
        plane.close()
    assert table.returncode == 1, table.stdout + table.stderr
    for raw in ("\x1b", "\x07", "\u202e", "\u202c", "\x9b"):
        assert raw not in table.stdout + table.stderr
    assert (
        "FAIL SealedSecret sealed: not Synced: \\x1b]0;owned\\x07\\x1b[2Jfailed \\u202eevil"
        "\\u202c [/bold]x\n" in table.stdout
    )
    assert "FAIL ExternalSecret external: not Ready: line one\\nline two\\x9b1m\n" in table.stdout
    found = _by_check(as_json)
    assert found["SealedSecret sealed"]["detail"] == f"not Synced: {hostile}"
    assert "\x1b" not in as_json.stdout
    assert "\u202e" not in as_json.stdout


def _run_fix(plane: ControlPlane, fix: str) -> None:
    """Run the kubectl commands of a fix line as printed, as an admin."""
    words = shlex.split(fix.split("  (or,")[0])
    while words:
        command = words[: words.index("&&")] if "&&" in words else words
        words = words[len(command) + 1 :]
        assert command[0] == "kubectl", fix
        kubectl(plane.admin_kubeconfig, *command[1:])


def test_a_user_with_a_client_certificate_is_named_in_the_fix(
    cli, control_plane: ControlPlane, tmp_path: Path
) -> None:
    ns = f"doctor-user-{secrets.token_hex(4)}"
    control_plane.ensure_namespace(ns)
    user = f"dev alice {secrets.token_hex(2)}"  # a space: the fix must quote it
    cert, key = control_plane.client_certificate(user)
    kubeconfig = tmp_path / "alice.yaml"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {
                            "server": control_plane.server,
                            "certificate-authority-data": base64.b64encode(
                                control_plane.ca_pem
                            ).decode(),
                        },
                    }
                ],
                "users": [
                    {
                        "name": "alice",
                        "user": {
                            "client-certificate-data": base64.b64encode(cert).decode(),
                            "client-key-data": base64.b64encode(key).decode(),
                        },
                    }
                ],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "alice"}}],
                "current-context": "c",
            }
        )
    )
    args = ("--kubeconfig", str(kubeconfig), "--namespace", ns, "doctor", "--need", "read")
    done = cli(*args, "-o", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    found = _by_check(done)
    assert found["identity"]["detail"] == f"{user} (from the API server's refusal)"
    fix = found["access"]["fix"]
    assert f"--user='{user}' -n {ns}" in fix
    assert "manifests rbac" not in fix  # it binds ServiceAccounts, not users

    _run_fix(control_plane, fix)
    _wait_allowed(control_plane, user, ns, "watch", "")
    again = cli(*args)
    assert again.returncode == 0, again.stdout + again.stderr
