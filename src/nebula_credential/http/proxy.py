"""Which proxy a request goes through, chosen as kubectl and curl choose it.

An explicit proxy (a cluster's ``proxy-url``) wins; without it the environment's
``HTTPS_PROXY`` / ``HTTP_PROXY`` (by the server's scheme) apply unless ``NO_PROXY`` exempts
the host. HTTP(S) proxies are used with ``CONNECT``; SOCKS proxies need a connector this
client does not ship, so they are refused by name rather than bypassed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from ..domain import ConfigurationError
from .urls import shown_url as shown_server

_SCHEMES: Final = ("http", "https")


def choose_proxy(
    server: str, proxy_url: object, environ: Mapping[str, str], where: str
) -> str | None:
    """The proxy URL for ``server``, or None to connect directly."""
    if proxy_url is not None and proxy_url != "":
        if not isinstance(proxy_url, str):
            raise ConfigurationError(f"proxy-url in {where} is not a string")
        return _checked(proxy_url, f"proxy-url in {where}")
    parts = urlsplit(server)
    scheme = parts.scheme or "https"
    found = _env(environ, f"{scheme}_proxy")
    if not found or _bypassed(parts.hostname or "", parts.port, environ):
        return None
    return _checked(found, f"{scheme.upper()}_PROXY")


def _checked(url: str, what: str) -> str:
    if "://" not in url:
        url = f"http://{url}"  # a bare host:port, as Go's proxy parsing accepts
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        raise ConfigurationError(f"{what} is not a valid URL") from None
    if parts.scheme.startswith("socks"):
        raise ConfigurationError(
            f"{what} is a SOCKS proxy ({shown_server(url)}), which nebula-credential does not "
            "support; use an HTTP CONNECT proxy or an SSH tunnel to the API server"
        )
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ConfigurationError(
            f"{what} ({shown_server(url)}) must be an http:// or https:// proxy URL"
        )
    return url


def _env(environ: Mapping[str, str], name: str) -> str | None:
    # Lower case first, as curl and Go do; upper-case HTTP_PROXY is ignored under CGI.
    return environ.get(name) or environ.get(name.upper()) or None


def _bypassed(host: str, port: int | None, environ: Mapping[str, str]) -> bool:
    entries = _env(environ, "no_proxy")
    if not entries:
        return False
    host = host.lower().strip("[]")
    for raw in entries.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            if _in_network(host, entry):
                return True
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and port is not None and entry_port != str(port):
            continue
        name = name.strip("[]").lstrip("*")
        if host == name.lstrip(".") or (name.startswith(".") and host.endswith(name)):
            return True
        if not name.startswith(".") and host.endswith("." + name):
            return True
    return False


def _in_network(host: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
