"""Choosing the Kubernetes transport by name, argument or NEBULA_CREDENTIAL_TRANSPORT."""

from __future__ import annotations

from pathlib import Path

import pytest
from nebula_credential.kubernetes.aiohttp_transport import AiohttpTransport
from nebula_credential.kubernetes.blocking_transport import BlockingTransport
from nebula_credential.kubernetes.lightkube_transport import LightkubeTransport

from nebula_credential import ConfigurationError
from nebula_credential.kubernetes import KubernetesSecretsProvider
from nebula_credential.kubernetes.api.clients import transport_name

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: team}}]
current-context: x
"""


def test_the_argument_wins_then_the_variable_then_aiohttp() -> None:
    env = {"NEBULA_CREDENTIAL_TRANSPORT": "lightkube"}
    assert transport_name("aiohttp", env) == "aiohttp"
    assert transport_name(None, env) == "lightkube"
    assert transport_name(None, {"NEBULA_CREDENTIAL_TRANSPORT": " AIOHTTP "}) == "aiohttp"
    assert transport_name(None, {}) == "aiohttp"


def test_an_unknown_name_names_where_it_came_from() -> None:
    with pytest.raises(ConfigurationError, match=r"NEBULA_CREDENTIAL_TRANSPORT='httpx'"):
        transport_name(None, {"NEBULA_CREDENTIAL_TRANSPORT": "httpx"})
    with pytest.raises(
        ConfigurationError, match=r"transport='requests'.*aiohttp, blocking, lightkube"
    ):
        transport_name("requests", {})


@pytest.mark.parametrize(
    ("chosen", "kind"),
    [
        ("aiohttp", AiohttpTransport),
        ("blocking", BlockingTransport),
        ("lightkube", LightkubeTransport),
    ],
)
async def test_the_provider_talks_through_the_chosen_transport(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chosen: str, kind: type
) -> None:
    config = tmp_path / "config"
    config.write_text(KUBECONFIG)
    monkeypatch.setenv("NEBULA_CREDENTIAL_TRANSPORT", chosen)
    async with KubernetesSecretsProvider(kubeconfig=config) as provider:
        assert isinstance(provider._transport, kind)
        assert provider.namespace == "team"


@pytest.mark.parametrize(
    ("user", "cluster"),
    [
        ("{exec: {apiVersion: client.authentication.k8s.io/v1, command: plugin}}", ""),
        ("{token: t}", ", proxy-url: 'https://127.0.0.1:3'"),
    ],
    ids=["exec-plugin", "https-proxy"],
)
async def test_blocking_gives_way_to_aiohttp_where_an_event_loop_is_needed(
    tmp_path: Path, user: str, cluster: str
) -> None:
    """Exec plugins run as asyncio subprocesses; TLS to an https:// proxy and then through
    it to the server needs aiohttp: the blocking choice then takes the aiohttp transport,
    and the sync facade its event loop."""
    config = tmp_path / "config"
    text = KUBECONFIG.replace("{token: t}", user)
    config.write_text(
        text.replace("insecure-skip-tls-verify: true", f"insecure-skip-tls-verify: true{cluster}")
    )
    async with KubernetesSecretsProvider(kubeconfig=config, transport="blocking") as provider:
        assert isinstance(provider._transport, AiohttpTransport)
        assert provider.blocking() is None


def test_the_cli_follows_the_variable(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config"
    config.write_text(KUBECONFIG)
    done = cli(
        "--provider",
        "kubernetes",
        "--kubeconfig",
        str(config),
        "list",
        env={"NEBULA_CREDENTIAL_TRANSPORT": "carrier-pigeon"},
    )
    assert done.returncode != 0
    assert "NEBULA_CREDENTIAL_TRANSPORT='carrier-pigeon'" in done.stderr
    assert "Traceback" not in done.stderr
