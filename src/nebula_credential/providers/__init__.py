"""The provider contract, its sync facade and the shared versioning rules."""

from .base import (
    NOT_CACHED,
    BlockingAccess,
    Change,
    CredentialProvider,
    ListFilter,
    NotCached,
    SkipHandler,
    check_previous,
    not_found,
)
from .lease import Lease, new_holder
from .sync import SyncCredentialProvider
from .versioning import check_expected_version, next_revision, validate_expected_version

__all__ = [
    "NOT_CACHED",
    "BlockingAccess",
    "Change",
    "CredentialProvider",
    "Lease",
    "ListFilter",
    "NotCached",
    "SkipHandler",
    "SyncCredentialProvider",
    "check_expected_version",
    "check_previous",
    "new_holder",
    "next_revision",
    "not_found",
    "validate_expected_version",
]
