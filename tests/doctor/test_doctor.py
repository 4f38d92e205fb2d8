"""``nebula-credential doctor`` against real API servers: healthy, limited, misconfigured
and unreachable set-ups, each with its finding and fix."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory


def _doctor(cli, kubeconfig: Path, *args: str):  # type: ignore[no-untyped-def]
    return cli("--kubeconfig", str(kubeconfig), *args, "doctor")


def _by_check(done) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    report = json.loads(done.stdout)
    return {f["check"]: f for f in report["findings"]}


def test_admin_in_an_existing_namespace_passes(cli, control_plane: ControlPlane) -> None:
    ns = f"doctor-{secrets.token_hex(4)}"
    control_plane.ensure_namespace(ns)
    done = _doctor(cli, control_plane.admin_kubeconfig, "--namespace", ns, "--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    found = _by_check(done)
    assert json.loads(done.stdout)["ok"] is True
    assert str(control_plane.admin_kubeconfig) in found["configuration"]["detail"]
    assert f"namespace {ns}" in found["configuration"]["detail"]
    assert "Kubernetes v1.20" in found["API server"]["detail"]
    assert found["namespace"]["status"] == "ok"
    for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
        assert found[f"access {verb}"]["status"] == "ok"
    # No operator CRDs on the test server: reported, not failed.
    assert found["ExternalSecret"] == {
        "check": "ExternalSecret",
        "status": "info",
        "detail": "not installed (external-secrets.io is not served)",
        "fix": None,
    }
    assert found["SealedSecret"]["status"] == "info"
    table = _doctor(cli, control_plane.admin_kubeconfig, "--namespace", ns)
    assert table.returncode == 0
    assert table.stdout.strip().endswith("all needed checks passed")


def test_a_limited_identity_gets_the_missing_verbs_and_the_binding_to_create(
    cli, control_plane: ControlPlane
) -> None:
    ns = f"doctor-{secrets.token_hex(4)}"
    who = control_plane.identity(ns, verbs=["get", "list"])
    done = _doctor(cli, who.kubeconfig, "--output", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    found = _by_check(done)
    assert found["access get"]["status"] == "ok"
    assert found["access list"]["status"] == "ok"
    for verb in ("watch", "create", "update", "patch", "delete"):
        assert found[f"access {verb}"]["status"] == "fail"
    fix = found["access"]["fix"]
    assert "kubectl create role nebula-credential --verb=watch,create,update,patch,delete" in fix
    assert "kubectl create rolebinding nebula-credential --role=nebula-credential" in fix
    assert f"-n {ns}" in fix
    # A limited identity may not read Namespace objects: unknown, not a failure.
    assert found["namespace"]["status"] == "info"
    assert who.token not in done.stdout + done.stderr
    # Reading is all it needs? Then watch is the only gap.
    read = cli("--kubeconfig", str(who.kubeconfig), "doctor", "--need", "read", "-o", "json")
    assert read.returncode == 1
    assert _by_check(read)["access"]["detail"] == "missing: watch"


def test_a_missing_namespace_is_a_failure_with_the_command_to_create_it(
    cli, control_plane: ControlPlane
) -> None:
    ns = f"doctor-absent-{secrets.token_hex(4)}"
    done = _doctor(cli, control_plane.admin_kubeconfig, "--namespace", ns)
    assert done.returncode == 1
    assert f"FAIL namespace: {ns} does not exist" in done.stdout
    assert f"fix: kubectl create namespace {ns}" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_no_configuration_is_one_finding(cli, tmp_path: Path) -> None:
    done = cli("doctor", env={"KUBECONFIG": str(tmp_path / "absent"), "HOME": str(tmp_path)})
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL configuration: none of the files in KUBECONFIG exists")


@pytest.mark.slow
def test_an_unreachable_server_is_a_clear_finding_without_traceback(
    cli, control_plane_factory: PlaneFactory
) -> None:
    plane = control_plane_factory("doctor-down", identity_pool=1)
    try:
        plane.stop_apiserver()
        done = cli("--kubeconfig", str(plane.admin_kubeconfig), "doctor", "--timeout", "2")
    finally:
        plane.close()
    assert done.returncode == 1
    assert f"FAIL API server: cannot reach https://127.0.0.1:{plane.port}" in done.stdout
    assert "fix: check that the server in kubeconfig" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert plane.admin_token not in done.stdout + done.stderr
    assert "access" not in done.stdout  # nothing else is asked of a server that is down


def test_a_dead_proxy_is_named_as_the_proxy_not_the_server(
    cli, control_plane: ControlPlane, closed_port: int
) -> None:
    proxy = f"http://user:pw-canary-3d9e@127.0.0.1:{closed_port}"
    env = {"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
    done = cli("--kubeconfig", str(control_plane.admin_kubeconfig), "doctor", env=env)
    assert done.returncode == 1
    shown = f"http://127.0.0.1:{closed_port}"
    assert f"the proxy {shown} failed" in done.stdout
    assert f"fix: check the proxy {shown}" in done.stdout
    assert "pw-canary-3d9e" not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_yaml_output_is_the_report_json_gives(cli, control_plane: ControlPlane) -> None:
    import yaml

    ns = f"doctor-{secrets.token_hex(4)}"
    control_plane.ensure_namespace(ns)
    args = ("--kubeconfig", str(control_plane.admin_kubeconfig), "--namespace", ns)
    as_yaml = cli(*args, "-o", "yaml", "doctor")
    as_json = cli(*args, "doctor", "-o", "json")
    assert as_yaml.returncode == 0, as_yaml.stdout + as_yaml.stderr
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--prefix", "Bad_Prefix", "doctor", "-c", "x"), "Secret name prefix 'Bad_Prefix'"),
        (("doctor", "--credential", "../etc"), "credential id"),
    ],
)
def test_a_bad_prefix_or_id_is_a_usage_error(cli, tmp_path: Path, args, says: str) -> None:  # type: ignore[no-untyped-def]
    done = cli("--kubeconfig", str(tmp_path / "absent"), *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ")
    assert says in done.stderr
    assert done.stdout == ""
