"""Which KEKs the Secrets in etcd are still wrapped by: when an old KEK may be retired.

The API server stores a KMS v1 value as ``k8s:enc:kms:v1:NAME:`` + the wrapped DEK's
length (2 bytes, big-endian) + the wrapped DEK (our blob, which names its KEK, see
:mod:`.envelope`) + the data. Only etcd sees these bytes; the API hands out plaintext,
so this reads etcd itself, through its JSON gateway (``POST /v3/kv/range``), page by
page, and keeps only each value's prefix and KEK id: never a value, never a key name.

Values of other providers are counted by their prefix (``aescbc:v1:key1``,
``kms:v2:NAME``; ``identity`` for plaintext), so a census also shows what a
``reencrypt`` has left behind.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..domain import ProviderUnavailable
from ._errors import BadRequest, KekConfigError
from .envelope import split

PAGE: Final = 500
#: Enough for ten million Secrets at PAGE per call; the walk also stops at its deadline.
MAX_PAGES: Final = 20_000
KMS_V1: Final = b"k8s:enc:kms:v1:"
ENCRYPTED: Final = b"k8s:enc:"


@dataclass(frozen=True, order=True)
class Wrapping:
    """How a stored value is protected: ``provider`` (``kms:v1:NAME``, ``aescbc:v1:key1``,
    ``identity``) and, for KMS v1, the KEK id in its blob (``?`` if not our blob)."""

    provider: str
    kek_id: str = ""


def classify(value: bytes) -> Wrapping:
    """The :class:`Wrapping` of one raw etcd value."""
    if not value.startswith(ENCRYPTED):
        return Wrapping("identity")
    parts = value.split(b":", 5)
    if len(parts) < 6:
        return Wrapping("unknown")
    provider = b":".join(parts[2:5]).decode("ascii", "replace")[:80]
    if not value.startswith(KMS_V1):
        return Wrapping(provider)
    rest = parts[5]
    size = int.from_bytes(rest[:2], "big")
    try:
        kek_id = split(rest[2 : 2 + size])[0]
    except BadRequest:
        kek_id = "?"
    return Wrapping(provider, kek_id)


@dataclass(frozen=True)
class EtcdClient:
    """etcd's JSON gateway at ``endpoint`` (``http(s)://HOST:PORT``), with optional TLS."""

    endpoint: str
    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.endpoint.startswith(("http://", "https://")):
            raise KekConfigError("--etcd is http(s)://HOST:PORT of an etcd client URL")
        if (self.cert is None) != (self.key is None):
            raise KekConfigError("--etcd-cert and --etcd-key go together")

    def _context(self) -> ssl.SSLContext | None:
        if not self.endpoint.startswith("https://"):
            return None
        context = ssl.create_default_context(cafile=str(self.cacert) if self.cacert else None)
        if self.cert is not None:
            try:
                context.load_cert_chain(str(self.cert), str(self.key))
            except (OSError, ssl.SSLError) as exc:
                raise KekConfigError(f"the etcd client certificate cannot be used: {exc}") from None
        return context

    def walk(self, prefix: str, deadline: float) -> Counter[Wrapping]:
        """How many values under ``prefix`` have each :class:`Wrapping`."""
        context = self._context()
        start, end = prefix.encode(), _range_end(prefix.encode())
        seen: Counter[Wrapping] = Counter()
        for _ in range(MAX_PAGES):
            page = self._range(start, end, context, deadline)
            kvs = page.get("kvs") or []
            for kv in kvs:
                seen[classify(base64.b64decode(kv.get("value", "")))] += 1
            if not page.get("more") or not kvs:
                return seen
            start = base64.b64decode(kvs[-1]["key"]) + b"\x00"
        raise ProviderUnavailable(f"etcd held more than {MAX_PAGES * PAGE} values under {prefix}")

    def _range(
        self, start: bytes, end: bytes, context: ssl.SSLContext | None, deadline: float
    ) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProviderUnavailable("reading etcd took longer than the deadline")
        body = {"key": _b64(start), "range_end": _b64(end), "limit": PAGE}
        request = urllib.request.Request(  # noqa: S310 - http(s) checked in __post_init__
            self.endpoint.rstrip("/") + "/v3/kv/range",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - http(s) checked in __post_init__
                request, timeout=min(self.timeout, left), context=context
            ) as answer:
                page: dict[str, Any] = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise ProviderUnavailable(f"etcd at {self.endpoint} answered {exc.code}") from None
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderUnavailable(f"etcd at {self.endpoint} did not answer: {reason}") from None
        return page


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _range_end(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (etcd's prefix range)."""
    return prefix[:-1] + bytes((prefix[-1] + 1,))


__all__ = ["EtcdClient", "Wrapping", "classify"]
