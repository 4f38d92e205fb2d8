"""The CLI script contract with --provider kubernetes, against the real API server."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import yaml
from k8s_support import cli_runner

from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes

CANARY = "canary-k8s-cli-51aa"


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    name = f"cli-{secrets.token_hex(4)}"
    control_plane.ensure_namespace(name)
    return name


def test_store_get_list_delete_through_the_cli(control_plane: ControlPlane, namespace: str) -> None:
    cli = cli_runner(control_plane.admin_kubeconfig, namespace)
    stored = cli(
        "store",
        "Github_Token.v2",
        "--kind",
        "oauth2",
        "--scope",
        "user:alice",
        "--field",
        "access_token=-",
        "--field",
        "client_id=app",
        stdin=CANARY,
    )
    assert stored.returncode == 0, stored.stderr
    assert cli("get", "Github_Token.v2", "--field", "access_token", "--reveal").stdout == (
        CANARY + "\n"
    )
    record = json.loads(cli("-o", "json", "get", "Github_Token.v2").stdout)
    assert record["fields"]["access_token"] == "**********"
    assert record["version"] == 1
    listed = yaml.safe_load(cli("-o", "yaml", "list", "--scope", "user:alice").stdout)
    assert [r["id"] for r in listed] == ["Github_Token.v2"]
    assert CANARY not in cli("list").stdout
    stale = cli(
        "store",
        "Github_Token.v2",
        "--kind",
        "oauth2",
        "--field",
        "access_token=-",
        "--expected-version",
        "7",
        stdin="x",
    )
    assert stale.returncode == 4
    assert cli("delete", "Github_Token.v2").returncode == 0
    absent = cli("delete", "Github_Token.v2")
    assert absent.returncode == 0
    assert "absent" in absent.stdout
    assert cli("get", "Github_Token.v2").returncode == 3


def test_other_namespace_is_permission_denied_exit_5(control_plane: ControlPlane) -> None:
    home = f"team-a-{secrets.token_hex(3)}"
    other = f"team-b-{secrets.token_hex(3)}"
    control_plane.ensure_namespace(other)
    identity = control_plane.identity(home)
    mine = cli_runner(identity.kubeconfig, None)  # namespace from the kubeconfig context
    assert (
        mine("store", "svc", "--kind", "api_key", "--field", "api_key=-", stdin=CANARY).returncode
        == 0
    )
    assert mine("get", "svc", "--field", "api_key", "--reveal").stdout == CANARY + "\n"

    theirs = cli_runner(identity.kubeconfig, other)
    for args in (("get", "svc"), ("list",), ("delete", "svc")):
        denied = theirs(*args)
        assert denied.returncode == 5, (args, denied.stderr)
        lines = denied.stderr.strip().splitlines()
        assert len(lines) == 1, denied.stderr
        assert other in lines[0]
        assert "kubectl auth can-i" in lines[0]
    written = theirs("store", "svc", "--kind", "api_key", "--field", "api_key=-", stdin=CANARY)
    assert written.returncode == 5
    assert CANARY not in written.stderr


def test_unreachable_cluster_is_exit_6(control_plane: ControlPlane, tmp_path: Path) -> None:
    config = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{dead_port}"
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump(config))
    result = cli_runner(dead, "default")("get", "anything")
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_kubeconfig_names_what_is_missing(tmp_path: Path) -> None:
    result = cli_runner(tmp_path / "nope.yaml", "default")("list")
    assert result.returncode == 1
    assert "nope.yaml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_prefix_and_context_select_where_secrets_go(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    config = yaml.safe_load(control_plane.admin_kubeconfig.read_text())
    good = config["contexts"][0]
    # A second context whose cluster is unreachable; --context must pick the good one.
    config["clusters"].append(
        {
            "name": "nowhere",
            "cluster": {"server": "https://127.0.0.1:9", "insecure-skip-tls-verify": True},
        }
    )
    config["contexts"].append(
        {"name": "broken", "context": {"cluster": "nowhere", "user": good["context"]["user"]}}
    )
    config["current-context"] = "broken"
    two = tmp_path / "two-contexts.yaml"
    two.write_text(yaml.safe_dump(config))

    cli = cli_runner(two, namespace)
    stored = cli(
        "--context",
        good["name"],
        "--prefix",
        "team-creds",
        "store",
        "svc",
        "--kind",
        "api_key",
        "--field",
        "api_key=-",
        stdin=CANARY,
    )
    assert stored.returncode == 0, stored.stderr
    names = control_plane.request("GET", f"/api/v1/namespaces/{namespace}/secrets").json()
    assert [item["metadata"]["name"] for item in names["items"]] == ["team-creds-svc"]
    again = cli(
        "--context",
        good["name"],
        "--prefix",
        "team-creds",
        "get",
        "svc",
        "--field",
        "api_key",
        "--reveal",
    )
    assert again.stdout == CANARY + "\n"
    # The default prefix does not see it.
    assert cli("--context", good["name"], "get", "svc").returncode == 3
