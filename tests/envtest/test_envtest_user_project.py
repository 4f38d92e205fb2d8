"""A user's project: install nebula-credential[testing] into a fresh venv, run pytest alone.

The checkout is copied (package sources and metadata only) and installed with pip into a
venv that does not see this one's site-packages, as a user's CI would install a release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nebula_credential.testing.envtest import missing_binaries_message

pytestmark = [pytest.mark.slow, pytest.mark.kubernetes]

CHECKOUT = Path(__file__).resolve().parents[2]

USER_TEST = """
import asyncio
import base64

from nebula_credential import Credential, KubernetesSecretsProvider


def test_secret_round_trip_through_the_api(control_plane):
    control_plane.ensure_namespace("user-app")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "user-app"},
        "type": "Opaque",
        "data": {"password": base64.b64encode(b"hunter2").decode()},
    }
    created = control_plane.request("POST", "/api/v1/namespaces/user-app/secrets", secret)
    assert created.status == 201, created.body
    read = control_plane.request("GET", "/api/v1/namespaces/user-app/secrets/db")
    assert read.status == 200, read.body
    assert base64.b64decode(read.json()["data"]["password"]) == b"hunter2"


def test_library_stores_through_the_admin_kubeconfig(control_plane):
    control_plane.ensure_namespace("user-lib")

    async def store_and_read():
        async with KubernetesSecretsProvider(
            "user-lib", kubeconfig=control_plane.admin_kubeconfig
        ) as provider:
            await provider.store(Credential("github", "api_key", {"api_key": "k-1"}))
            return (await provider.get("github")).reveal("api_key")

    assert asyncio.run(store_and_read()) == "k-1"
    listed = control_plane.request("GET", "/api/v1/namespaces/user-lib/secrets").json()
    assert [s["metadata"]["name"] for s in listed["items"]] == ["nebula-credentials-github"]
"""


def copy_checkout(target: Path) -> Path:
    target.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (CHECKOUT / name).exists():
            shutil.copy2(CHECKOUT / name, target / name)
    shutil.copytree(
        CHECKOUT / "src",
        target / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return target


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = f"$ {' '.join(argv)}\nexit {done.returncode}\n{done.stdout}{done.stderr}"
    assert done.returncode == 0, output
    return output


def test_a_users_project_gets_a_working_api_server_from_pytest_alone(tmp_path: Path) -> None:
    missing = missing_binaries_message()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "PYTEST_", "VIRTUAL_ENV", "NEBULA_CREDENTIAL_"))
        and key != "NEBULA_SKIP_KUBERNETES"
    }
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env, timeout=120)
    source = copy_checkout(tmp_path / "nebula-credential")
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{source}[testing]"],
        cwd=tmp_path,
        env=env,
        timeout=900,
    )

    project = tmp_path / "project"
    project.mkdir()
    (project / "test_secrets.py").write_text(USER_TEST)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
    out = run(["pytest", "-p", "no:cacheprovider"], cwd=project, env=env, timeout=600)
    assert "2 passed" in out, out
    # The fixtures came from the package installed in the venv, not from this checkout.
    where = run(
        ["python", "-c", "import nebula_credential.testing.envtest.plugin as p; print(p.__file__)"],
        cwd=project,
        env=env,
        timeout=60,
    )
    assert str(venv / "lib") in where, where
