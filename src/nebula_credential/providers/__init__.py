"""The provider contract, its sync facade and the shared versioning rules."""

from .base import CredentialProvider, ListFilter
from .sync import SyncCredentialProvider
from .versioning import check_expected_version, next_revision, validate_expected_version

__all__ = [
    "CredentialProvider",
    "ListFilter",
    "SyncCredentialProvider",
    "check_expected_version",
    "next_revision",
    "validate_expected_version",
]
