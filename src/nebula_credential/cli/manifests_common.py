"""What every ``manifests`` command shares: the group, its options, and printing."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .. import manifests as m
from ..manifests.access import DEFAULT_NAMESPACE
from .lazy import TYPER_SETTINGS
from .manifests_target import Target, resolve
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
    str | None,
    typer.Option(
        "--kube-version",
        help="Kubernetes version to target (API versions) [default: the cluster's version "
        f"when one answers, else {m.DEFAULT_KUBE_VERSION}]",
    ),
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


def _target(ctx: typer.Context, kube: str | None) -> Target:
    """The version to generate for: ``--kube-version``, else the cluster's, else newest."""
    return resolve(kube, context=_root(ctx, "context"), kubeconfig=_root(ctx, "kubeconfig"))


def _emit(ctx: typer.Context, manifests: list[dict[str, Any]], target: Target) -> None:
    """Print ``manifests``; YAML starts with a comment saying which Kubernetes version
    they were made for and why, JSON (which has no comments) says it on stderr."""
    if _root(ctx, "output") is OutputFormat.JSON:
        from ..domain.wire import format_json

        sys.stderr.write(f"note: {target.note()}\n")
        sys.stdout.write(format_json(manifests, indent=2) + "\n")
        return
    sys.stdout.write(f"# {target.note()}\n{m.render_yaml(manifests)}")
