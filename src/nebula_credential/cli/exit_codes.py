"""Exit codes of the CLI by error type, as the README lists them.

The domain's errors say what went wrong; which number a script sees is the CLI's
business. The most specific class in the table wins; anything else is 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ..domain import (
    AuthenticationError,
    Conflict,
    GrantPending,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProviderUnavailable,
    TokenEndpointUnreachable,
    ValidationError,
)

FAILURE: Final = 1
USAGE: Final = 2
PARTIAL: Final = 7  # list: some stored items could not be read and were skipped
PENDING: Final = 8  # rotate: new tokens issued, kept in the journal, not yet stored

EXIT_CODES: Final[Mapping[type[BaseException], int]] = MappingProxyType(
    {
        ValidationError: USAGE,  # also the CLI's own UsageError
        PayloadTooLarge: USAGE,  # the input is too big for the store: bad input, not a fault
        NotFound: 3,
        Conflict: 4,
        PermissionDenied: 5,
        AuthenticationError: 5,
        ProviderUnavailable: 6,
        TokenEndpointUnreachable: 6,  # a refusal (RotationFailed) is 1
        GrantPending: PENDING,
    }
)


def exit_code_for(error: BaseException) -> int:
    """The exit code for ``error``: its nearest class in :data:`EXIT_CODES`, else 1."""
    for cls in type(error).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return FAILURE
