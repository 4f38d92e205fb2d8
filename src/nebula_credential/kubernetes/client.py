"""Build the one lightkube AsyncClient a provider uses (no network)."""

from __future__ import annotations

import ssl

import httpx2
from lightkube import AsyncClient, ConfigError

from ..domain import ConfigurationError
from ._lightkube_compat import set_user_agent
from .config import ClusterConfig
from .naming import MANAGER

# managedFields name us through field_manager; the User-Agent names us in audit logs.
USER_AGENT = f"{MANAGER}/0.1 (lightkube)"


def make_client(target: ClusterConfig, timeout: float) -> AsyncClient:
    """An AsyncClient for ``target``; bad CA files or auth settings fail here, not later."""
    try:
        client = AsyncClient(
            target.config,
            namespace=target.namespace,
            timeout=httpx2.Timeout(timeout),
            field_manager=MANAGER,
        )
    except (ConfigError, OSError, ssl.SSLError, AssertionError) as exc:
        detail = str(exc)[:200] if isinstance(exc, ConfigError) else type(exc).__name__
        raise ConfigurationError(
            f"cannot set up a Kubernetes client from {target.source} (context "
            f"{target.context!r}): {detail}; check its certificate-authority, client "
            "certificate and user settings"
        ) from None
    set_user_agent(client, USER_AGENT)
    return client
