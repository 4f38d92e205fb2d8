"""Rotate one oauth2 credential with its refresh token, and roll a rotation back.

What rotation guarantees (the README's rotation section says it for users):

1. **One spender.** A rotation first takes the credential's *lease*, held outside the
   credential (:mod:`nebula_credential.providers.lease`): of two rotations, one gets it
   and the other never calls the endpoint. Taking, holding or losing a lease never
   changes the credential, so a failed, refused or conflicting rotation leaves its
   content and version exactly as they were. The lease lasts ``timeout +
   write_deadline + 60`` seconds: longer than the rotation that holds it can act.
2. **Never lost.** Once the endpoint answered with new tokens, the old refresh token is
   spent. The grant is filed in the journal (``options.journal``) before it is
   written, written with the lease as fence and the version read under the lease as
   compare-and-swap, retried through transient failures until ``write_deadline``
   (:mod:`.writeback`), and only then removed from the journal. If it cannot be
   written, :class:`GrantPending` says where it is kept; :func:`resume` (``rotate ID
   --resume``) lands it without calling the endpoint, and so does any later
   :func:`rotate` of that id, before it would send a spent token.
3. **Undo means undo.** The replaced version is kept as the previous one;
   :func:`.rollback.rollback` restores it only while the current version is the
   rotation's own.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from ..domain import (
    ConfigurationError,
    Conflict,
    Credential,
    CredentialError,
    CredentialId,
    CredentialKind,
    LeaseHeld,
    NotFound,
    NotRotatable,
    RotationFailed,
    format_timestamp,
    utcnow,
)
from ..providers import CredentialProvider, Lease
from . import journal as journals
from .journal import GrantJournal, PendingGrant, digest
from .results import RotationResult
from .token_endpoint import DEFAULT_TIMEOUT, RefreshRequest, check_token_url, refresh
from .writeback import LEGACY_LEASE_TAG, Landed, holds_grant, holds_spent, land, release_quietly

LEASE_TAG: Final = LEGACY_LEASE_TAG  # reserved: refused in user input (see the CLI)
DEFAULT_WRITE_DEADLINE: Final = 330.0
_LEASE_MARGIN: Final = 60.0
_MAX_SECONDS: Final = 6 * 3600.0
StillDue = Callable[[Credential], bool]


@dataclass(frozen=True, slots=True)
class RotateOptions:
    """``timeout`` bounds the token exchange; ``write_deadline`` how long issued tokens
    are retried into the store; ``journal`` keeps them meanwhile (None: nowhere)."""

    timeout: float = DEFAULT_TIMEOUT
    allow_http: bool = False
    write_deadline: float = DEFAULT_WRITE_DEADLINE
    journal: GrantJournal | None = None

    def __post_init__(self) -> None:
        for name, value, low in (
            ("timeout", self.timeout, 1e-3),
            ("write_deadline", self.write_deadline, 0.0),
        ):
            if not (math.isfinite(value) and low <= value <= _MAX_SECONDS):
                raise ConfigurationError(
                    f"rotation needs {name} between {low:g} and {_MAX_SECONDS:g} seconds, "
                    f"not {value!r}"
                )

    @property
    def lease_seconds(self) -> float:
        """How long the lease lasts: longer than this rotation can act."""
        return self.timeout + self.write_deadline + _LEASE_MARGIN


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


def expiry_text(stored: Credential) -> str | None:
    noted = stored.fields.get("access_token_expires_at")
    if isinstance(noted, str) and noted:
        return noted
    return None if stored.expires_at is None else format_timestamp(stored.expires_at)


def _result(landed: Landed, entry: PendingGrant, *, resumed: bool = False) -> RotationResult:
    return RotationResult(
        entry.credential_id,
        "rotated",
        version_before=landed.replaced.version,
        version_after=landed.stored.version,
        expires_at=expiry_text(landed.stored),
        new_refresh_token=entry.grant.refresh_token is not None,
        resumed=resumed,
        warnings=landed.warnings,
    )


def _keep(options: RotateOptions, entry: PendingGrant) -> tuple[str | None, str | None]:
    """File ``entry`` in the journal: (where, None), or (None, why it could not be)."""
    if options.journal is None:
        return None, "no journal is configured"
    try:
        return journals.save(options.journal, entry), None
    except CredentialError as exc:
        return None, exc.message
    except OSError as exc:
        return None, exc.strerror or type(exc).__name__


def _forget(options: RotateOptions, entry: PendingGrant) -> None:
    """Drop the landed grant from the journal. A file that cannot be removed does no
    harm: a later rotation of that id finds its tokens stored and drops the file."""
    if options.journal is not None:
        with contextlib.suppress(OSError):
            options.journal.remove(entry.location, entry.credential_id)


async def rotate(
    provider: CredentialProvider,
    credential_id: str,
    *,
    options: RotateOptions | None = None,
    still_due: StillDue | None = None,
) -> RotationResult:
    """Refresh ``credential_id``'s tokens (see the module docstring).

    A grant pending in the journal is landed first, without calling the endpoint.
    ``still_due`` (from ``rotate --due``): when the credential read under the lease is
    no longer due, another run rotated it: the result is ``skipped``. Raises NotFound,
    NotRotatable, LeaseHeld (a Conflict), RotationFailed, GrantPending, provider errors.
    """
    options = options or RotateOptions()
    cid = CredentialId(credential_id)
    if options.journal is not None:
        pending = journals.load(options.journal, provider.location, cid)
        if pending is not None:
            _check_not_in_flight(pending, force=False)
            return await _finish(provider, pending, options, force=False)
    # Refused before a lease is taken: a missing or unrotatable id touches no lease.
    refresh_request(await provider.get(cid), allow_http=options.allow_http)
    lease = await provider.acquire_lease(cid, seconds=options.lease_seconds)
    try:
        current = await provider.get(cid)  # as it is now that nobody else can rotate it
        if still_due is not None and not still_due(current):
            await release_quietly(provider, lease)
            return RotationResult(cid, "skipped", reason="rotated elsewhere", error_code="done")
        request = refresh_request(current, allow_http=options.allow_http)
        grant = await refresh(request, limit=options.timeout, allow_http=options.allow_http)
    except BaseException as exc:
        if isinstance(exc, RotationFailed):
            exc.credential_id = cid
            exc.message = f"credential {cid!r}: {exc.message}"
        await release_quietly(provider, lease)
        raise
    entry = PendingGrant(
        provider.location,
        cid,
        lease.holder,
        digest(request.refresh_token),
        utcnow(),
        grant,
        term=options.lease_seconds,
    )
    kept_at, unkept = _keep(options, entry)
    landed = await _land_or_abandon(provider, lease, current, entry, options, kept_at)
    _forget(options, entry)
    result = _result(landed, entry)
    if unkept is not None and options.journal is not None:
        warning = f"the new tokens could not be filed in the journal first ({unkept})"
        result = replace(result, warnings=(*result.warnings, warning))
    return result


async def resume(
    provider: CredentialProvider,
    credential_id: str,
    *,
    options: RotateOptions,
    force: bool = False,
    discard: bool = False,
) -> RotationResult:
    """Land the grant a failed rotation kept in ``options.journal``, without calling the
    token endpoint; ``discard`` forgets it instead. NotFound when none is pending."""
    cid = CredentialId(credential_id)
    pending = None
    if options.journal is not None:
        pending = journals.load(options.journal, provider.location, cid)
    if pending is None:
        raise NotFound(
            f"credential {cid!r} has no pending grant to resume in {provider.location}",
            credential_id=cid,
        )
    _check_not_in_flight(pending, force=force)
    if discard:
        _forget(options, pending)
        return RotationResult(cid, "discarded", reason="the pending grant was discarded")
    return await _finish(provider, pending, options, force=force)


def _check_not_in_flight(entry: PendingGrant, *, force: bool) -> None:
    """LeaseHeld while the rotation that filed ``entry`` may still be writing it."""
    if force or not entry.in_flight(utcnow()):
        return
    until = entry.received_at + timedelta(seconds=entry.term)
    raise LeaseHeld(
        f"credential {entry.credential_id!r} is being rotated by another process, which "
        f"received new tokens at {format_timestamp(entry.received_at)} and is still writing "
        f"them; retry after {format_timestamp(until)} if it never finishes",
        credential_id=entry.credential_id,
    )


async def _land_or_abandon(
    provider: CredentialProvider,
    lease: Lease,
    current: Credential,
    entry: PendingGrant,
    options: RotateOptions,
    kept_at: str | None,
) -> Landed:
    """:func:`land`; when it gives up, the journal entry is marked abandoned, so that
    ``--resume`` or the next rotation may finish it at once."""
    try:
        return await land(
            provider, lease, current, entry, deadline=options.write_deadline, kept_at=kept_at
        )
    except BaseException:
        if kept_at is not None and options.journal is not None:
            with contextlib.suppress(CredentialError, OSError):
                journals.save(options.journal, replace(entry, abandoned=True))
        raise


async def _finish(
    provider: CredentialProvider, entry: PendingGrant, options: RotateOptions, *, force: bool
) -> RotationResult:
    cid = entry.credential_id
    kept_at = None if options.journal is None else options.journal.where(entry.location, cid)
    current = await provider.get(cid)
    if holds_grant(current, entry):  # it landed before its rotation could say so
        _forget(options, entry)
        return RotationResult(
            cid,
            "rotated",
            version_before=current.version,
            version_after=current.version,
            expires_at=expiry_text(current),
            resumed=True,
        )
    if not holds_spent(current, entry) and not force:
        raise Conflict(
            f"credential {cid!r} was changed after the rotation whose new tokens are kept in "
            f"{kept_at}: it no longer holds the refresh token they replace. Check it, then "
            f"write them over it with 'rotate {cid} --resume --force', or discard them with "
            "'rotate --resume --discard'",
            credential_id=cid,
        )
    lease = await provider.acquire_lease(cid, seconds=options.lease_seconds, holder=entry.holder)
    try:
        current = await provider.get(cid)
    except BaseException:
        await release_quietly(provider, lease)
        raise
    landed = await _land_or_abandon(provider, lease, current, entry, options, kept_at)
    _forget(options, entry)
    return _result(landed, entry, resumed=True)
