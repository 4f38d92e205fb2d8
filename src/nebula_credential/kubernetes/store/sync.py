"""Blocking access to the Kubernetes-only parts of the provider."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...domain import Credential, CredentialKind
from ...providers import SyncCredentialProvider
from ...providers.inline import run_inline
from ..api.clients import transport_name
from ..api.retry import TransportStats
from .provider import KubernetesSecretsProvider, SecretEvent


class SyncKubernetesSecretsProvider(SyncCredentialProvider):
    """:class:`SyncCredentialProvider` plus ``read_secret``, ``watch``, ``stats`` and
    ``secret_name`` of :class:`KubernetesSecretsProvider`.

    Pass a provider, or the provider's own keyword arguments::

        with SyncKubernetesSecretsProvider(namespace="nebula-prod") as store:
            legacy = store.read_secret("legacy-oauth", kind="oauth2")
    """

    provider: KubernetesSecretsProvider

    def __init__(self, provider: KubernetesSecretsProvider | None = None, **kwargs: Any) -> None:
        if provider is None and kwargs.get("transport") is None and kwargs.get("client") is None:
            # A sync caller may block: NEBULA_CREDENTIAL_TRANSPORT=blocking applies here.
            kwargs["transport"] = transport_name(None)
        super().__init__(provider if provider is not None else KubernetesSecretsProvider(**kwargs))

    @property
    def stats(self) -> TransportStats:
        """Request, retry and throttling counters of the provider's transport."""
        return self.provider.stats

    def secret_name(self, credential_id: str) -> str:
        """The name of the Secret that holds ``credential_id``."""
        return self.provider.secret_name(credential_id)

    def read_secret(
        self,
        name: str,
        *,
        kind: CredentialKind | str | None = None,
        field_names: Mapping[str, str] | None = None,
        ignore_unknown: bool = False,
    ) -> Credential | None:
        """Any Secret by name as a typed credential (see the async method)."""
        direct = self._direct() is not None  # raises once closed, before a coroutine exists
        read = self.provider.read_secret(
            name, kind=kind, field_names=field_names, ignore_unknown=ignore_unknown
        )
        return run_inline(read) if direct else self._run(read)

    def watch(self, *, resource_version: str | None = None) -> Iterator[SecretEvent]:
        """Changes to our Secrets as they happen; stop by closing the iterator."""
        return self._stream(self.provider.watch(resource_version=resource_version))
