"""Typed views of a kubeconfig's clusters, users and contexts, checked as they are read.

kubectl decodes every entry of every kubeconfig file into typed structs and refuses a
file whose entries hold the wrong types; so does :func:`parse_kubeconfig`, with a
:class:`ConfigurationError` naming the file and the entry -- never the value, which may
be a token. Attributes are the kubeconfig's keys in snake_case (``tokenFile`` is
``token_file``). Relative paths are resolved against the file that holds them, as
kubectl does; a name defined twice in a file keeps its first definition. No secret
appears in a view's ``repr``. Nothing here loads an HTTP client: every Kubernetes
command resolves its kubeconfig first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from ...domain import ConfigurationError
from ...http.urls import shown_url as shown_server

_MASKED: Final = frozenset(
    {"token", "password", "client_key_data", "exec", "auth_provider", "extensions"}
)
_URLS: Final = frozenset({"server", "proxy_url"})


# msgspec structs, not dataclasses: a dataclass costs about a millisecond to define,
# and every Kubernetes command defines these before its first request.
class _Shown(msgspec.Struct, frozen=True):
    """A ``repr`` of the settings present, secrets masked and URLs without passwords."""

    def __repr__(self) -> str:
        shown = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None or value is False or (isinstance(value, Mapping) and not value):
                continue
            if name in _MASKED:
                text = "'********'"
            elif name in _URLS:
                text = repr(shown_server(value))
            elif name.endswith("_data"):
                text = f"<{len(value)} characters>"
            else:
                text = repr(value)
            shown.append(f"{name}={text}")
        return f"{type(self).__name__}({', '.join(shown)})"


class KubeCluster(_Shown, frozen=True):
    """A kubeconfig ``cluster``: where the API server is and how to trust it."""

    server: str | None = None
    certificate_authority: str | None = None
    certificate_authority_data: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    disable_compression: bool = False
    # name -> extension; an exec plugin may be handed client.authentication.k8s.io/exec
    extensions: Mapping[str, Any] = msgspec.field(default_factory=dict)


class KubeUser(_Shown, frozen=True):
    """A kubeconfig ``user``: the credentials. Empty for an anonymous context."""

    client_certificate: str | None = None
    client_certificate_data: str | None = None
    client_key: str | None = None
    client_key_data: str | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    exec: Mapping[str, Any] | None = None  # checked here, run by connect.ExecPlugin
    auth_provider: Mapping[str, Any] | None = None


class KubeContext(msgspec.Struct, frozen=True):
    """A kubeconfig ``context``: names of its cluster and user, and a namespace."""

    cluster: str
    user: str | None = None
    namespace: str | None = None


class Kubeconfig(msgspec.Struct, frozen=True):
    """The entries of one kubeconfig file, or of several merged like kubectl."""

    clusters: Mapping[str, KubeCluster]
    users: Mapping[str, KubeUser]
    contexts: Mapping[str, KubeContext]
    current_context: str | None


def parse_kubeconfig(doc: Mapping[str, Any], path: Path) -> Kubeconfig:
    """Every entry of ``doc`` (the YAML of ``path``) as a typed view; wrong types fail."""
    current = doc.get("current-context") or None
    if current is not None and not isinstance(current, str):
        raise ConfigurationError(
            f"current-context in kubeconfig {path} must be a string, not {_kind(current)}"
        )
    clusters: dict[str, KubeCluster] = {}
    for name, entry in _entries(doc, "cluster", path):
        clusters.setdefault(name, _cluster(entry))
    users: dict[str, KubeUser] = {}
    for name, entry in _entries(doc, "user", path):
        users.setdefault(name, _user(entry))
    contexts: dict[str, KubeContext] = {}
    for name, entry in _entries(doc, "context", path):
        cluster = entry.text("cluster")
        if not cluster:
            raise ConfigurationError(f"{entry.where} names no cluster; fix the kubeconfig")
        user, namespace = entry.text("user"), entry.text("namespace")
        contexts.setdefault(name, KubeContext(cluster, user, namespace))
    return Kubeconfig(clusters, users, contexts, current)


class _Entry:
    """The body of one entry; each read checks the type and names the entry if wrong."""

    __slots__ = ("_body", "base", "where")

    def __init__(self, body: Mapping[str, Any], where: str, base: Path) -> None:
        self._body, self.where, self.base = body, where, base

    def text(self, key: str) -> str | None:
        value = self._body.get(key)
        if value is not None and not isinstance(value, str):
            raise self.wrong(key, "a string", value)
        return value

    def flag(self, key: str) -> bool:
        value = self._body.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.wrong(key, "true or false", value)
        return bool(value)

    def path(self, key: str) -> str | None:
        value = self.text(key)
        if value and not Path(value).is_absolute():
            return str(self.base / value)  # relative to its own file
        return value

    def mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self._body.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise self.wrong(key, "a mapping", value)
        return value

    def strings(self, key: str) -> None:
        value = self._body.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise self.wrong(key, "a list of strings", value)

    def named(self, key: str, inner: str) -> dict[str, Any]:
        """A list of ``{name, <inner>}`` as a mapping, the first of a name winning."""
        value = self._body.get(key) or []
        if not isinstance(value, list) or not all(
            isinstance(v, Mapping) and isinstance(v.get("name"), str) for v in value
        ):
            raise self.wrong(key, f"a list of name/{inner} pairs", value)
        named: dict[str, Any] = {}
        for item in value:
            named.setdefault(item["name"], item.get(inner))
        return named

    def wrong(self, key: str, expected: str, value: object) -> ConfigurationError:
        return ConfigurationError(
            f"{key} of {self.where} must be {expected}, not {_kind(value)}; fix the kubeconfig"
        )


def _entries(doc: Mapping[str, Any], kind: str, path: Path) -> Iterator[tuple[str, _Entry]]:
    section = f"{kind}s"
    listed = doc.get(section) or []
    if not isinstance(listed, list):
        raise ConfigurationError(
            f"{section} in kubeconfig {path} must be a list, not {_kind(listed)}"
        )
    for index, item in enumerate(listed, 1):
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"entry {index} of {section} in kubeconfig {path} has no name; each needs a "
                f"name (a string) and a {kind!r} mapping"
            )
        where = f"the {kind} {name[:80]!r} in kubeconfig {path}"
        body = item.get(kind)
        if not isinstance(body, Mapping):
            raise ConfigurationError(f"{where} has no {kind!r} mapping; fix the kubeconfig")
        yield name, _Entry(body, where, path.parent)


def _cluster(entry: _Entry) -> KubeCluster:
    return KubeCluster(
        server=entry.text("server"),
        certificate_authority=entry.path("certificate-authority"),
        certificate_authority_data=entry.text("certificate-authority-data"),
        insecure_skip_tls_verify=entry.flag("insecure-skip-tls-verify"),
        tls_server_name=entry.text("tls-server-name"),
        proxy_url=entry.text("proxy-url"),
        disable_compression=entry.flag("disable-compression"),
        extensions=entry.named("extensions", "extension"),
    )


def _user(entry: _Entry) -> KubeUser:
    return KubeUser(
        client_certificate=entry.path("client-certificate"),
        client_certificate_data=entry.text("client-certificate-data"),
        client_key=entry.path("client-key"),
        client_key_data=entry.text("client-key-data"),
        token=entry.text("token"),
        token_file=entry.path("tokenFile"),
        username=entry.text("username"),
        password=entry.text("password"),
        exec=_exec(entry),
        auth_provider=entry.mapping("auth-provider"),
    )


def _exec(user: _Entry) -> Mapping[str, Any] | None:
    spec = user.mapping("exec")
    if spec is None:
        return None
    entry = _Entry(spec, f"the exec plugin of {user.where}", user.base)
    for key in ("apiVersion", "command", "installHint", "interactiveMode"):
        entry.text(key)
    entry.flag("provideClusterInfo")
    entry.strings("args")
    env = spec.get("env")
    if env is not None and not (
        isinstance(env, list)
        and all(
            isinstance(e, Mapping)
            and isinstance(e.get("name"), str)
            and isinstance(e.get("value", ""), str)
            for e in env
        )
    ):
        raise entry.wrong("env", "a list of name/value pairs of strings", env)
    command = spec.get("command")
    # kubectl resolves a command with a path separator against the file; a bare name is
    # looked up on PATH.
    if isinstance(command, str) and os.sep in command and not Path(command).is_absolute():
        return {**spec, "command": str(user.base / command)}
    return spec


def _kind(value: object) -> str:
    """The YAML type of ``value`` -- what a message may say instead of the value."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return "empty" if value is None else type(value).__name__
