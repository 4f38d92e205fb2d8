"""Fixtures for rotation: a real authorization server and a store of each provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from oauth_server import AuthServer

from nebula_credential import LocalStorageProvider
from nebula_credential.providers import CredentialProvider


@pytest.fixture
def auth() -> Iterator[AuthServer]:
    server = AuthServer()
    server.add_client("app", "client-secret-canary-5c1e")
    server.add_client("poster", "poster-secret-canary-77d0", method="client_secret_post")
    yield from server.running()


@pytest.fixture(params=["local", pytest.param("kubernetes", marks=pytest.mark.kubernetes)])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[CredentialProvider]:
    """The local store in a fresh directory, or a fresh namespace of the real API server."""
    if request.param == "local":
        provider: CredentialProvider = LocalStorageProvider(tmp_path / "store", durable=False)
    else:
        from k8s_support import new_namespace, provider_for

        plane = request.getfixturevalue("control_plane")
        provider = provider_for(plane, new_namespace(plane, "rotate"))
    try:
        yield provider
    finally:
        await provider.close()
