"""``manifests KIND``: print Kubernetes YAML for credentials (no cluster needed).

The workload side lives here (namespace, RBAC, Deployment, rotation CronJob, PDB,
NetworkPolicy); the cluster and GitOps side in ``manifests_cluster_cmd``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .. import manifests as m
from . import (
    manifests_cluster_cmd,  # noqa: F401 - registers its commands on the group
    manifests_controller_cmd,  # noqa: F401 - registers its commands on the group
    manifests_kms_cmd,  # noqa: F401 - registers its commands on the group
)
from .manifests_common import (
    Credentials,
    KubeVersionOpt,
    Namespace,
    _emit,
    _namespace,
    _prefix,
    _target,
    manifests_app,
)


@manifests_app.command("namespace")
def namespace_cmd(
    ctx: typer.Context,
    namespace: Namespace = None,
    service_account: Annotated[str, typer.Option(help="ServiceAccount name")] = "nebula-app",
    kube_version: KubeVersionOpt = None,
) -> None:
    """Namespace and ServiceAccount."""
    target = _target(ctx, kube_version)
    docs = m.namespace(_namespace(ctx, namespace), service_account=service_account)
    _emit(ctx, docs, target)


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
    kube_version: KubeVersionOpt = None,
) -> None:
    """Least-privilege Roles and RoleBindings for named credentials."""
    target = _target(ctx, kube_version)
    docs = m.rbac(
        credential or [],
        namespace=_namespace(ctx, namespace),
        service_account=service_account,
        service_account_namespace=service_account_namespace,
        writer=writer,
        list_watch=list_watch,
        prefix=_prefix(ctx),
    )
    _emit(ctx, docs, target)


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
    mount_key: Annotated[
        list[str] | None,
        typer.Option(
            help="Secret key to mount, repeatable (a Secret another tool wrote: its field "
            "keys) [default: credential.json]"
        ),
    ] = None,
    replicas: Annotated[int, typer.Option()] = 3,
    kube_version: KubeVersionOpt = None,
) -> None:
    """Deployment mounting a credential's keys read-only (0400), optional secretKeyRef env vars."""
    target = _target(ctx, kube_version)
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
        mount_keys=mount_key or [m.CREDENTIAL_KEY],
    )
    _emit(ctx, [doc], target)


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
    kube_version: KubeVersionOpt = None,
) -> None:
    """CronJob running `nebula-credential rotate --due`, with the Role it needs.

    A failed run restarts in the same pod and stores the tokens it kept in its journal
    (an emptyDir at NEBULA_CREDENTIAL_HOME)."""
    target = _target(ctx, kube_version)
    ns = _namespace(ctx, namespace)
    doc = m.rotation_cronjob(
        namespace=ns,
        name=name,
        image=image,
        schedule=schedule,
        service_account=service_account,
        kube=target.version,
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
    _emit(ctx, docs, target)


@manifests_app.command("pdb")
def pdb_cmd(
    ctx: typer.Context,
    namespace: Namespace = None,
    app: Annotated[str, typer.Option(help="app label of the pods")] = "nebula-app",
    min_available: Annotated[int, typer.Option()] = 2,
    kube_version: KubeVersionOpt = None,
) -> None:
    """PodDisruptionBudget for the application."""
    target = _target(ctx, kube_version)
    doc = m.pdb(
        namespace=_namespace(ctx, namespace),
        app=app,
        min_available=min_available,
        kube=target.version,
    )
    _emit(ctx, [doc], target)


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
    kube_version: KubeVersionOpt = None,
) -> None:
    """NetworkPolicy: egress to DNS and the API server only."""
    target = _target(ctx, kube_version)
    doc = m.network_policy(
        namespace=_namespace(ctx, namespace),
        app=app,
        api_server_cidr=api_server_cidr,
        api_server_port=api_server_port,
        metrics_port=metrics_port,
    )
    _emit(ctx, [doc], target)


def register(app: typer.Typer) -> None:
    """Add the ``manifests`` group to the ``nebula-credential`` app."""
    app.add_typer(manifests_app)
