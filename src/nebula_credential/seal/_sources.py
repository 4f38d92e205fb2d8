"""Where sealing input comes from: manifests, stored credentials, a certificate URL."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

from .._hosts import is_loopback
from ..domain import Credential, ProviderUnavailable, ValidationError
from ..kubernetes.model.mapping import encode

MAX_CERT_BYTES: Final = 64 * 1024


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


def credential_secret(credential: Credential, *, name: str, namespace: str) -> dict[str, Any]:
    """The Secret manifest nebula-credential would write for ``credential``."""
    obj = encode(credential, name)
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
    """GET a certificate over http(s). Plain http is accepted on loopback only."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "http" and not is_loopback(host):
        raise ValidationError(
            f"refusing to fetch a sealing certificate over plain http from {host}: an "
            "attacker on the path could swap it; use https or a file"
        )
    request = urllib.request.Request(url, headers={"Accept": "application/x-pem-file"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            body: bytes = reply.read(MAX_CERT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ProviderUnavailable(
            f"certificate URL {url} answered HTTP {exc.code}; check the address"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderUnavailable(f"cannot fetch certificate from {url}: {reason}") from None
    if len(body) > MAX_CERT_BYTES:
        raise ValidationError(f"certificate from {url} is larger than {MAX_CERT_BYTES} bytes")
    return body
