"""The controller's certificate (sealing) and private keys (offline unsealing), checked.

A certificate must hold an RSA key of at least 2048 bits and be valid now. Private keys
come as PEM (one or several in a file) or as the controller's key Secrets exported with
``kubectl get secret -n kube-system -l sealedsecrets.bitnami.com/sealed-secrets-key
-o yaml`` (their ``tls.key``).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ..domain import ValidationError

MIN_KEY_BITS: Final = 2048
_PEM_KEY = re.compile(
    rb"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----",
    re.DOTALL,
)


class CertificateRejected(ValidationError):
    """A certificate or key that must not be used for sealing or unsealing."""


def _check_size(bits: int, what: str) -> None:
    if bits < MIN_KEY_BITS:
        raise CertificateRejected(
            f"{what} holds a {bits}-bit RSA key; at least {MIN_KEY_BITS} bits are required "
            "(the Sealed Secrets controller generates 4096-bit keys)"
        )


def load_certificate(data: bytes, *, source: str, now: datetime | None = None) -> rsa.RSAPublicKey:
    """The RSA public key of a PEM (or DER) certificate that is valid at ``now``."""
    try:
        if b"-----BEGIN" in data:
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateRejected(
            f"{source} is not an X.509 certificate (PEM or DER); fetch it with "
            "'kubeseal --fetch-cert' or from the controller's /v1/cert.pem"
        ) from None
    now = now or datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        raise CertificateRejected(
            f"certificate from {source} expired on {cert.not_valid_after_utc:%Y-%m-%d}; "
            "fetch the controller's current certificate"
        )
    if cert.not_valid_before_utc > now:
        raise CertificateRejected(
            f"certificate from {source} is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check the clocks"
        )
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateRejected(
            f"certificate from {source} holds a {type(key).__name__.removesuffix('PublicKey')} "
            "key; Sealed Secrets needs RSA"
        )
    _check_size(key.key_size, f"certificate from {source}")
    return key


def _pem_blocks(data: bytes, source: str) -> list[bytes]:
    if b"-----BEGIN" in data:
        return _PEM_KEY.findall(data)
    import yaml

    try:
        doc: Any = yaml.safe_load(data)
    except yaml.YAMLError:
        doc = None
    items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
    blocks: list[bytes] = []
    for item in items or []:
        value = (item.get("data") or {}).get("tls.key") if isinstance(item, dict) else None
        if isinstance(value, str):
            try:
                blocks.extend(_PEM_KEY.findall(base64.b64decode(value, validate=True)))
            except ValueError:
                continue
    return blocks


def load_private_keys(data: bytes, *, source: str) -> list[rsa.RSAPrivateKey]:
    """Every RSA private key in a PEM file or in exported controller key Secrets."""
    blocks = _pem_blocks(data, source)
    if not blocks:
        raise CertificateRejected(
            f"{source} holds no PEM private key nor a Secret with tls.key; export the "
            "controller's keys with: kubectl get secret -n kube-system -l "
            "sealedsecrets.bitnami.com/sealed-secrets-key -o yaml"
        )
    keys: list[rsa.RSAPrivateKey] = []
    for number, block in enumerate(blocks, start=1):
        try:
            key = load_pem_private_key(block, password=None)
        except (ValueError, TypeError):  # TypeError: the key is encrypted
            key = None
        if key is None:
            raise CertificateRejected(
                f"private key {number} in {source} does not load (corrupt or "
                "passphrase-protected; decrypt it with openssl first)"
            )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CertificateRejected(f"private key {number} in {source} is not an RSA key")
        _check_size(key.key_size, f"private key {number} in {source}")
        keys.append(key)
    return keys
