"""Hostile-but-realistic input through the CLI against the real API server."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
import yaml
from k8s_support import CliRun as Run
from k8s_support import cli_runner

from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes

CANARY = "canary-k8s-safety-2f0c"


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    name = f"safe-{secrets.token_hex(4)}"
    control_plane.ensure_namespace(name)
    return name


@pytest.fixture
def cli(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Run:
    return cli_runner(control_plane.admin_kubeconfig, namespace, tmp_path)


def test_a_foreign_secret_without_a_kind_is_stored_data_not_usage(
    control_plane: ControlPlane, namespace: str, cli: Run
) -> None:
    # What `kubectl create secret generic nebula-credentials-plain --from-literal=...` makes.
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "nebula-credentials-plain"},
        "data": {"token": base64.b64encode(CANARY.encode()).decode()},
    }
    made = control_plane.request("POST", f"/api/v1/namespaces/{namespace}/secrets", secret)
    assert made.status == 201
    for args in (("get", "plain"), ("get", "plain", "--field", "token", "--reveal")):
        result = cli(*args)
        assert result.returncode == 1, result.stderr
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1
        assert "does not say which kind" in line
        assert "kubectl label secret nebula-credentials-plain" in line
        assert CANARY not in line


def test_bad_kubernetes_names_are_usage_errors(cli: Run) -> None:
    for option in (["--namespace", "Team B"], ["--prefix", "team_b"]):
        result = cli(
            *option, "store", "x", "--kind", "api_key", "--field", "api_key=-", stdin=CANARY
        )
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_field_names_are_the_same_for_both_providers(cli: Run) -> None:
    # Every name the domain accepts is a valid Secret data key, and the rest are refused
    # by both providers before anything is written.
    for name in ["a..b", ".x", "x.", "-", "_", "x" * 253]:
        for provider in ("kubernetes", "local"):
            stored = cli(
                "store",
                "edge",
                "--kind",
                "generic",
                "--field",
                f"{name}=-",
                stdin=CANARY,
                provider=provider,
            )
            assert stored.returncode == 0, (name, provider, stored.stderr)
            assert cli("delete", "edge", provider=provider).returncode == 0
    for name in [".", "..", "..x"]:
        for provider in ("kubernetes", "local"):
            refused = cli(
                "store",
                "edge",
                "--kind",
                "generic",
                "--field",
                f"{name}=-",
                stdin=CANARY,
                provider=provider,
            )
            assert refused.returncode == 2, (name, provider, refused.stderr)
            assert "field name" in refused.stderr
            assert cli("get", "edge", provider=provider).returncode == 3


def test_a_failing_exec_plugin_is_one_line_without_its_output(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    plugin = tmp_path / "get-token"
    plugin.write_text(
        "#!/bin/sh\n"
        f"echo 'debug: refreshed token {CANARY}' >&2\n"
        "printf '\\033[31mfatal\\033[0m: cannot reach the token service\\n' >&2\n"
        "exit 3\n"
    )
    plugin.chmod(0o755)
    config = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": str(plugin),
            }
        }
    kubeconfig = tmp_path / "exec.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    result = cli_runner(kubeconfig, namespace, tmp_path)("get", "anything")
    assert result.returncode != 0
    assert CANARY not in result.stderr
    assert "\x1b" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "'get-token' exited with status 3" in result.stderr
