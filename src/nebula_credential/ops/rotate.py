"""Rotate one oauth2 credential with its refresh token, and roll a rotation back.

A rotation never spends a refresh token that another rotation is spending:

1. read the credential (version N) and take a **lease**: store it unchanged but for the
   tag ``nebula-credential/rotating`` with ``expected_version=N``. Of two rotations that
   read N, one gets the lease (N+1); the other gets a Conflict and never calls the
   endpoint. A lease older than ``lease_seconds`` (a crashed rotation) is taken over.
2. call the token endpoint with the refresh token read in step 1.
3. write the new tokens and expiry with ``expected_version=N+1``, keeping version N as
   the previous version (``store(..., previous=...)``) and dropping the lease tag.
   If the credential changed meanwhile (edited by hand), the new tokens are merged onto
   what is there now, as long as it still holds the refresh token that was spent;
   otherwise the rotation reports a Conflict and writes nothing.

When the endpoint refuses or cannot be reached, the lease is released: the credential's
content (fields, tags, scope, owner, expiry) is exactly as before; only its version
moved (N+2). ``rollback`` stores the kept previous version back and keeps the version it
replaced as the new previous one, so a second rollback undoes the first.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from ..domain import (
    ConfigurationError,
    Conflict,
    Credential,
    CredentialError,
    CredentialId,
    CredentialKind,
    NotFound,
    NotRotatable,
    RotationFailed,
    format_timestamp,
    parse_timestamp,
    utcnow,
)
from ..providers import CredentialProvider
from .results import RotationResult
from .token_endpoint import DEFAULT_TIMEOUT, RefreshRequest, TokenGrant, check_token_url, refresh

LEASE_TAG: Final = "nebula-credential/rotating"
_MERGE_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True)
class RotateOptions:
    """``timeout`` bounds the whole token exchange; ``lease_seconds`` when a lease is stale."""

    timeout: float = DEFAULT_TIMEOUT
    allow_http: bool = False
    lease_seconds: float = 300.0

    def __post_init__(self) -> None:
        # A lease must outlive the exchange it guards, or a second rotation takes it over
        # while the first still waits for the endpoint with the same refresh token.
        if not (self.timeout > 0 and self.lease_seconds >= self.timeout + 30):
            raise ConfigurationError(
                f"rotation needs timeout > 0 and lease_seconds >= timeout + 30 (got "
                f"{self.timeout:g} and {self.lease_seconds:g})"
            )


def refresh_request(credential: Credential, *, allow_http: bool = False) -> RefreshRequest:
    """What to send for ``credential``; NotRotatable when it cannot be rotated."""
    cid = credential.id
    if credential.kind is not CredentialKind.OAUTH2:
        raise NotRotatable(
            f"credential {cid!r} is {credential.kind.value}; only oauth2 credentials rotate",
            credential_id=cid,
        )
    missing = [n for n in ("token_url", "refresh_token") if not credential.fields.get(n)]
    if missing:
        raise NotRotatable(
            f"credential {cid!r} has no {' and no '.join(missing)}; store them to rotate it",
            credential_id=cid,
        )
    try:
        url = check_token_url(str(credential.reveal("token_url")), allow_http=allow_http)
    except NotRotatable as exc:
        exc.credential_id = cid
        exc.message = f"credential {cid!r}: {exc.message}"
        raise
    scopes = credential.fields.get("scopes")
    return RefreshRequest(
        token_url=url,
        client_id=_text(credential, "client_id"),
        client_secret=_text(credential, "client_secret"),
        refresh_token=str(credential.reveal("refresh_token")),
        scope=None if not scopes else str(scopes),
    )


def _text(credential: Credential, name: str) -> str | None:
    return str(credential.reveal(name)) if credential.fields.get(name) else None


def without_lease(credential: Credential) -> Credential:
    if LEASE_TAG not in credential.tags:
        return credential
    return credential.evolve(tags={k: v for k, v in credential.tags.items() if k != LEASE_TAG})


def _check_no_live_lease(credential: Credential, lease_seconds: float) -> None:
    held = credential.tags.get(LEASE_TAG)
    if held is None:
        return
    try:
        since = parse_timestamp(held.split(" ", 1)[0], "lease")
    except CredentialError:  # an unreadable lease counts as stale
        return
    if utcnow() - since < timedelta(seconds=lease_seconds):
        raise Conflict(
            f"credential {credential.id!r} is being rotated by another process (since "
            f"{format_timestamp(since)}); retry later",
            credential_id=credential.id,
        )


def _rotated(current: Credential, grant: TokenGrant) -> Credential:
    fields: dict[str, str | None] = {"access_token": grant.access_token}
    if grant.refresh_token is not None:
        fields["refresh_token"] = grant.refresh_token
    if grant.token_type is not None:
        fields["token_type"] = grant.token_type
    expires = None
    if grant.expires_in is not None:
        expires = utcnow() + timedelta(seconds=grant.expires_in)
    fields["access_token_expires_at"] = None if expires is None else format_timestamp(expires)
    return without_lease(current).evolve(fields=fields, expires_at=expires)


async def _write_rotated(
    provider: CredentialProvider,
    leased: Credential,
    original: Credential,
    grant: TokenGrant,
    spent: str,
) -> Credential:
    """Store the new tokens over ``leased`` (CAS), merging onto a hand edit if safe."""
    current = leased
    for _ in range(_MERGE_ATTEMPTS):
        try:
            return await provider.store(
                _rotated(current, grant), expected_version=current.version, previous=original
            )
        except Conflict:
            found = await provider.retrieve(original.id)
            same_token = found is not None and found.fields.get("refresh_token") is not None
            if found is None or not same_token or found.reveal("refresh_token") != spent:
                raise Conflict(
                    f"credential {original.id!r} was changed while it was being rotated and "
                    "no longer holds the refresh token that was spent; the new tokens were "
                    "discarded: check the credential and authorize again if needed",
                    credential_id=original.id,
                ) from None
            current = found
    raise Conflict(
        f"credential {original.id!r} kept changing while it was being rotated; the new "
        "tokens were discarded",
        credential_id=original.id,
    )


async def rotate(
    provider: CredentialProvider, credential_id: str, *, options: RotateOptions | None = None
) -> RotationResult:
    """Refresh ``credential_id``'s tokens; raises NotFound, NotRotatable, Conflict,
    RotationFailed (TokenEndpointUnreachable) and provider errors."""
    options = options or RotateOptions()
    cid = CredentialId(credential_id)
    original = await provider.get(cid)
    _check_no_live_lease(original, options.lease_seconds)
    original = without_lease(original) if LEASE_TAG in original.tags else original
    request = refresh_request(original, allow_http=options.allow_http)
    lease = f"{format_timestamp(utcnow())} {secrets.token_hex(4)}"
    try:
        leased = await provider.store(
            original.evolve(tags={**original.tags, LEASE_TAG: lease}),
            expected_version=original.version,
        )
    except Conflict as exc:
        raise Conflict(
            f"credential {cid!r} changed or is being rotated by another process; "
            "read it again and retry",
            credential_id=cid,
            expected_version=exc.expected_version,
            actual_version=exc.actual_version,
        ) from None
    try:
        grant = await refresh(request, limit=options.timeout, allow_http=options.allow_http)
    except BaseException as exc:
        if isinstance(exc, RotationFailed):
            exc.credential_id = cid
            exc.message = f"credential {cid!r}: {exc.message}"
        await _release(provider, leased, original)
        raise
    stored = await _write_rotated(provider, leased, original, grant, request.refresh_token)
    return RotationResult(
        cid,
        "rotated",
        version_before=original.version,
        version_after=stored.version,
        expires_at=_expiry(stored),
        new_refresh_token=grant.refresh_token is not None,
    )


def _expiry(stored: Credential) -> str | None:
    return None if stored.expires_at is None else format_timestamp(stored.expires_at)


async def _release(provider: CredentialProvider, leased: Credential, original: Credential) -> None:
    """Put the content back as it was read. A lost race means someone else moved on; an
    unreachable store leaves the lease, which goes stale after ``lease_seconds``."""
    with contextlib.suppress(CredentialError):
        await provider.store(without_lease(original), expected_version=leased.version)


async def rollback(provider: CredentialProvider, credential_id: str) -> RotationResult:
    """Restore the kept previous version (as a new version) and keep the replaced one."""
    cid = CredentialId(credential_id)
    current = await provider.get(cid)
    _check_no_live_lease(current, RotateOptions().lease_seconds)
    previous = await provider.retrieve_previous(cid)
    if previous is None:
        raise NotFound(
            f"credential {cid!r} has no previous version to roll back to; only a rotation "
            "keeps one",
            credential_id=cid,
        )
    stored = await provider.store(
        without_lease(previous), expected_version=current.version, previous=without_lease(current)
    )
    return RotationResult(
        cid,
        "rolled_back",
        version_before=current.version,
        version_after=stored.version,
        expires_at=_expiry(stored),
    )
