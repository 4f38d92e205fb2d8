"""Where the cluster is and which namespace to use, inferred like ``kubectl`` (no network).

Order, as kubectl has it: an explicit ``kubeconfig``/``context`` or a ``KUBECONFIG``
variable wins; otherwise the in-cluster ServiceAccount (token re-read when rotated, CA
from the mount); otherwise ``~/.kube/config``. ``KUBECONFIG`` is a path list, merged like
kubectl. The namespace comes from the argument, then ``KUBERNETES_NAMESPACE``, then the
chosen context -- or, for the in-cluster ServiceAccount only, its namespace file -- then
``default``: a pod pointed at another cluster never writes into its own namespace name
there. Every failure names the missing piece.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from ...domain import ConfigurationError
from ...http.urls import shown_url
from ..model.naming import check_namespace
from .kubeconfig import (
    KubeCluster,
    Kubeconfig,
    KubeContext,
    KubeUser,
    parse_kubeconfig,
)

shown_server = shown_url  # the name every caller uses

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NAMESPACE_ENV: Final = "KUBERNETES_NAMESPACE"
DEFAULT_KUBECONFIG: Final = "~/.kube/config"
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ClusterConfig(msgspec.Struct, frozen=True):
    """A resolved target: the chosen context's cluster and user (never shown), namespace."""

    cluster: KubeCluster
    user: KubeUser
    namespace: str
    context: str | None
    source: str

    def __repr__(self) -> str:
        return (
            f"ClusterConfig(server={shown_server(self.cluster.server or '')!r}, "
            f"context={self.context!r}, namespace={self.namespace!r}, source={self.source!r})"
        )


def resolve_namespace(
    explicit: str | None,
    context_namespace: str | None,
    *,
    environ: Mapping[str, str],
    service_account_dir: Path | None,
) -> str:
    """The argument, ``KUBERNETES_NAMESPACE``, the context's namespace, then ``default``.

    ``service_account_dir`` is given for the in-cluster ServiceAccount only: its
    namespace file then stands where a kubeconfig context's namespace would.
    """
    if explicit:
        return check_namespace(explicit, "the namespace argument")
    if environ.get(NAMESPACE_ENV):
        return check_namespace(environ[NAMESPACE_ENV], NAMESPACE_ENV)
    ns_file = None if service_account_dir is None else service_account_dir / "namespace"
    if ns_file is not None and ns_file.is_file():
        return check_namespace(ns_file.read_text().strip(), str(ns_file))
    if context_namespace:
        return check_namespace(context_namespace, "the kubeconfig context")
    return "default"


def load_cluster_config(
    *,
    namespace: str | None = None,
    context: str | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> ClusterConfig:
    """Resolve the cluster, credentials and namespace; reads files only."""
    env = os.environ if environ is None else environ
    chosen = kubeconfig is not None or context is not None or bool(env.get("KUBECONFIG"))
    if not chosen and _in_cluster(env, service_account_dir):
        host, port = env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]
        host = f"[{host}]" if ":" in host else host
        cluster = KubeCluster(
            server=f"https://{host}:{port}",
            certificate_authority=str(service_account_dir / "ca.crt"),
        )
        user = KubeUser(token_file=str(service_account_dir / "token"))
        ns = resolve_namespace(
            namespace, None, environ=env, service_account_dir=service_account_dir
        )
        return ClusterConfig(cluster, user, ns, None, "in-cluster ServiceAccount")
    paths = _kubeconfig_paths(kubeconfig, env)
    merged = _merge([parse_kubeconfig(_read(path), path) for path in paths])
    shown = os.pathsep.join(str(p) for p in paths)
    name, chosen_context, cluster, user = _select(merged, context, shown)
    ns = resolve_namespace(
        namespace, chosen_context.namespace, environ=env, service_account_dir=None
    )
    return ClusterConfig(cluster, user, ns, name, f"kubeconfig {shown}")


def _in_cluster(env: Mapping[str, str], service_account_dir: Path) -> bool:
    return bool(
        env.get("KUBERNETES_SERVICE_HOST")
        and env.get("KUBERNETES_SERVICE_PORT")
        and (service_account_dir / "token").is_file()
    )


def _kubeconfig_paths(
    explicit: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> list[Path]:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"kubeconfig {path} does not exist or is not a file")
        return [path]
    listed = [Path(p).expanduser() for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        found = [p for p in listed if p.is_file()]  # kubectl skips missing entries too
        if not found:
            raise ConfigurationError(
                f"none of the files in KUBECONFIG exists ({env['KUBECONFIG']}); fix KUBECONFIG"
            )
        return found
    default = Path(DEFAULT_KUBECONFIG).expanduser()
    if default.is_file():
        return [default]
    raise ConfigurationError(
        "no Kubernetes configuration found: not running in a pod with a ServiceAccount, "
        f"KUBECONFIG is unset and {default} does not exist; pass kubeconfig=... (CLI: "
        "--kubeconfig) or set KUBECONFIG"
    )


def _read(path: Path) -> dict[str, Any]:
    # Raised after the handler: a YAML or UTF-8 error holds the file, tokens included.
    failure: str | None = None
    try:
        # libyaml's parser where PyYAML was built with it: a few ms less per command.
        loaded = yaml.load(path.read_text(), Loader=_LOADER)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        failure = type(exc).__name__
    if failure is not None:
        raise ConfigurationError(f"kubeconfig {path} cannot be read as YAML ({failure})")
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"kubeconfig {path} is not a YAML mapping")
    return loaded


def _merge(files: Sequence[Kubeconfig]) -> Kubeconfig:
    """kubectl's merge: the first file defining a name wins, as does the first context."""
    clusters: dict[str, KubeCluster] = {}
    users: dict[str, KubeUser] = {}
    contexts: dict[str, KubeContext] = {}
    for conf in files:
        for name, cluster in conf.clusters.items():
            clusters.setdefault(name, cluster)
        for name, user in conf.users.items():
            users.setdefault(name, user)
        for name, context in conf.contexts.items():
            contexts.setdefault(name, context)
    current = next((c.current_context for c in files if c.current_context), None)
    return Kubeconfig(clusters, users, contexts, current)


def _select(
    merged: Kubeconfig, context: str | None, shown: str
) -> tuple[str, KubeContext, KubeCluster, KubeUser]:
    names = sorted(merged.contexts)
    choice = context or merged.current_context
    if not choice:
        raise ConfigurationError(
            f"kubeconfig {shown} sets no current-context; pass a context (one of: "
            f"{', '.join(names) or 'none defined'})"
        )
    ctx = merged.contexts.get(choice)
    if ctx is None:
        raise ConfigurationError(
            f"context {choice!r} is not in kubeconfig {shown}; available: "
            f"{', '.join(names) or 'none'}"
        )
    cluster = merged.clusters.get(ctx.cluster)
    if cluster is None:
        raise ConfigurationError(
            f"context {choice!r} refers to cluster {ctx.cluster!r}, which kubeconfig {shown} "
            "does not define"
        )
    # A context without a user talks to the server anonymously, as kubectl does.
    user = merged.users.get(ctx.user) if ctx.user else KubeUser()
    if user is None:
        raise ConfigurationError(
            f"context {choice!r} refers to user {ctx.user!r}, which kubeconfig {shown} "
            "does not define"
        )
    return choice, ctx, cluster, user
