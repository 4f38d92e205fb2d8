"""External Secrets Operator: SecretStore (AWS, Azure, Vault) and ExternalSecret.

``external-secrets.io/v1`` is the default; ESO 0.17 and later no longer serve
``v1beta1``, which stays available for older controllers on request.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Final, NamedTuple

from ..domain import CredentialId, CredentialKind
from ..kubernetes.model.naming import check_prefix, secret_name
from ._checks import ManifestError, dns_label, dns_subdomain, duration, non_empty, secret_key
from .access import DEFAULT_NAMESPACE, DEFAULT_PREFIX, Manifest
from .eso_template import credential_template

ESO_GROUP: Final = "external-secrets.io"
ESO_API_VERSIONS: Final = ("v1", "v1beta1")
CREATION_POLICIES: Final = ("Owner", "Orphan", "Merge", "None")
STORE_KINDS: Final = ("SecretStore", "ClusterSecretStore")


class StoreProvider(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    VAULT = "vault"


class RemoteRef(NamedTuple):
    """One ``data`` entry: Secret key ``secret_key`` from ``key`` (and ``property``)."""

    secret_key: str
    key: str
    property: str | None = None


def _api(version: str) -> str:
    if version not in ESO_API_VERSIONS:
        raise ManifestError(
            f"ESO API version {version[:20]!r} is not supported: use v1 (ESO 0.17+) or v1beta1"
        )
    return f"{ESO_GROUP}/{version}"


def _sa_ref(name: str) -> dict[str, str]:
    return {"name": dns_subdomain(name, "service account")}


def _provider(
    provider: StoreProvider,
    *,
    region: str,
    vault_url: str | None,
    vault_server: str | None,
    vault_path: str,
    vault_role: str | None,
    service_account: str,
) -> dict[str, Any]:
    if provider is StoreProvider.AWS:
        return {
            "aws": {
                "service": "SecretsManager",
                "region": non_empty(region, "region"),
                "auth": {"jwt": {"serviceAccountRef": _sa_ref(service_account)}},
            }
        }
    if provider is StoreProvider.AZURE:
        if not vault_url or not vault_url.startswith("https://"):
            raise ManifestError("an Azure store needs --vault-url https://NAME.vault.azure.net")
        return {
            "azurekv": {
                "vaultUrl": non_empty(vault_url, "vault URL"),
                "authType": "WorkloadIdentity",
                "serviceAccountRef": _sa_ref(service_account),
            }
        }
    if not vault_server or not vault_server.startswith(("https://", "http://")):
        raise ManifestError("a Vault store needs --vault-server https://vault.example:8200")
    return {
        "vault": {
            "server": non_empty(vault_server, "Vault server"),
            "path": non_empty(vault_path, "Vault path"),
            "version": "v2",
            "auth": {
                "kubernetes": {
                    "mountPath": "kubernetes",
                    "role": non_empty(vault_role or "nebula-credential", "Vault role"),
                    "serviceAccountRef": _sa_ref(service_account),
                }
            },
        }
    }


def secret_store(
    provider: StoreProvider | str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    name: str | None = None,
    region: str = "us-east-1",
    vault_url: str | None = None,
    vault_server: str | None = None,
    vault_path: str = "secret",
    vault_role: str | None = None,
    service_account: str = "external-secrets-sa",
    api_version: str = "v1",
) -> Manifest:
    """A namespaced SecretStore for AWS Secrets Manager, Azure Key Vault or Vault (KV v2).

    Every store authenticates as ``service_account`` (IRSA, workload identity or Vault's
    Kubernetes auth); no static cloud keys end up in a manifest.
    """
    try:
        chosen = StoreProvider(provider)
    except ValueError:
        raise ManifestError(
            f"store provider {str(provider)[:20]!r} is not one of: aws, azure, vault"
        ) from None
    dns_label(namespace, "namespace")
    default_names = {
        StoreProvider.AWS: "aws-secrets-manager",
        StoreProvider.AZURE: "azure-key-vault",
        StoreProvider.VAULT: "vault",
    }
    store_name = dns_subdomain(name or default_names[chosen], "store name")
    spec = _provider(
        chosen,
        region=region,
        vault_url=vault_url,
        vault_server=vault_server,
        vault_path=vault_path,
        vault_role=vault_role,
        service_account=service_account,
    )
    return {
        "apiVersion": _api(api_version),
        "kind": "SecretStore",
        "metadata": {"name": store_name, "namespace": namespace},
        "spec": {"provider": spec},
    }


def external_secret(
    credential_id: str,
    *,
    store: str,
    namespace: str = DEFAULT_NAMESPACE,
    name: str | None = None,
    store_kind: str = "SecretStore",
    refresh_interval: str = "1h",
    creation_policy: str = "Owner",
    data: Sequence[RemoteRef] = (),
    data_from: Sequence[str] = (),
    prefix: str = DEFAULT_PREFIX,
    api_version: str = "v1",
    kind: CredentialKind | str = CredentialKind.GENERIC,
) -> Manifest:
    """An ExternalSecret syncing remote values into the Secret the provider reads.

    The target is named like the provider's own Secret for ``credential_id``, and its
    template (see ``eso_template``) makes ESO write that Secret as the provider does: our
    labels and annotations and a ``credential.json`` of ``kind`` built from the remote
    values, so ``get`` reads it and ``list`` finds it. ``data`` picks single values (their
    secret keys are the field names); ``data_from`` extracts every property of a remote
    JSON secret.
    """
    dns_label(namespace, "namespace")
    target = secret_name(check_prefix(prefix), str(CredentialId(credential_id)))
    es_name = dns_subdomain(name or target, "external secret name")
    dns_subdomain(store, "store name")
    if store_kind not in STORE_KINDS:
        raise ManifestError(
            f"store kind {store_kind[:40]!r} must be SecretStore or ClusterSecretStore"
        )
    if creation_policy not in CREATION_POLICIES:
        raise ManifestError(
            f"creation policy {creation_policy[:40]!r} must be one of: "
            + ", ".join(CREATION_POLICIES)
        )
    if not data and not data_from:
        raise ManifestError(
            "an ExternalSecret needs --data KEY=REMOTE[#PROPERTY] or --data-from REMOTE"
        )
    keys = [secret_key(ref.secret_key, "secret key") for ref in data]
    template = credential_template(
        credential_id, kind, prefix=prefix, keys=keys, every_value=bool(data_from)
    )
    spec: dict[str, Any] = {
        "refreshInterval": duration(refresh_interval, "refresh interval"),
        "secretStoreRef": {"name": store, "kind": store_kind},
        "target": {"name": target, "creationPolicy": creation_policy, "template": template},
    }
    if data:
        entries = []
        for ref in data:
            remote: dict[str, str] = {"key": non_empty(ref.key, "remote key")}
            if ref.property is not None:
                remote["property"] = non_empty(ref.property, "remote property")
            entries.append(
                {"secretKey": secret_key(ref.secret_key, "secret key"), "remoteRef": remote}
            )
        spec["data"] = entries
    if data_from:
        spec["dataFrom"] = [{"extract": {"key": non_empty(k, "remote key")}} for k in data_from]
    return {
        "apiVersion": _api(api_version),
        "kind": "ExternalSecret",
        "metadata": {"name": es_name, "namespace": namespace},
        "spec": spec,
    }
