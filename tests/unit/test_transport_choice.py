"""Choosing the Kubernetes HTTP driver by name, argument or NEBULA_CREDENTIAL_TRANSPORT."""

from __future__ import annotations

from pathlib import Path

import pytest

from nebula_credential import ConfigurationError
from nebula_credential.http.aio import AioDriver
from nebula_credential.http.blocking import BlockingDriver
from nebula_credential.kubernetes import (
    KubernetesSecretsProvider,
    SyncKubernetesSecretsProvider,
    open_client,
)
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
    env = {"NEBULA_CREDENTIAL_TRANSPORT": "blocking"}
    assert transport_name("aiohttp", env) == "aiohttp"
    assert transport_name(None, env) == "blocking"
    assert transport_name(None, {"NEBULA_CREDENTIAL_TRANSPORT": " AIOHTTP "}) == "aiohttp"
    assert transport_name(None, {}) == "aiohttp"


def test_an_unknown_name_names_where_it_came_from() -> None:
    with pytest.raises(ConfigurationError, match=r"NEBULA_CREDENTIAL_TRANSPORT='httpx'"):
        transport_name(None, {"NEBULA_CREDENTIAL_TRANSPORT": "httpx"})
    with pytest.raises(ConfigurationError, match=r"transport='requests'.*aiohttp, blocking$"):
        transport_name("requests", {})
    with pytest.raises(ConfigurationError, match=r"transport='lightkube'"):
        transport_name("lightkube", {})  # gone: named as unknown, not taken silently


@pytest.mark.parametrize(
    ("chosen", "driver", "inline"),
    [("aiohttp", AioDriver, False), ("blocking", BlockingDriver, True)],
)
async def test_the_provider_talks_through_the_chosen_driver(
    tmp_path: Path, chosen: str, driver: type, inline: bool
) -> None:
    config = tmp_path / "config"
    config.write_text(KUBECONFIG)
    async with KubernetesSecretsProvider(kubeconfig=config, transport=chosen) as provider:
        # Only the blocking driver lets the sync facade run calls on the caller's thread.
        assert (provider.blocking() is not None) is inline
        assert provider.namespace == "team"
    client = open_client(kubeconfig=config, transport=chosen)
    try:
        assert isinstance(client.driver, driver)
        assert client.blocking is inline
        assert client.namespace == "team"
    finally:
        await client.close()


async def test_the_variable_picks_blocking_for_sync_callers_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NEBULA_CREDENTIAL_TRANSPORT=blocking, set for scripts, must not stall a service:
    an async provider or client keeps the aiohttp driver; the sync facade blocks."""
    config = tmp_path / "config"
    config.write_text(KUBECONFIG)
    monkeypatch.setenv("NEBULA_CREDENTIAL_TRANSPORT", "blocking")
    async with KubernetesSecretsProvider(kubeconfig=config) as provider:
        assert provider.blocking() is None
    client = open_client(kubeconfig=config)
    try:
        assert isinstance(client.driver, AioDriver)
    finally:
        await client.close()
    with SyncKubernetesSecretsProvider(kubeconfig=config) as store:
        assert store.provider.blocking() is not None


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
    it to the server needs aiohttp: the blocking choice then takes the aiohttp driver,
    and the sync facade its event loop."""
    config = tmp_path / "config"
    text = KUBECONFIG.replace("{token: t}", user)
    config.write_text(
        text.replace("insecure-skip-tls-verify: true", f"insecure-skip-tls-verify: true{cluster}")
    )
    async with KubernetesSecretsProvider(kubeconfig=config, transport="blocking") as provider:
        assert provider.blocking() is None
    client = open_client(kubeconfig=config, transport="blocking")
    try:
        assert isinstance(client.driver, AioDriver)
        assert client.blocking is False
    finally:
        await client.close()


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
