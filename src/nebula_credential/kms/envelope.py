"""The wrapped-DEK blob and the ring of KEKs that seal and open it.

The API server already does the envelope's outer half: it encrypts each object with a
data-encryption key (DEK) and asks the plugin to encrypt that DEK. The plugin's half is
this blob, AES-256-GCM under a key-encryption key (KEK)::

    b"nkms" | format (1 byte) | len(kek id) (1 byte) | kek id (ASCII) | nonce (12) | sealed

The header (everything before the nonce) is the GCM associated data, so a blob moved to
another KEK id, or with another format byte, fails to open. Carrying the KEK id in the
blob is what lets several KEKs be active at once: the ring's first KEK (the primary)
seals, every KEK in the ring opens what it sealed, and a KEK can be retired once no
stored blob names it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

from ._errors import BadRequest, KekConfigError, Tampered, UnknownKek

MAGIC: Final = b"nkms"
FORMAT: Final = 1
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
#: The API server sends a DEK (v1) or a seed (v2) of 32 bytes; far larger plaintexts are
#: not what the KMS API is for, and bounding them bounds the work one call can cause.
MAX_PLAINTEXT: Final = 64 * 1024
#: KEK ids travel in blobs, v2 key_id and logs: short, printable, never derived from
#: key bytes in a way that reveals them.
KEK_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_HEAD: Final = len(MAGIC) + 2


class Kek(Protocol):
    """A key-encryption key: AES-256-GCM with the key wherever it lives."""

    @property
    def kek_id(self) -> str:
        """The id written into every blob this KEK seals."""
        ...

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AES-GCM ciphertext and tag of ``plaintext``."""
        ...

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext; raises :class:`Tampered` when authentication fails."""
        ...


def check_kek_id(kek_id: str) -> str:
    """``kek_id`` if it is a valid id; :class:`KekConfigError` otherwise."""
    if not KEK_ID.fullmatch(kek_id):
        raise KekConfigError(
            "a KEK id is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return kek_id


def header(kek_id: str) -> bytes:
    """The blob's header for ``kek_id``: also the GCM associated data."""
    raw = kek_id.encode("ascii")
    return MAGIC + bytes((FORMAT, len(raw))) + raw


def split(blob: bytes) -> tuple[str, bytes, bytes, bytes]:
    """``(kek id, header, nonce, sealed)`` of ``blob``; :class:`BadRequest` when it is not
    a blob of our format (truncated, foreign, or another format version)."""
    if len(blob) < _HEAD or not blob.startswith(MAGIC):
        raise BadRequest("the ciphertext is not a blob this plugin wrote")
    if blob[len(MAGIC)] != FORMAT:
        raise BadRequest(f"the ciphertext has blob format {blob[len(MAGIC)]}, not {FORMAT}")
    end = _HEAD + blob[len(MAGIC) + 1]
    raw_id = blob[_HEAD:end]
    if len(blob) < end + NONCE_BYTES + TAG_BYTES:
        raise BadRequest("the ciphertext is truncated")
    try:
        kek_id = raw_id.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest("the ciphertext's KEK id is not ASCII") from None
    if not KEK_ID.fullmatch(kek_id):
        raise BadRequest("the ciphertext's KEK id is malformed")
    return kek_id, blob[:end], blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]


class Keyring:
    """The active KEKs: the first one seals, any of them opens what it sealed."""

    def __init__(self, keks: Sequence[Kek]) -> None:
        if not keks:
            raise KekConfigError("at least one KEK is needed")
        self._by_id: dict[str, Kek] = {}
        for kek in keks:
            if kek.kek_id in self._by_id:
                raise KekConfigError(f"two KEKs have the id {kek.kek_id!r}")
            self._by_id[kek.kek_id] = kek
        self._primary = keks[0]

    @property
    def primary_id(self) -> str:
        """The id new blobs carry (the v2 ``key_id``)."""
        return self._primary.kek_id

    def ids(self) -> Iterable[str]:
        """Every active KEK id, the primary first."""
        return self._by_id.keys()

    def seal(self, plaintext: bytes) -> bytes:
        """A new blob of ``plaintext`` under the primary KEK."""
        check_plaintext(plaintext)
        head = header(self._primary.kek_id)
        nonce = os.urandom(NONCE_BYTES)
        return head + nonce + self._primary.seal(nonce, plaintext, head)

    def open(self, blob: bytes) -> tuple[bytes, str]:
        """``(plaintext, kek id)`` of ``blob``; :class:`UnknownKek` for a KEK not in the
        ring, :class:`Tampered` when the blob fails authentication."""
        kek_id, head, nonce, sealed = split(blob)
        kek = self._by_id.get(kek_id)
        if kek is None:
            raise UnknownKek(f"the ciphertext was wrapped by KEK {kek_id!r}, which is not loaded")
        return kek.open(nonce, sealed, head), kek_id


def check_plaintext(plaintext: bytes) -> None:
    """:class:`BadRequest` for an empty or oversized plaintext."""
    if not plaintext:
        raise BadRequest("the plaintext is empty")
    if len(plaintext) > MAX_PLAINTEXT:
        raise BadRequest(f"the plaintext is {len(plaintext)} bytes, over {MAX_PLAINTEXT}")


__all__ = [
    "MAX_PLAINTEXT",
    "Kek",
    "Keyring",
    "Tampered",
    "check_kek_id",
    "header",
    "split",
]
