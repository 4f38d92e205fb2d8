"""The embedded default provider: an encrypted SQLite store on this machine."""

from .journal import FileJournal
from .keys import KEY_ENV, PASSPHRASE_ENV
from .provider import HOME_ENV, LocalStorageProvider, default_data_dir

__all__ = [
    "HOME_ENV",
    "KEY_ENV",
    "PASSPHRASE_ENV",
    "FileJournal",
    "LocalStorageProvider",
    "default_data_dir",
]
