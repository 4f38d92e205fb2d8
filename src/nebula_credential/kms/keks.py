"""Where KEKs come from: ``file:PATH`` (development) or ``pkcs11:...`` (an HSM).

A key file holds exactly 32 random bytes and must be readable by its owner only (mode
0600 or stricter): a KEK anyone on the host can read protects nothing. Its id is derived
from the key (``file-`` and 16 hex digits of a domain-separated SHA-256), so the same key
keeps its id wherever the file moves, and the id reveals nothing usable about the key.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._errors import KekConfigError, Tampered
from .envelope import Kek

KEY_BYTES: Final = 32
_ID_DOMAIN: Final = b"nebula-credential kms kek id v1\x00"


class FileKek:
    """A KEK held in this process's memory, read from a key file."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KekConfigError(f"a KEK is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self._id = "file-" + hashlib.sha256(_ID_DOMAIN + key).hexdigest()[:16]

    @property
    def kek_id(self) -> str:
        """``file-`` and 16 hex digits derived from the key."""
        return self._id

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM in process."""
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext, or :class:`Tampered`."""
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise Tampered(f"the ciphertext fails authentication under KEK {self._id!r}") from None

    def __repr__(self) -> str:
        return f"FileKek({self._id!r})"


def read_key_file(path: Path) -> bytes:
    """The 32 bytes of ``path``; :class:`KekConfigError` when it is missing, not a
    regular file, readable by group or others, or not 32 bytes long."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise KekConfigError(f"cannot open the KEK file {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # before fdopen, which refuses a directory itself
        os.close(fd)
        raise KekConfigError(f"the KEK file {path} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise KekConfigError(
                f"the KEK file {path} has mode {mode:04o}: make it 0600 (chmod 600)"
            )
        key = handle.read(KEY_BYTES + 1)
    if len(key) != KEY_BYTES:
        raise KekConfigError(f"the KEK file {path} must hold exactly {KEY_BYTES} bytes")
    return key


def write_key_file(path: Path) -> FileKek:
    """Create ``path`` (mode 0600, refusing to replace a file) holding a new random KEK."""
    key = os.urandom(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KekConfigError(f"cannot create the KEK file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return FileKek(key)


def load_kek(source: str) -> Kek:
    """The KEK that ``source`` names: ``file:PATH`` or a ``pkcs11:`` URI."""
    if source.startswith("file:"):
        return FileKek(read_key_file(Path(source.removeprefix("file:"))))
    if source.startswith("pkcs11:"):
        from .pkcs11_kek import TokenKek

        return TokenKek.from_uri(source)
    raise KekConfigError("a KEK source is file:PATH or pkcs11:token=...;object=...")
