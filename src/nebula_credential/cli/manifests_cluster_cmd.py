"""``manifests`` for the cluster and GitOps side: SecretStore, ExternalSecret, the API
server's EncryptionConfiguration and audit Policy."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import manifests as m
from .inputs import UsageError
from .manifests_common import (
    EsoVersion,
    KubeVersionOpt,
    Namespace,
    _emit,
    _namespace,
    _prefix,
    _target,
    manifests_app,
)


@manifests_app.command("secret-store")
def secret_store_cmd(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="aws, azure or vault")],
    namespace: Namespace = None,
    name: Annotated[str | None, typer.Option(help="SecretStore name")] = None,
    region: Annotated[str, typer.Option(help="AWS region")] = "us-east-1",
    vault_url: Annotated[str | None, typer.Option(help="Azure Key Vault URL")] = None,
    vault_server: Annotated[str | None, typer.Option(help="HashiCorp Vault address")] = None,
    vault_path: Annotated[str, typer.Option(help="Vault KV v2 mount")] = "secret",
    vault_role: Annotated[str | None, typer.Option(help="Vault Kubernetes auth role")] = None,
    service_account: Annotated[
        str, typer.Option(help="ServiceAccount the store authenticates as")
    ] = "external-secrets-sa",
    eso_api_version: EsoVersion = "v1",
    kube_version: KubeVersionOpt = None,
) -> None:
    """External Secrets Operator SecretStore (AWS Secrets Manager, Azure Key Vault, Vault)."""
    target = _target(ctx, kube_version)
    doc = m.secret_store(
        provider,
        namespace=_namespace(ctx, namespace),
        name=name,
        region=region,
        vault_url=vault_url,
        vault_server=vault_server,
        vault_path=vault_path,
        vault_role=vault_role,
        service_account=service_account,
        api_version=eso_api_version,
    )
    _emit(ctx, [doc], target)


def _remote_ref(item: str) -> m.RemoteRef:
    key, sep, remote = item.partition("=")
    if not sep or not key or not remote:
        raise UsageError(f"--data {item[:60]!r} must look like SECRET_KEY=REMOTE_KEY[#PROPERTY]")
    remote_key, hashed, prop = remote.partition("#")
    return m.RemoteRef(key, remote_key, prop if hashed else None)


@manifests_app.command("external-secret")
def external_secret_cmd(
    ctx: typer.Context,
    credential: Annotated[str, typer.Option("--credential", "-c", help="Credential id")],
    store: Annotated[str, typer.Option(help="SecretStore name")],
    namespace: Namespace = None,
    name: Annotated[str | None, typer.Option(help="ExternalSecret name")] = None,
    store_kind: Annotated[str, typer.Option(help="SecretStore or ClusterSecretStore")] = (
        "SecretStore"
    ),
    refresh_interval: Annotated[str, typer.Option(help="e.g. 1h, 30m")] = "1h",
    creation_policy: Annotated[str, typer.Option(help="Owner, Orphan, Merge or None")] = "Owner",
    data: Annotated[
        list[str] | None, typer.Option(help="SECRET_KEY=REMOTE_KEY[#PROPERTY], repeatable")
    ] = None,
    data_from: Annotated[
        list[str] | None, typer.Option(help="Remote key whose properties all sync, repeatable")
    ] = None,
    kind: Annotated[
        str, typer.Option(help="Kind of the credential ESO writes; --data keys are its fields")
    ] = "generic",
    eso_api_version: EsoVersion = "v1",
    kube_version: KubeVersionOpt = None,
) -> None:
    """External Secrets Operator ExternalSecret targeting the credential's Secret."""
    target = _target(ctx, kube_version)
    doc = m.external_secret(
        credential,
        store=store,
        namespace=_namespace(ctx, namespace),
        name=name,
        store_kind=store_kind,
        refresh_interval=refresh_interval,
        creation_policy=creation_policy,
        data=[_remote_ref(d) for d in data or []],
        data_from=data_from or [],
        prefix=_prefix(ctx),
        api_version=eso_api_version,
        kind=kind,
    )
    _emit(ctx, [doc], target)


@manifests_app.command("encryption-config")
def encryption_config_cmd(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="aescbc, aesgcm, secretbox or kms")] = "aescbc",
    provider_option: Annotated[
        str | None, typer.Option("--provider", help="The provider, as an option")
    ] = None,
    key_name: Annotated[str, typer.Option()] = "key1",
    key_size: Annotated[int, typer.Option(help="Key bytes: 16, 24 or 32 (secretbox: 32)")] = 32,
    kms_name: Annotated[
        str, typer.Option(help="KMS provider name (Secrets stored as k8s:enc:kms:v1:NAME:)")
    ] = "nebula-kms",
    kms_endpoint: Annotated[
        str, typer.Option(help="unix:///PATH of the plugin's socket")
    ] = "unix:///var/run/kmsplugin/socket.sock",
    kms_cachesize: Annotated[int, typer.Option(help="KMS v1: DEKs cached in memory")] = 1000,
    kms_timeout: Annotated[str, typer.Option(help="How long a plugin call may take")] = "3s",
    identity_fallback: Annotated[
        bool | None,
        typer.Option(
            help="Also read Secrets stored in plaintext (identity last) [default: on for "
            "keys, off for kms]"
        ),
    ] = None,
    kube_version: KubeVersionOpt = None,
) -> None:
    """API server EncryptionConfiguration for Secrets (prints a freshly generated key).

    kms: KMS v1 up to Kubernetes 1.28, v2 from 1.29 (--kube-version)."""
    target = _target(ctx, kube_version)
    doc = m.encryption_config(
        provider_option or provider,
        key_name=key_name,
        key_size=key_size,
        kms_name=kms_name,
        kms_endpoint=kms_endpoint,
        kms_cachesize=kms_cachesize,
        kms_timeout=kms_timeout,
        identity_fallback=identity_fallback,
        kube=target.version,
    )
    _emit(ctx, [doc], target)


@manifests_app.command("audit-policy")
def audit_policy_cmd(
    ctx: typer.Context,
    others: Annotated[str, typer.Option(help="Level for everything else: None or Metadata")] = (
        "None"
    ),
    kube_version: KubeVersionOpt = None,
) -> None:
    """Audit Policy logging Secret access at Metadata level (never payloads)."""
    target = _target(ctx, kube_version)
    _emit(ctx, [m.audit_policy(others)], target)
