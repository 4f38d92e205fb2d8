"""``python -m nebula_credential.testing.envtest``: a plane for a shell session, and back down."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from envtest_support import alive, envtest

from nebula_credential.testing.envtest import missing_binaries_message

pytestmark = pytest.mark.kubernetes


def test_up_identity_down(tmp_path: Path) -> None:
    missing = missing_binaries_message()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    up = envtest("up", "--dir", str(tmp_path), "--name", "shell")
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = tmp_path / "shell" / "admin.yaml"
        assert up.stdout.splitlines()[-1] == f"export KUBECONFIG={kubeconfig}"
        pids = json.loads((tmp_path / "state.json").read_text())["planes"][0]["pids"]
        assert all(alive(pid) for pid in pids.values()), pids

        ident = envtest("identity", "--dir", str(tmp_path), "--namespace", "team-a", "--verbs=get")
        assert ident.returncode == 0, ident.stderr
        assert "may get secrets in team-a" in ident.stdout
        user_config = ident.stdout.splitlines()[-1].removeprefix("export KUBECONFIG=")
        allowed = subprocess.run(
            ["kubectl", f"--kubeconfig={user_config}", "auth", "can-i", "get", "secrets"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert allowed.stdout.strip() == "yes", allowed.stderr
        nobody = envtest("identity", "--dir", str(tmp_path), "--namespace", "team-a", "--verbs=")
        assert nobody.returncode == 0, nobody.stderr
        assert nobody.stdout.splitlines()[0].endswith(" may do nothing in team-a")
    finally:
        down = envtest("down", "--dir", str(tmp_path), "--purge")
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "stopped shell"
    assert not any(alive(pid) for pid in pids.values()), pids
    assert not (tmp_path / "state.json").exists()
    assert not (tmp_path / "shell").exists()
