"""The seed's usage example runs as a script against the test control plane."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from k8s_support import ControlPlane, new_namespace

pytestmark = pytest.mark.kubernetes

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kubernetes_oauth2.py"


def test_kubernetes_oauth2_example_runs(control_plane: ControlPlane) -> None:
    namespace = new_namespace(control_plane, "example")
    env = dict(os.environ)
    env["KUBECONFIG"] = str(control_plane.identity(namespace).kubeconfig)
    env.pop("KUBERNETES_NAMESPACE", None)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("stored github-oauth_")
    assert f"in namespace {namespace} (version 1)" in lines[0]
    assert "access_token': '**********'" in lines[1]
    assert lines[2] == "found 1 credential(s) in scope user:alice"
    assert lines[3] == "deleted: True"
    assert "gho_example_access_token" not in done.stdout + done.stderr
