"""``manifests KIND``: print Kubernetes YAML for credentials (no cluster needed)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .. import manifests as m
from ..manifests.access import DEFAULT_NAMESPACE
from .inputs import UsageError
from .lazy import TYPER_SETTINGS
from .output import OutputFormat

manifests_app = typer.Typer(
    name="manifests",
    help="Print Kubernetes manifests (YAML for kubectl apply) for credentials.",
    no_args_is_help=True,
    **TYPER_SETTINGS,
)

Namespace = Annotated[
    str | None, typer.Option("--namespace", "-n", help="Target namespace [default: nebula-prod]")
]
KubeVersionOpt = Annotated[
    str, typer.Option("--kube-version", help="Kubernetes version to target (API versions)")
]
EsoVersion = Annotated[
    str, typer.Option("--eso-api-version", help="v1 (ESO 0.17+) or v1beta1 for old controllers")
]
Credentials = Annotated[
    list[str] | None, typer.Option("--credential", "-c", help="Credential id, repeatable")
]


def _root(ctx: typer.Context, name: str) -> Any:
    state = ctx.find_root().obj
    options = getattr(state, "options", None)
    return getattr(options, name, None) if name != "output" else getattr(state, name, None)


def _namespace(ctx: typer.Context, namespace: str | None) -> str:
    return namespace or _root(ctx, "namespace") or DEFAULT_NAMESPACE


def _prefix(ctx: typer.Context) -> str:
    return _root(ctx, "prefix") or m.DEFAULT_PREFIX


def _emit(ctx: typer.Context, manifests: list[dict[str, Any]], kube: str) -> None:
    m.kube_version(kube)  # a bad --kube-version is an error on every command
    if _root(ctx, "output") is OutputFormat.JSON:
        from ..domain.wire import format_json

        sys.stdout.write(format_json(manifests, indent=2) + "\n")
        return
    sys.stdout.write(m.render_yaml(manifests))


@manifests_app.command("namespace")
def namespace_cmd(
    ctx: typer.Context,
    namespace: Namespace = None,
    service_account: Annotated[str, typer.Option(help="ServiceAccount name")] = "nebula-app",
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """Namespace and ServiceAccount."""
    docs = m.namespace(_namespace(ctx, namespace), service_account=service_account)
    _emit(ctx, docs, kube_version)


@manifests_app.command("rbac")
def rbac_cmd(
    ctx: typer.Context,
    credential: Credentials = None,
    namespace: Namespace = None,
    service_account: Annotated[str, typer.Option(help="ServiceAccount to bind")] = "nebula-app",
    service_account_namespace: Annotated[
        str | None, typer.Option(help="Its namespace [default: --namespace]")
    ] = None,
    writer: Annotated[
        bool,
        typer.Option(help="update/patch/delete + create, and the rotation Leases; not get only"),
    ] = False,
    list_watch: Annotated[
        bool, typer.Option(help="Also list/watch (exposes every Secret in the namespace)")
    ] = False,
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """Least-privilege Roles and RoleBindings for named credentials."""
    docs = m.rbac(
        credential or [],
        namespace=_namespace(ctx, namespace),
        service_account=service_account,
        service_account_namespace=service_account_namespace,
        writer=writer,
        list_watch=list_watch,
        prefix=_prefix(ctx),
    )
    _emit(ctx, docs, kube_version)


@manifests_app.command("deployment")
def deployment_cmd(
    ctx: typer.Context,
    credential: Annotated[str, typer.Option("--credential", "-c", help="Credential id to mount")],
    namespace: Namespace = None,
    name: Annotated[str, typer.Option(help="Deployment name and app label")] = "nebula-app",
    image: Annotated[str, typer.Option()] = "nebula-app:latest",
    service_account: Annotated[str, typer.Option()] = "nebula-app",
    env_key: Annotated[
        list[str] | None, typer.Option(help="Also expose this Secret key as an env var")
    ] = None,
    mount_path: Annotated[str, typer.Option()] = "/etc/nebula/credentials",
    replicas: Annotated[int, typer.Option()] = 3,
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """Deployment mounting a credential read-only (0400), optional secretKeyRef env vars."""
    doc = m.deployment(
        credential,
        namespace=_namespace(ctx, namespace),
        name=name,
        image=image,
        service_account=service_account,
        env_keys=env_key or [],
        mount_path=mount_path,
        replicas=replicas,
        prefix=_prefix(ctx),
    )
    _emit(ctx, [doc], kube_version)


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
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """External Secrets Operator SecretStore (AWS Secrets Manager, Azure Key Vault, Vault)."""
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
    _emit(ctx, [doc], kube_version)


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
    eso_api_version: EsoVersion = "v1",
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """External Secrets Operator ExternalSecret targeting the credential's Secret."""
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
    )
    _emit(ctx, [doc], kube_version)


