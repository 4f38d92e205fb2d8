"""Building the provider that the global options ask for."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..domain import ConfigurationError
from ..providers import CredentialProvider

if TYPE_CHECKING:
    from ..ops import GrantJournal

PROVIDER_ENV = "NEBULA_CREDENTIAL_PROVIDER"
TRANSPORT_ENV = "NEBULA_CREDENTIAL_TRANSPORT"  # read by the Kubernetes provider


class ProviderName(StrEnum):
    LOCAL = "local"
    KUBERNETES = "kubernetes"


class ProviderOptions(NamedTuple):  # a dataclass takes a millisecond to define at start-up
    provider: ProviderName | None = None
    data_dir: Path | None = None
    namespace: str | None = None
    context: str | None = None
    kubeconfig: Path | None = None
    prefix: str | None = None

    def resolved_name(self) -> ProviderName:
        if self.provider is not None:
            return self.provider
        from_env = os.environ.get(PROVIDER_ENV, "").strip()
        if not from_env:
            return ProviderName.LOCAL
        try:
            return ProviderName(from_env)
        except ValueError:
            raise ConfigurationError(
                f"{PROVIDER_ENV}={from_env[:30]!r} is not a provider; use local or kubernetes"
            ) from None

    def check_kubernetes_names(self) -> None:
        """``--namespace`` and ``--prefix`` as typed are usage errors (exit 2), not faults."""
        from ..kubernetes.model.naming import check_namespace, check_prefix
        from .inputs import UsageError

        problem: str | None = None
        try:
            if self.namespace is not None:
                check_namespace(self.namespace, "--namespace")
            if self.prefix is not None:
                check_prefix(self.prefix)
        except ConfigurationError as exc:
            problem = exc.message
        if problem is not None:
            raise UsageError(problem)

    def journal(self) -> GrantJournal:
        """Where rotations keep issued tokens until they are stored: the data directory
        (``--data-dir``, else ``NEBULA_CREDENTIAL_HOME``, else the user's own)."""
        from ..local import FileJournal, default_data_dir

        return FileJournal(self.data_dir or default_data_dir())

    def build(self, *, one_shot: bool = False) -> CredentialProvider:
        """The provider; ``one_shot`` for a few calls through the sync facade: on
        Kubernetes the blocking transport then serves them without an event loop,
        unless ``NEBULA_CREDENTIAL_TRANSPORT`` chose another."""
        name = self.resolved_name()
        if name is ProviderName.LOCAL:
            from ..local import LocalStorageProvider

            return LocalStorageProvider(self.data_dir)
        from ..kubernetes import KubernetesSecretsProvider

        self.check_kubernetes_names()
        kwargs: dict[str, object] = {
            "namespace": self.namespace,
            "context": self.context,
            "kubeconfig": self.kubeconfig,
        }
        if self.prefix is not None:
            kwargs["prefix"] = self.prefix
        if one_shot:
            from ..kubernetes.api.clients import transport_name

            # The variable's choice (checked, named in its error), else blocking.
            chosen = os.environ.get(TRANSPORT_ENV, "").strip()
            kwargs["transport"] = transport_name(None) if chosen else "blocking"
        return KubernetesSecretsProvider(**kwargs)  # type: ignore[arg-type]
