"""The CLI's exit codes by error type: the numbers the README promises to scripts."""

from __future__ import annotations

import pytest

import nebula_credential as nc
from nebula_credential.cli.exit_codes import exit_code_for
from nebula_credential.cli.inputs import UsageError

# The README: 2 usage or invalid input (a credential too large included), 3 not found,
# 4 conflict (a rotation lease held or lost too), 5 permission denied, 6 provider (or token
# endpoint) unavailable, 8 new tokens kept in the journal (rotate --resume), 1 anything else.
EXPECTED = {
    nc.ValidationError: 2,
    nc.InvalidCredentialId: 2,
    nc.InvalidScope: 2,
    nc.InvalidCredential: 2,
    UsageError: 2,
    nc.NotFound: 3,
    nc.Conflict: 4,
    nc.PermissionDenied: 5,
    nc.AuthenticationError: 5,
    nc.ProviderUnavailable: 6,
    nc.CredentialError: 1,
    nc.PayloadTooLarge: 2,
    nc.CorruptData: 1,
    nc.DecryptionFailed: 1,
    nc.ConfigurationError: 1,
    nc.NotRotatable: 2,
    nc.NotOwned: 2,  # delete of what is not the credential's: refused as bad input
    nc.RotationFailed: 1,
    nc.TokenEndpointUnreachable: 6,
    nc.LeaseHeld: 4,
    nc.LeaseLost: 4,
    nc.GrantPending: 8,
    nc.WrongEventLoop: 1,  # a programming error of the caller, like a bad configuration
}


@pytest.mark.parametrize(
    ("error", "code"), EXPECTED.items(), ids=lambda v: getattr(v, "__name__", v)
)
def test_each_error_type_has_its_documented_exit_code(
    error: type[nc.CredentialError], code: int
) -> None:
    assert exit_code_for(error("x")) == code


def test_every_public_error_is_in_the_table() -> None:
    public = {
        getattr(nc, name)
        for name in nc.__all__
        if isinstance(getattr(nc, name), type) and issubclass(getattr(nc, name), Exception)
    }
    assert public <= set(EXPECTED)


def test_a_subclass_gets_the_code_of_its_nearest_listed_base() -> None:
    class Gone(nc.NotFound):
        pass

    class Odd(nc.CredentialError):
        pass

    assert exit_code_for(Gone("x")) == 3
    assert exit_code_for(Odd("x")) == 1
    assert exit_code_for(RuntimeError("x")) == 1
