"""Where sealing input comes from: manifests, stored credentials, a certificate URL."""

from __future__ import annotations

import os
import urllib.parse
from typing import Any, Final

from .._hosts import is_loopback
from ..domain import (
    ConfigurationError,
    Credential,
    CredentialError,
    ProviderUnavailable,
    ValidationError,
)
from ..http.urls import shown_origin
from ..kubernetes.model.mapping import encode

MAX_CERT_BYTES: Final = 64 * 1024
_ACCEPT: Final = "application/x-pem-file"
_USER_AGENT: Final = "nebula-credential/0.1 (http.client)"


def load_document(text: str, *, kind: str, source: str) -> dict[str, Any]:
    """The one ``kind`` object in a YAML or JSON text (other documents are refused)."""
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        # The parser's message quotes the input, which may be a Secret: not shown.
        raise ValidationError(f"{source} is not valid YAML or JSON") from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ValidationError(f"{source} must hold exactly one {kind}, found {len(docs)} documents")
    doc: dict[str, Any] = docs[0]
    if doc.get("kind") != kind:
        raise ValidationError(f"{source} holds a {str(doc.get('kind'))[:40]}, not a {kind}")
    return doc


def credential_secret(
    credential: Credential, *, name: str, namespace: str, prefix: str | None = None
) -> dict[str, Any]:
    """The Secret manifest nebula-credential would write for ``credential`` under
    ``prefix`` (its prefix label: without it, reads of that prefix take the Secret for
    one written before the label existed)."""
    obj = encode(credential, name, prefix=prefix)
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    meta["labels"] = dict(obj.labels)
    meta["annotations"] = dict(obj.annotations)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": obj.type,
        "data": dict(obj.data),
    }


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def fetch_url(url: str, *, timeout: float = 10.0) -> bytes:
    """GET a certificate over http(s), at most :data:`MAX_CERT_BYTES` of it.

    Plain http is accepted on loopback only; a redirect is refused, not followed (the
    next hop could be plain http elsewhere); the environment's ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` / ``NO_PROXY`` apply. Messages never show a user or password the
    URL holds."""
    from ..http.proxy import choose_proxy
    from ..http.urls import shown_url

    shown = shown_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        raise ValidationError(f"certificate URL {shown} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError(f"certificate URL {shown} must be an https:// URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValidationError(
            f"refusing to fetch a sealing certificate over plain http from {host}: an "
            "attacker on the path could swap it; use https or a file"
        )
    proxy = choose_proxy(url, None, os.environ, "the certificate URL")
    variable = f"{parts.scheme.upper()}_PROXY"
    if proxy is not None and proxy.startswith("https:"):
        raise ConfigurationError(
            f"{variable} names an https:// proxy ({shown_url(proxy)}); fetching a "
            "certificate goes through http:// proxies only: use one, or pass the "
            "certificate as a file"
        )
    netloc = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{netloc}" + (f":{port}" if port is not None else "")
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    status, location, body = _get(origin, target, proxy, timeout, shown, variable)
    if 300 <= status < 400:
        to = shown_origin(url, location) if location else None
        raise ValidationError(
            f"certificate URL {shown} redirects (HTTP {status})"
            + (f" to {to}" if to else "")
            + "; redirects are not followed: give the final https:// URL"
        )
    if not 200 <= status < 300:
        raise ProviderUnavailable(
            f"certificate URL {shown} answered HTTP {status}; check the address"
        )
    return body


def _get(
    origin: str, target: str, proxy: str | None, timeout: float, shown: str, variable: str
) -> tuple[int, str | None, bytes]:
    """Status, ``Location`` and body of one GET; typed errors when there is no answer."""
    import ssl

    from ..http.blocking import BlockingDriver
    from ..http.message import PROXY, TOO_LARGE, UNTRUSTED, NoReply, Request
    from ..http.urls import shown_url
    from ..providers.inline import run_inline

    context = ssl.create_default_context()
    driver = BlockingDriver(
        origin, context=lambda: context, user_agent=_USER_AGENT, timeout=timeout, proxy=proxy
    )
    request = Request("GET", target, headers={"Accept": _ACCEPT}, max_body=MAX_CERT_BYTES)
    failure: CredentialError | None = None
    try:
        reply = run_inline(driver.send(request, {}))
    except NoReply as exc:
        # Raised below, outside this handler: the driver's exception is not chained to ours.
        if exc.kind == TOO_LARGE:
            failure = ValidationError(
                f"certificate from {shown} is larger than {MAX_CERT_BYTES} bytes"
            )
        elif exc.kind == PROXY and proxy is not None:
            failure = ProviderUnavailable(
                f"cannot fetch certificate from {shown}: the proxy {shown_url(proxy)} (from "
                f"{variable}) failed ({exc.detail}); check the proxy, or exempt the host in "
                "NO_PROXY"
            )
        else:
            why = "its TLS certificate is not trusted: " if exc.kind == UNTRUSTED else ""
            failure = ProviderUnavailable(
                f"cannot fetch certificate from {shown}: {why}{exc.detail}"
            )
    finally:
        run_inline(driver.close())
    if failure is not None:
        raise failure
    return reply.status, reply.headers.get("Location"), reply.body
