"""Pending rotation grants as sealed files under the data directory.

One file per credential and location, ``<data dir>/pending/<hash>.grant``, written
atomically (temporary file, fsync, rename) and sealed with AES-256-GCM: the key is
``NEBULA_CREDENTIAL_KEY`` when set, else ``pending/journal.key`` (0600, created on
first use); the associated data binds the file to its location and credential id, so
a file copied over another's name does not open. Files of their own, not rows of the
database: a grant must be kept exactly when the store is locked or unreachable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Final

from ..domain import ConfigurationError, CorruptData
from .database import make_data_dir
from .keys import KEY_ENV, Sealer, StoreKey, load_or_create_key_file, parse_key

_FORMAT: Final = b"NCPG1"
_MAX_FILE: Final = 1024 * 1024
_AD: Final = b"nebula-credential/pending-grant/v1\0"


class FileJournal:
    """A :class:`~nebula_credential.ops.journal.GrantJournal` in one data directory:
    sealed bytes per (location, credential id)."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.directory = Path(data_dir).expanduser() / "pending"
        self._sealer: Sealer | None = None

    def __repr__(self) -> str:
        return f"FileJournal({str(self.directory)!r})"

    def _key(self) -> Sealer:
        if self._sealer is None:
            text = os.environ.get(KEY_ENV)
            if text:
                key = StoreKey(parse_key(text, KEY_ENV), KEY_ENV)
            else:
                path = self.directory / "journal.key"
                key = StoreKey(load_or_create_key_file(path), f"key file {path}")
            self._sealer = Sealer(key)
        return self._sealer

    def _path(self, location: str, credential_id: str) -> Path:
        name = hashlib.sha256(f"{location}\0{credential_id}".encode()).hexdigest()[:40]
        return self.directory / f"{name}.grant"

    def where(self, location: str, credential_id: str) -> str:
        return str(self._path(location, credential_id))

    def save(self, location: str, credential_id: str, plain: bytes) -> str:
        make_data_dir(self.directory.parent)
        make_data_dir(self.directory)
        path = self._path(location, credential_id)
        sealed = _FORMAT + self._key().seal(plain, _ad(location, credential_id))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(sealed)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            _sync_dir(self.directory)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ConfigurationError(
                f"cannot write the pending grant {path}: {exc.strerror}"
            ) from None
        return str(path)

    def load(self, location: str, credential_id: str) -> bytes | None:
        path = self._path(location, credential_id)
        try:
            with open(path, "rb") as handle:
                blob = handle.read(_MAX_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the pending grant {path}: {exc.strerror}"
            ) from None
        if len(blob) > _MAX_FILE or not blob.startswith(_FORMAT):
            raise CorruptData(
                f"the pending grant {path} is not one (damaged or replaced); move it away"
            )
        plain = self._key().try_open(blob[len(_FORMAT) :], _ad(location, credential_id))
        if plain is None:
            raise CorruptData(
                f"the pending grant {path} does not open with the key in use "
                f"({self._key().source}); use the key it was written with, or move the file "
                "away to give up the tokens it holds"
            )
        return plain

    def remove(self, location: str, credential_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(location, credential_id).unlink()
            _sync_dir(self.directory)


def _ad(location: str, credential_id: str) -> bytes:
    return _AD + f"{location}\0{credential_id}".encode()


def _sync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
