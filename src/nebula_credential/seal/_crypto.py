"""The Sealed Secrets hybrid cipher: RSA-OAEP(SHA-256) for a session key, AES-256-GCM
for the value (no I/O).

One sealed value is ``len(rsa) as 2 bytes big-endian || rsa ciphertext || AES-GCM
ciphertext and tag``. The RSA part encrypts a fresh 32-byte session key with the scope as
the OAEP label; the value is sealed under that key with a 12-byte zero nonce, which is
safe because each session key seals exactly one value. This is what the controller's
``crypto.HybridDecrypt`` undoes.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain import DecryptionFailed

SESSION_KEY_BYTES: Final = 32
ZERO_NONCE: Final = bytes(12)
NAMESPACE_WIDE: Final = "sealedsecrets.bitnami.com/namespace-wide"
CLUSTER_WIDE: Final = "sealedsecrets.bitnami.com/cluster-wide"


class Scope(enum.StrEnum):
    """Where a sealed value may be unsealed: kubeseal's ``--scope``."""

    STRICT = "strict"
    NAMESPACE_WIDE = "namespace-wide"
    CLUSTER_WIDE = "cluster-wide"


def scope_label(scope: Scope, namespace: str, name: str) -> bytes:
    """The OAEP label binding a value to ``namespace/name``, ``namespace`` or nothing."""
    if scope is Scope.CLUSTER_WIDE:
        return b""
    if scope is Scope.NAMESPACE_WIDE:
        return namespace.encode()
    return f"{namespace}/{name}".encode()


def scope_of(annotations: dict[str, str] | None) -> Scope:
    """The scope the controller reads from a SealedSecret's (or Secret's) annotations."""
    notes = annotations or {}
    if notes.get(CLUSTER_WIDE) == "true":
        return Scope.CLUSTER_WIDE
    if notes.get(NAMESPACE_WIDE) == "true":
        return Scope.NAMESPACE_WIDE
    return Scope.STRICT


def scope_annotations(scope: Scope) -> dict[str, str]:
    if scope is Scope.NAMESPACE_WIDE:
        return {NAMESPACE_WIDE: "true"}
    if scope is Scope.CLUSTER_WIDE:
        return {CLUSTER_WIDE: "true"}
    return {}


def _oaep(label: bytes) -> padding.OAEP:
    # Go's rsa.EncryptOAEP(sha256.New(), ...) uses the same hash for MGF1.
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=label or None,
    )


def hybrid_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """Seal ``plaintext`` under a fresh session key for ``public_key`` and ``label``."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    wrapped = public_key.encrypt(session_key, _oaep(label))
    sealed = AESGCM(session_key).encrypt(ZERO_NONCE, plaintext, None)
    return struct.pack(">H", len(wrapped)) + wrapped + sealed


def hybrid_decrypt(
    private_keys: Sequence[rsa.RSAPrivateKey], ciphertext: bytes, label: bytes
) -> bytes:
    """Open a sealed value with the first key that fits; DecryptionFailed otherwise.

    The message never says more than "no key and label fit": OAEP cannot tell a wrong
    key from a wrong scope label.
    """
    if len(ciphertext) < 2:
        raise DecryptionFailed("sealed value is too short to hold a session key")
    (rsa_len,) = struct.unpack(">H", ciphertext[:2])
    if len(ciphertext) < 2 + rsa_len:
        raise DecryptionFailed("sealed value is shorter than its RSA part says")
    wrapped, sealed = ciphertext[2 : 2 + rsa_len], ciphertext[2 + rsa_len :]
    for key in private_keys:
        if key.key_size // 8 != rsa_len:
            continue
        try:
            session_key = key.decrypt(wrapped, _oaep(label))
        except ValueError:
            continue
        if len(session_key) != SESSION_KEY_BYTES:
            continue
        try:
            return AESGCM(session_key).decrypt(ZERO_NONCE, sealed, None)
        except InvalidTag:
            raise DecryptionFailed(
                "sealed value was altered: its AES-GCM tag does not verify"
            ) from None
    raise DecryptionFailed("no private key and scope label fit this sealed value")
