"""``manifests controller``: ``nebula-credential controller`` in the cluster (its
ServiceAccount, a Role and RoleBinding per watched namespace, a Deployment and a
PodDisruptionBudget)."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import manifests as m
from ..manifests.controller import DEFAULT_HEALTH_PORT, DEFAULT_IMAGE, DEFAULT_ROTATE_WITHIN
from ..manifests.controller_access import DEFAULT_CONTROLLER
from .manifests_common import KubeVersionOpt, Namespace, _emit, _namespace, _target, manifests_app


@manifests_app.command("controller")
def controller_cmd(
    ctx: typer.Context,
    namespace: Namespace = None,
    watch_namespace: Annotated[
        list[str] | None,
        typer.Option(
            help="A namespace the controller watches, repeatable; the first holds the "
            "leader Lease [default: --namespace]"
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="Deployment name, app label and Role names")] = (
        DEFAULT_CONTROLLER
    ),
    image: Annotated[str, typer.Option()] = DEFAULT_IMAGE,
    service_account: Annotated[str | None, typer.Option(help="[default: --name]")] = None,
    replicas: Annotated[int, typer.Option(help="Replicas; one leads, the others stand by")] = 2,
    rotate_within: Annotated[
        str, typer.Option(help="Rotate oauth2 credentials this long before they expire")
    ] = DEFAULT_ROTATE_WITHIN,
    rotation: Annotated[
        bool,
        typer.Option(help="--no-rotation: never rotate (and no Secret writes or rotation leases)"),
    ] = True,
    lease_seconds: Annotated[
        int, typer.Option(help="Leader Lease duration; a standby takes over after it")
    ] = 15,
    health_port: Annotated[
        int, typer.Option(help="Port of /healthz, /readyz and /metrics (named metrics)")
    ] = DEFAULT_HEALTH_PORT,
    kube_version: KubeVersionOpt = None,
) -> None:
    """The controller's Deployment (2 replicas, one leader), PDB and least-privilege RBAC."""
    target = _target(ctx, kube_version)
    docs = m.controller_manifests(
        namespace=_namespace(ctx, namespace),
        watch_namespaces=watch_namespace or (),
        name=name,
        image=image,
        service_account=service_account,
        replicas=replicas,
        rotate_within=rotate_within if rotation else None,
        lease_seconds=lease_seconds,
        health_port=health_port,
        kube=target.version,
    )
    _emit(ctx, docs, target)
