"""Build the one lightkube AsyncClient a provider uses (no network)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
from lightkube import AsyncClient, ConfigError

from ..domain import ConfigurationError
from .config import ClusterConfig
from .naming import MANAGER

USER_AGENT = f"{MANAGER}/0.1 (lightkube)"


def make_client(target: ClusterConfig, timeout: float) -> AsyncClient:
    """An AsyncClient for ``target``; bad CA files or auth settings fail here, not later."""
    try:
        client = AsyncClient(
            target.config, namespace=target.namespace, timeout=httpx2.Timeout(timeout)
        )
    except (ConfigError, OSError, ssl.SSLError, AssertionError) as exc:
        detail = str(exc)[:200] if isinstance(exc, ConfigError) else type(exc).__name__
        raise ConfigurationError(
            f"cannot set up a Kubernetes client from {target.source} (context "
            f"{target.context!r}): {detail}; check its certificate-authority, client "
            "certificate and user settings"
        ) from None
    name_client(client)
    return client


def name_client(client: AsyncClient) -> None:
    """Send our User-Agent, so audit logs and managedFields say ``nebula-credential``.

    The API server names the field manager after the User-Agent when none is given; a
    ``fieldManager`` query parameter would do the same but costs a URL rebuild per call.
    """
    http: Any = getattr(getattr(client, "_client", None), "_client", None)
    headers = getattr(http, "headers", None)
    if headers is not None:
        headers["User-Agent"] = USER_AGENT