@manifests_app.command("encryption-config")
def encryption_config_cmd(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="aescbc, aesgcm, secretbox or kms")] = "aescbc",
    key_name: Annotated[str, typer.Option()] = "key1",
    key_size: Annotated[int, typer.Option(help="Key bytes: 16, 24 or 32 (secretbox: 32)")] = 32,
    kms_name: Annotated[str, typer.Option()] = "nebula-kms",
    kms_endpoint: Annotated[str, typer.Option()] = "unix:///var/run/kmsplugin/socket.sock",
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """API server EncryptionConfiguration for Secrets (prints a freshly generated key)."""
    doc = m.encryption_config(
        provider,
        key_name=key_name,
        key_size=key_size,
        kms_name=kms_name,
        kms_endpoint=kms_endpoint,
        kube=kube_version,
    )
    _emit(ctx, [doc], kube_version)


@manifests_app.command("audit-policy")
def audit_policy_cmd(
    ctx: typer.Context,
    others: Annotated[str, typer.Option(help="Level for everything else: None or Metadata")] = (
        "None"
    ),
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """Audit Policy logging Secret access at Metadata level (never payloads)."""
    _emit(ctx, [m.audit_policy(others)], kube_version)


@manifests_app.command("rotation-cronjob")
def rotation_cronjob_cmd(
    ctx: typer.Context,
    namespace: Namespace = None,
    name: Annotated[str, typer.Option()] = "nebula-credential-rotate",
    image: Annotated[str, typer.Option()] = "nebula-credential:latest",
    schedule: Annotated[str, typer.Option(help="Cron schedule")] = "*/15 * * * *",
    service_account: Annotated[str, typer.Option()] = "nebula-rotator",
    within: Annotated[str, typer.Option(help="Rotate what expires within (> interval)")] = "30m",
    timeout: Annotated[int, typer.Option(help="rotate --timeout, in seconds")] = 30,
    write_deadline: Annotated[
        str, typer.Option(help="rotate --write-deadline: how long issued tokens are retried")
    ] = "330s",
    active_deadline: Annotated[
        str | None,
        typer.Option(
            help="Job activeDeadlineSeconds, e.g. 30m; must exceed timeout + write deadline "
            "+ 60s [default: room for one restart that stores kept tokens]"
        ),
    ] = None,
    rbac: Annotated[
        bool, typer.Option(help="Also print the ServiceAccount, Role and RoleBinding it needs")
    ] = True,
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """CronJob running `nebula-credential rotate --due`, with the Role it needs.

    A failed run restarts in the same pod and stores the tokens it kept in its journal
    (an emptyDir at NEBULA_CREDENTIAL_HOME)."""
    ns = _namespace(ctx, namespace)
    doc = m.rotation_cronjob(
        namespace=ns,
        name=name,
        image=image,
        schedule=schedule,
        service_account=service_account,
        kube=kube_version,
        within=within,
        timeout=timeout,
        write_deadline=write_deadline,
        active_deadline=active_deadline,
    )
    docs = [doc]
    if rbac:
        docs[:0] = [
            m.service_account(service_account, namespace=ns),
            *m.rotation_rbac(namespace=ns, service_account=service_account),
        ]
    _emit(ctx, docs, kube_version)


@manifests_app.command("pdb")
def pdb_cmd(
    ctx: typer.Context,
    namespace: Namespace = None,
    app: Annotated[str, typer.Option(help="app label of the pods")] = "nebula-app",
    min_available: Annotated[int, typer.Option()] = 2,
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """PodDisruptionBudget for the application."""
    doc = m.pdb(
        namespace=_namespace(ctx, namespace),
        app=app,
        min_available=min_available,
        kube=kube_version,
    )
    _emit(ctx, [doc], kube_version)


@manifests_app.command("network-policy")
def network_policy_cmd(
    ctx: typer.Context,
    namespace: Namespace = None,
    app: Annotated[str, typer.Option(help="app label of the pods")] = "nebula-app",
    api_server_cidr: Annotated[str, typer.Option(help="API server address block")] = (
        "10.0.0.1/32"
    ),
    api_server_port: Annotated[int, typer.Option()] = 443,
    metrics_port: Annotated[int | None, typer.Option(help="Allow ingress to this port")] = None,
    kube_version: KubeVersionOpt = m.DEFAULT_KUBE_VERSION,
) -> None:
    """NetworkPolicy: egress to DNS and the API server only."""
    doc = m.network_policy(
        namespace=_namespace(ctx, namespace),
        app=app,
        api_server_cidr=api_server_cidr,
        api_server_port=api_server_port,
        metrics_port=metrics_port,
    )
    _emit(ctx, [doc], kube_version)


def register(app: typer.Typer) -> None:
    """Add the ``manifests`` group to the ``nebula-credential`` app."""
    app.add_typer(manifests_app)
