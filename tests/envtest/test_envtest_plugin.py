"""The pytest plugin as a user's project sees it: fixtures, markers, failures, start-up cost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

USER_TESTS = """
def test_needs_a_cluster(control_plane):
    assert control_plane.request("GET", "/readyz").status == 200

def test_plain():
    assert 1 + 1 == 2
"""


def run_pytest(project: Path, env_extra: dict[str, str], *args: str) -> str:
    """Run pytest in ``project`` with no way to find etcd or kube-apiserver."""
    (project / "test_user.py").write_text(USER_TESTS)
    nowhere = project / "nowhere"
    nowhere.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "PYTEST_"))}
    env |= {
        "KUBEBUILDER_ASSETS": str(nowhere),
        "NEBULA_CACHE_DIR": str(nowhere),
        "PATH": str(nowhere),
        **env_extra,
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def test_missing_binaries_fail_the_test_saying_where_they_were_looked_for(
    tmp_path: Path,
) -> None:
    out = run_pytest(tmp_path, {})
    assert out.startswith("exit 1"), out
    assert "1 passed, 1 error" in out, out
    assert "missing kube-apiserver (looked in" in out, out
    assert f"{tmp_path / 'nowhere'}" in out
    assert "scripts/install-control-plane.sh" in out
    assert "Traceback" not in out  # one clear reason, no stack


def test_skip_switch_skips_only_the_tests_that_need_a_cluster(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, {"NEBULA_SKIP_KUBERNETES": "1"})
    assert out.startswith("exit 0"), out
    assert "1 passed, 1 skipped" in out, out
    assert "SKIPPED [1] test_user.py: NEBULA_SKIP_KUBERNETES=1" in out, out


def test_tests_using_the_fixtures_carry_the_kubernetes_marker(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, {}, "-m", "not kubernetes", "--strict-markers")
    assert out.startswith("exit 0"), out
    assert "1 passed, 1 deselected" in out, out


def test_loading_the_plugin_leaves_the_kit_unimported() -> None:
    code = (
        "import sys, nebula_credential.testing.envtest.plugin\n"
        "heavy = ['cryptography.x509', 'nebula_credential.testing.envtest._plane',\n"
        "         'nebula_credential.testing.envtest._pki', 'nebula_credential.testing.contract']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
