"""The Secret ESO writes from our ExternalSecret is one ``get`` reads and ``list`` finds.

No ESO runs here: the test works out the Secret ESO would write from the generated
manifest and a remote store's values (``eso_render``), creates exactly that with
kubectl, and reads it through the library and the CLI.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import yaml
from eso_render import data_map, eso_secret, go_json, render
from eso_schema import validate_eso
from k8s_support import CANARY, cli_runner, kubectl, new_namespace, provider_for

from nebula_credential import manifests as m
from nebula_credential.kubernetes.model.naming import secret_name
from nebula_credential.testing.envtest import ControlPlane

PREFIX = "nebula-credentials"
# Text that JSON and Go escape differently from plain ASCII: the template must carry it.
AWKWARD = f'{CANARY}<&>\u00e9\u2028"\\'
REMOTE: dict[str, Any] = {
    "team/oauth": {"token": AWKWARD, "refresh": "1//0eXhY", "client": "client-7"},
    "team/db": {"host": "db.internal", "port": 5432, "user": "svc", "pass": CANARY},
    "team/registry": {"user": "puller", "token": CANARY, "port": 5000},
}


def _create(plane: ControlPlane, doc: dict[str, Any]) -> dict[str, Any]:
    validate_eso(doc)
    secret = eso_secret(doc, REMOTE, str(uuid.uuid4()))
    kubectl(plane.admin_kubeconfig, "create", "-f", "-", input_text=json.dumps(secret))
    return secret


def test_the_renderer_follows_go_and_sprig() -> None:
    values = {"a": "x<y", "b": "12", "c": "1x"}
    assert go_json(values) == '{"a":"x\\u003cy","b":"12","c":"1x"}'
    text = (
        '{"a":{{ index . "a" | toJson }},"n":{{ index . "b" | atoi }},"z":{{ index . "c" | atoi }}}'
    )
    assert json.loads(render(text, values)) == {"a": "x<y", "n": 12, "z": 0}
    assert data_map(
        {"data": [{"secretKey": "k", "remoteRef": {"key": "team/db", "property": "port"}}]},
        REMOTE,
    ) == {"k": "5432"}


async def test_an_external_secret_with_defaults_writes_a_secret_get_reads_and_list_finds(
    control_plane: ControlPlane,
) -> None:
    ns = new_namespace(control_plane, "eso-generic")
    doc = m.external_secret("registry", store="vault", namespace=ns, data_from=["team/registry"])
    _create(control_plane, doc)
    async with provider_for(control_plane, ns) as provider:
        pulled = await provider.get("registry")
        assert pulled.kind.value == "generic"
        assert {k: pulled.reveal(k) for k in pulled.fields} == {
            "port": "5000",
            "token": CANARY,
            "user": "puller",
        }
        assert [c.id async for c in provider.list_all()] == ["registry"]


async def test_typed_and_database_external_secrets_read_and_list(
    control_plane: ControlPlane,
) -> None:
    ns = new_namespace(control_plane, "eso-readable")
    oauth = m.external_secret(
        "github.OAuth",
        store="vault",
        namespace=ns,
        kind="oauth2",
        data=[
            m.RemoteRef("access_token", "team/oauth", "token"),
            m.RemoteRef("refresh_token", "team/oauth", "refresh"),
            m.RemoteRef("client_id", "team/oauth", "client"),
        ],
    )
    database = m.external_secret(
        "orders-db",
        store="vault",
        namespace=ns,
        kind="database",
        data=[
            m.RemoteRef("host", "team/db", "host"),
            m.RemoteRef("port", "team/db", "port"),
            m.RemoteRef("username", "team/db", "user"),
            m.RemoteRef("password", "team/db", "pass"),
        ],
    )
    written = [_create(control_plane, doc) for doc in (oauth, database)]
    # Pods still find every remote value under its own key (secretKeyRef).
    assert {"access_token", "refresh_token", "client_id"} <= set(written[0]["data"])
    assert written[0]["metadata"]["name"] == secret_name(PREFIX, "github.OAuth")

    async with provider_for(control_plane, ns) as provider:
        github = await provider.get("github.OAuth")
        assert (github.kind.value, github.version) == ("oauth2", 1)
        assert github.reveal("access_token") == AWKWARD
        assert github.reveal("refresh_token") == "1//0eXhY"
        assert github.fields["client_id"] == "client-7"
        orders = await provider.get("orders-db")
        assert (orders.fields["port"], orders.reveal("password")) == (5432, CANARY)
        listed = {c.id: c.kind.value async for c in provider.list_all()}
        assert listed == {"github.OAuth": "oauth2", "orders-db": "database"}
        assert [c.id async for c in provider.list(kind="database")] == ["orders-db"]


def test_the_cli_generated_manifest_makes_a_secret_get_and_list_read(
    control_plane: ControlPlane,
) -> None:
    ns = new_namespace(control_plane, "eso-cli")
    run = cli_runner(control_plane.admin_kubeconfig, ns)
    made = run(
        "manifests",
        "external-secret",
        "-c",
        "github",
        "--store",
        "vault",
        "--kind",
        "oauth2",
        "--data",
        "access_token=team/oauth#token",
        "--data",
        "refresh_token=team/oauth#refresh",
        provider="local",
    )
    assert made.returncode == 0, made.stderr
    (doc,) = [d for d in yaml.safe_load_all(made.stdout) if d]
    doc["metadata"]["namespace"] = ns  # as kubectl apply -n would place it
    _create(control_plane, doc)

    got = run("-o", "json", "get", "github", "--reveal")
    assert got.returncode == 0, got.stderr
    shown = json.loads(got.stdout)
    assert (shown["kind"], shown["version"]) == ("oauth2", 1)
    assert shown["fields"]["access_token"] == AWKWARD
    listed = run("-o", "json", "list")
    assert listed.returncode == 0, listed.stderr
    assert [item["id"] for item in json.loads(listed.stdout)] == ["github"]
    assert CANARY not in listed.stdout
