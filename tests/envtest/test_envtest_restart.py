"""Taking a plane's API server down for a while and back, from the library and a shell."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import time
from pathlib import Path

import pytest
from envtest_support import alive, envtest_argv
from envtest_support import envtest as run

from nebula_credential.testing.envtest import ControlPlane, missing_binaries_message
from nebula_credential.testing.envtest.plugin import PlaneFactory

UNREACHABLE = (OSError, http.client.HTTPException)
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "survivor"},
    "data": {"password": base64.b64encode(b"still here").decode()},
}


def wait_unreachable(plane: ControlPlane, within: float = 20.0) -> float:
    """Poll until a request to the plane fails; when it did."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            plane.request("GET", "/readyz", timeout=2)
        except UNREACHABLE:
            return time.monotonic()
        time.sleep(0.05)
    pytest.fail(f"{plane.server} still answered {within:.0f}s into the restart")


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.kubernetes
def test_cli_restart_keeps_the_server_down_then_serves_the_same_secrets(tmp_path: Path) -> None:
    missing = missing_binaries_message()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    up = run("up", "--dir", str(tmp_path), "--name", "flaky")
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = tmp_path / "flaky" / "admin.yaml"
        # Not "default": the server may still be creating it when /readyz first answers 200.
        namespace = kubectl(kubeconfig, "create", "namespace", "outage")
        assert namespace.returncode == 0, namespace.stderr
        created = kubectl(
            kubeconfig,
            "-n=outage",
            "create",
            "secret",
            "generic",
            "survivor",
            "--from-literal=k=still here",
        )
        assert created.returncode == 0, created.stderr
        old_pid = json.loads((tmp_path / "state.json").read_text())["planes"][0]["pids"][
            "kube-apiserver"
        ]
        plane = ControlPlane.attach(tmp_path / "flaky")

        restart = subprocess.Popen(
            envtest_argv("restart", "--dir", str(tmp_path), "--down-for", "3"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        went_down = wait_unreachable(plane)
        time.sleep(max(0.0, went_down + 1.5 - time.monotonic()))
        with pytest.raises(UNREACHABLE):
            plane.request("GET", "/readyz", timeout=2)
        assert restart.poll() is None, "restart returned while the server was still down"
        out, err = restart.communicate(timeout=120)
        assert restart.returncode == 0, err
        assert time.monotonic() - went_down >= 3.0
        assert out.startswith(f"restarted kube-apiserver of flaky at {plane.server} (pid "), out

        new_pid = json.loads((tmp_path / "state.json").read_text())["planes"][0]["pids"][
            "kube-apiserver"
        ]
        assert new_pid != old_pid
        assert alive(new_pid)
        assert not alive(old_pid)
        read = kubectl(
            kubeconfig, "-n=outage", "get", "secret", "survivor", "-o", "jsonpath={.data.k}"
        )
        assert read.returncode == 0, read.stderr
        assert base64.b64decode(read.stdout) == b"still here"

        again = run("start-apiserver", "--dir", str(tmp_path), "--plane", "0")
        assert again.returncode == 1
        assert (
            again.stderr
            == f"error: kube-apiserver of plane flaky is already running (pid {new_pid})\n"
        )
    finally:
        down = run("down", "--dir", str(tmp_path), "--purge")
    assert down.returncode == 0, down.stderr
    assert not alive(new_pid)


def test_library_restart_later_returns_at_once_and_the_server_comes_back(
    control_plane_factory: PlaneFactory,
) -> None:
    plane = control_plane_factory("restarted")
    # Not "default": the server may still be creating it when /readyz first answers 200.
    plane.ensure_namespace("outage")
    created = plane.request("POST", "/api/v1/namespaces/outage/secrets", SECRET)
    assert created.status == 201, created.body
    with pytest.raises(ValueError, match="down_for must not be negative"):
        plane.restart_apiserver(down_for=-1)

    restarted = plane.restart_apiserver_later(kill=True, down_for=2)
    went_down = wait_unreachable(plane)
    time.sleep(max(0.0, went_down + 1.0 - time.monotonic()))
    with pytest.raises(UNREACHABLE):
        plane.request("GET", "/readyz", timeout=2)
    assert not restarted.done()
    restarted.result(timeout=120)
    assert time.monotonic() - went_down >= 2.0

    read = plane.request("GET", "/api/v1/namespaces/outage/secrets/survivor")
    assert read.status == 200
    assert read.json()["data"] == SECRET["data"]


def test_cli_errors_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    missing = run("restart", "--dir", str(tmp_path), "--down-for", "1")
    assert missing.returncode == 1
    assert missing.stderr == (
        f"error: no planes in {tmp_path}: {tmp_path / 'state.json'} not found; run 'up' first\n"
    )

    (tmp_path / "state.json").write_text(json.dumps({"planes": [{"name": "only"}]}))
    unknown = run("stop-apiserver", "--dir", str(tmp_path), "--plane", "other")
    assert unknown.returncode == 1
    assert unknown.stderr == (
        f"error: no plane 'other' in {tmp_path / 'state.json'}; have only (or an index 0..0)\n"
    )

    negative = run("restart", "--dir", str(tmp_path), "--down-for", "-1")
    assert negative.returncode == 2
    assert "argument --down-for: must be 0 or more seconds: '-1'" in negative.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr + negative.stderr
