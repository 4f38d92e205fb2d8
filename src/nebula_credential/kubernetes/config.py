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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec
import yaml
from lightkube import KubeConfig, SingleConfig
from lightkube.config.models import Cluster, User

from ..domain import ConfigurationError
from .naming import check_namespace

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NAMESPACE_ENV: Final = "KUBERNETES_NAMESPACE"
DEFAULT_KUBECONFIG: Final = "~/.kube/config"
_PATH_KEYS: Final = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}


@dataclass(frozen=True, slots=True, repr=False)
class ClusterConfig:
    """A resolved target. ``config`` holds credentials and is never shown."""

    config: SingleConfig = field(repr=False)
    namespace: str
    context: str | None
    source: str
    # The kubeconfig's own cluster and user entries: lightkube's models drop keys they do
    # not know (proxy-url, tls-server-name, an exec plugin's provideClusterInfo, ...).
    cluster_entry: Mapping[str, Any] = field(default_factory=dict, repr=False)
    user_entry: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"ClusterConfig(server={shown_server(self.config.cluster.server)!r}, "
            f"context={self.context!r}, namespace={self.namespace!r}, source={self.source!r})"
        )


def shown_server(server: object) -> str:
    """The server URL without the user and password it may embed (``https://u:p@host``)."""
    text = str(server)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "<unparsable server URL>"
    if "@" not in parts.netloc or host is None:
        return text
    host = f"[{host}]" if ":" in host else host
    return parts._replace(netloc=host if port is None else f"{host}:{port}").geturl()


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
        cluster = {
            "server": f"https://{host}:{port}",
            "certificate-authority": str(service_account_dir / "ca.crt"),
        }
        user = {"tokenFile": str(service_account_dir / "token")}
        single = KubeConfig.from_one(
            cluster=Cluster(
                server=cluster["server"], certificate_auth=cluster["certificate-authority"]
            ),
            user=User(token_file=user["tokenFile"]),
        ).get()
        assert single is not None
        ns = resolve_namespace(
            namespace, None, environ=env, service_account_dir=service_account_dir
        )
        return ClusterConfig(single, ns, None, "in-cluster ServiceAccount", cluster, user)
    paths = _kubeconfig_paths(kubeconfig, env)
    merged = _merge([(path, _read(path)) for path in paths])
    shown = os.pathsep.join(str(p) for p in paths)
    single = _select(merged, context, shown)
    ns = resolve_namespace(
        namespace, single.context.namespace, environ=env, service_account_dir=None
    )
    return ClusterConfig(
        single,
        ns,
        single.context_name,
        f"kubeconfig {shown}",
        _entry(merged, "clusters", single.context.cluster),
        _entry(merged, "users", single.context.user),
    )


def _entry(merged: dict[str, Any], section: str, name: str | None) -> dict[str, Any]:
    """The body of the first entry called ``name`` in ``section`` (kubectl's merge)."""
    for entry in merged[section]:
        if entry.get("name") == name and isinstance(entry.get(section[:-1]), dict):
            body: dict[str, Any] = entry[section[:-1]]
            return body
    return {}


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
        loaded = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        failure = type(exc).__name__
    if failure is not None:
        raise ConfigurationError(f"kubeconfig {path} cannot be read as YAML ({failure})")
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"kubeconfig {path} is not a YAML mapping")
    for section, keys in _PATH_KEYS.items():
        for entry in loaded.get(section) or []:
            body = entry.get(section[:-1]) if isinstance(entry, dict) else None
            if not isinstance(body, dict):
                continue
            for key in keys:
                value = body.get(key)
                if isinstance(value, str) and value and not Path(value).is_absolute():
                    body[key] = str(path.parent / value)  # relative to its own file
            plugin = body.get("exec") if section == "users" else None
            command = plugin.get("command") if isinstance(plugin, dict) else None
            # kubectl resolves a plugin command with a path separator against the file;
            # a bare name is looked up on PATH.
            if isinstance(command, str) and os.sep in command and not Path(command).is_absolute():
                plugin["command"] = str(path.parent / command)  # type: ignore[index]
    return loaded


def _merge(files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """kubectl's merge: the first file defining a name wins, as does the first context."""
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": []}
    for _, conf in files:
        for section in ("clusters", "contexts", "users"):
            known = {e.get("name") for e in merged[section]}
            for entry in conf.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in known:
                    merged[section].append(entry)
        if conf.get("current-context") and "current-context" not in merged:
            merged["current-context"] = conf["current-context"]
    return merged


def _select(merged: dict[str, Any], context: str | None, shown: str) -> SingleConfig:
    names = sorted(str(e.get("name")) for e in merged["contexts"])
    choice = context or merged.get("current-context")
    if not choice:
        raise ConfigurationError(
            f"kubeconfig {shown} sets no current-context; pass a context (one of: "
            f"{', '.join(names) or 'none defined'})"
        )
    try:
        config = KubeConfig.from_dict(merged)
    except (KeyError, TypeError, msgspec.ValidationError) as exc:
        raise ConfigurationError(f"kubeconfig {shown} is malformed ({exc})") from None
    ctx = config.contexts.get(choice)
    if ctx is None:
        raise ConfigurationError(
            f"context {choice!r} is not in kubeconfig {shown}; available: "
            f"{', '.join(names) or 'none'}"
        )
    if ctx.cluster not in config.clusters:
        raise ConfigurationError(
            f"context {choice!r} refers to cluster {ctx.cluster!r}, which kubeconfig {shown} "
            "does not define"
        )
    if ctx.user and ctx.user not in config.users:
        raise ConfigurationError(
            f"context {choice!r} refers to user {ctx.user!r}, which kubeconfig {shown} "
            "does not define"
        )
    single = config.get(choice)
    assert single is not None
    # A context without a user talks to the server anonymously, as kubectl does.
    return single if single.user is not None else single._replace(user=User())
