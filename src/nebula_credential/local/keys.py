"""Where the local store's 256-bit key comes from, and sealing rows with it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..domain import ConfigurationError, CorruptData, DecryptionFailed

KEY_ENV: Final = "NEBULA_CREDENTIAL_KEY"
PASSPHRASE_ENV: Final = "NEBULA_CREDENTIAL_PASSPHRASE"  # noqa: S105 - a variable name
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
KEYCHECK_FORMAT: Final = b"\x01"
KEYCHECK_AD: Final = b"nebula-credential/keycheck/v1"
KEYCHECK_PLAIN: Final = b"nebula-credential local store v1"
# Argon2id parameters: RFC 9106's second recommended option (64 MiB, 3 passes).
ARGON2_MEMORY_KIB: Final = 64 * 1024
ARGON2_ITERATIONS: Final = 3
ARGON2_LANES: Final = 4


@dataclass(frozen=True, slots=True)
class StoreKey:
    """A key and a human description of where it came from (for error messages)."""

    material: bytes
    source: str

    def __repr__(self) -> str:
        return f"StoreKey(source={self.source!r})"


def parse_key(text: str, source: str) -> bytes:
    """Accept 32 bytes as base64 (standard or URL-safe) or 64 hex digits."""
    text = text.strip()
    candidates: list[bytes] = []
    if len(text) == 2 * KEY_BYTES:
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(text))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(text, validate=True))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.urlsafe_b64decode(text))
    for candidate in candidates:
        if len(candidate) == KEY_BYTES:
            return candidate
    raise ConfigurationError(
        f"{source} must hold a 32-byte key as base64 (44 characters) or hex (64 digits); "
        "generate one with: openssl rand -base64 32"
    )


def derive_from_passphrase(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    if not passphrase:
        raise ConfigurationError(f"the passphrase is empty; set {PASSPHRASE_ENV} to a real one")
    kdf = Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=ARGON2_ITERATIONS,
        lanes=ARGON2_LANES,
        memory_cost=ARGON2_MEMORY_KIB,
    )
    return kdf.derive(passphrase.encode("utf-8"))


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, or create it (0600) atomically if no process has yet."""
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(base64.b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails if another process won the race; then its key is the key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    with open(path, encoding="ascii", errors="replace") as handle:
        text = handle.read()
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(
            f"key file {path} is readable by other users (mode {mode:o}); run: chmod 600 {path}"
        )
    return parse_key(text, f"key file {path}")


class Sealer:
    """AES-256-GCM: ``nonce || ciphertext || tag``, with caller-chosen associated data."""

    __slots__ = ("_aead", "_invalid_tag", "source")

    def __init__(self, key: StoreKey) -> None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key.material)
        self._invalid_tag = InvalidTag
        self.source = key.source

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)  # what secrets.token_bytes returns
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes | memoryview, associated: bytes, what: str) -> bytes:
        plain = self.try_open(sealed, associated)
        if plain is None:
            raise CorruptData(self.failure(sealed, what))
        return plain

    def try_open(self, sealed: bytes | memoryview, associated: bytes) -> bytes | None:
        """The plaintext, or None when ``sealed`` is truncated or fails the check.

        ``sealed`` may be a memoryview of a longer blob: nothing is copied to split it.
        """
        if len(sealed) < NONCE_BYTES + 16:
            return None
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
        except self._invalid_tag:
            return None

    @staticmethod
    def failure(sealed: bytes | memoryview, what: str) -> str:
        """Why :meth:`try_open` refused ``sealed``, for the message of CorruptData."""
        if len(sealed) < NONCE_BYTES + 16:
            return f"{what} is truncated"
        return (
            f"{what} failed its integrity check: it was modified outside nebula-credential "
            "or is damaged; restore it from a backup or delete it"
        )

    def seal_keycheck(self) -> bytes:
        return KEYCHECK_FORMAT + self.seal(KEYCHECK_PLAIN, KEYCHECK_AD)

    def check(self, blob: bytes, store: Path) -> None:
        """Verify the key against the store's key-check record."""
        try:
            plain = self.open(blob[1:], KEYCHECK_AD, "key check")
        except CorruptData:
            plain = b""
        if blob[:1] != KEYCHECK_FORMAT or plain != KEYCHECK_PLAIN:
            raise DecryptionFailed(
                f"the key from {self.source} cannot decrypt the store {store}; use the key "
                f"the store was created with ({KEY_ENV}, {PASSPHRASE_ENV} or its key file)"
            )
