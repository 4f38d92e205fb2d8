"""The error hierarchy of nebula-credential.

Every error a user of the library can see derives from :class:`CredentialError`::

    CredentialError
    ├── ValidationError            bad input: ids, scopes, payloads
    │   ├── InvalidCredentialId
    │   ├── InvalidScope
    │   ├── InvalidCredential
    │   ├── NotOwned               the stored object there is not this credential's
    │   └── NotRotatable           not an oauth2 credential with token_url and refresh_token
    ├── NotFound
    ├── Conflict                   stale expected_version
    │   ├── LeaseHeld              another process holds the credential's rotation lease
    │   └── LeaseLost              the rotation lease is no longer ours: nothing written
    ├── PermissionDenied
    ├── AuthenticationError
    ├── ProviderUnavailable        after retries
    ├── PayloadTooLarge
    ├── CorruptData                stored bytes do not decode into a credential
    ├── DecryptionFailed           wrong key
    ├── ConfigurationError         provider cannot be set up
    ├── RotationFailed             an OAuth2 token endpoint gave no new token
    │   └── TokenEndpointUnreachable   timeout, connection failure, 5xx
    └── GrantPending               new tokens were issued but could not be written yet

Messages say what failed, on which object and what to do next. They never contain a
secret value: callers build them from ids, names and field names only. The CLI maps
these types to exit codes (``nebula_credential.cli.exit_codes``).
"""

from __future__ import annotations


class CredentialError(Exception):
    """Root of every error raised by nebula-credential."""

    def __init__(self, message: str, *, credential_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.credential_id = credential_id

    def __str__(self) -> str:
        return self.message


class ValidationError(CredentialError):
    """Input that does not describe a valid credential, id or scope."""


class InvalidCredentialId(ValidationError):
    """A credential id that breaks the id rules."""


class InvalidScope(ValidationError):
    """A scope string that does not parse."""


class InvalidCredential(ValidationError):
    """A payload with a wrong kind, a missing required field or a wrong type."""


class NotOwned(ValidationError):
    """What is stored where a credential would be is not that credential's to change."""


class NotFound(CredentialError):
    """The credential does not exist."""


class Conflict(CredentialError):
    """A write lost an optimistic-concurrency race (stale ``expected_version``)."""

    def __init__(
        self,
        message: str,
        *,
        credential_id: str | None = None,
        expected_version: int | None = None,
        actual_version: int | None = None,
    ) -> None:
        super().__init__(message, credential_id=credential_id)
        self.expected_version = expected_version
        self.actual_version = actual_version


class LeaseHeld(Conflict):
    """Another process holds a live rotation lease on the credential."""


class LeaseLost(Conflict):
    """A write fenced by a rotation lease found the lease gone or taken over."""


class PermissionDenied(CredentialError):
    """The backend refused the operation for the current identity."""

    def __init__(
        self,
        message: str,
        *,
        credential_id: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
    ) -> None:
        super().__init__(message, credential_id=credential_id)
        self.verb = verb
        self.resource = resource
        self.namespace = namespace


class AuthenticationError(CredentialError):
    """The backend did not accept the credentials of the current identity."""


class ProviderUnavailable(CredentialError):
    """The backend could not be reached or kept failing after retries."""


class PayloadTooLarge(CredentialError):
    """The serialized credential exceeds what the backend can hold."""


class CorruptData(CredentialError):
    """Stored bytes exist but do not decode into a valid credential."""


class DecryptionFailed(CredentialError):
    """The key in use cannot decrypt the store (wrong key or passphrase)."""


class ConfigurationError(CredentialError):
    """The provider cannot be configured (missing kubeconfig, bad key, ...)."""


class WrongEventLoop(ConfigurationError):
    """A provider was used from an event loop other than the one it runs on."""


class NotRotatable(ValidationError):
    """The credential cannot be rotated: not oauth2, or no token_url / refresh_token."""


class RotationFailed(CredentialError):
    """The token endpoint refused the refresh or answered something unusable.

    ``error_code`` is the OAuth2 ``error`` the endpoint sent (``invalid_grant``,
    ``invalid_client``, ...) or one of ours (``invalid_response``, ``timeout``,
    ``unreachable``, ``server_error``); ``status`` the HTTP status, when there was one.
    The endpoint's ``error_description`` is never kept: servers may echo what was sent.
    """

    def __init__(
        self,
        message: str,
        *,
        credential_id: str | None = None,
        error_code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, credential_id=credential_id)
        self.error_code = error_code
        self.status = status


class TokenEndpointUnreachable(RotationFailed):
    """The token endpoint did not answer in time, refused the connection, or failed (5xx).

    ``request_sent`` tells whether the request may have reached the endpoint: False
    means it certainly did not (the connection was never made), so the refresh token
    was not spent and a retry is safe; True means the endpoint may have spent it.
    """

    def __init__(
        self,
        message: str,
        *,
        credential_id: str | None = None,
        error_code: str | None = None,
        status: int | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(message, credential_id=credential_id, error_code=error_code, status=status)
        self.request_sent = request_sent


class GrantPending(CredentialError):
    """The token endpoint issued new tokens (the old refresh token is spent) but they
    could not be written to the store before the deadline. They are kept, encrypted,
    in a journal; ``journal`` names where, and ``rotate ID --resume`` lands them."""

    def __init__(
        self, message: str, *, credential_id: str | None = None, journal: str | None = None
    ) -> None:
        super().__init__(message, credential_id=credential_id)
        self.journal = journal
