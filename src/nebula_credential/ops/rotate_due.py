"""Rotate every oauth2 credential whose access token expires within a window.

A credential's expiry is its ``access_token_expires_at`` field, else its ``expires_at``.
Due: that moment is within ``within`` from now, or already past. Credentials with no
expiry recorded are not due (there is nothing to tell when): rotate them by id. A due
credential that cannot be rotated (no ``token_url`` or ``refresh_token``) is a failure,
so that a CronJob running this reports it instead of letting the token lapse.

Runs that overlap (a CronJob whose previous run is still going) share the work
safely: a credential whose lease another run holds is ``skipped`` (leased), and one
that is no longer due once its lease is taken was rotated by another run: ``skipped``
(rotated elsewhere). Neither is a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from ..domain import (
    Conflict,
    CorruptData,
    Credential,
    CredentialError,
    CredentialKind,
    GrantPending,
    LeaseHeld,
    NotRotatable,
    RotationFailed,
    parse_timestamp,
    utcnow,
)
from ..providers import CredentialProvider, ListFilter
from .results import RotationResult, RotationSummary
from .rotate import RotateOptions, rotate

ResultCallback = Callable[[RotationResult], None]


def expiry_of(credential: Credential) -> datetime | None:
    """When the credential's access token expires, as far as it says."""
    noted = credential.fields.get("access_token_expires_at")
    if isinstance(noted, str) and noted:
        try:
            return parse_timestamp(noted, "access_token_expires_at", credential.id)
        except CredentialError:
            pass  # unreadable: fall back to the credential's own expiry
    return credential.expires_at


def is_due(credential: Credential, within: timedelta, now: datetime | None = None) -> bool:
    """Whether ``credential`` expires within ``within`` of ``now`` (never without an expiry)."""
    expiry = expiry_of(credential)
    return expiry is not None and expiry <= (now or utcnow()) + within


def _failed(credential_id: str, exc: CredentialError, code: str) -> RotationResult:
    return RotationResult(credential_id, "failed", error_code=code, reason=exc.message)


async def rotate_one(
    provider: CredentialProvider,
    credential_id: str,
    within: timedelta,
    options: RotateOptions | None = None,
) -> RotationResult:
    """Rotate ``credential_id`` if it is still due once its lease is held; never raises
    for the credential's own failure: the result says ``failed`` with an ``error_code``
    (``leased`` is ``skipped``: another run is rotating it right now, its business)."""
    try:
        return await rotate(
            provider,
            credential_id,
            options=options,
            still_due=lambda current: is_due(current, within),
        )
    except LeaseHeld as exc:
        return RotationResult(credential_id, "skipped", error_code="leased", reason=exc.message)
    except GrantPending as exc:
        return _failed(credential_id, exc, "pending")
    except RotationFailed as exc:
        return _failed(credential_id, exc, exc.error_code or "rotation_failed")
    except NotRotatable as exc:
        return _failed(credential_id, exc, "not_rotatable")
    except Conflict as exc:
        return _failed(credential_id, exc, "conflict")
    except CredentialError as exc:
        return _failed(credential_id, exc, type(exc).__name__)


async def rotate_due(
    provider: CredentialProvider,
    *,
    within: timedelta = timedelta(minutes=10),
    selection: ListFilter | None = None,
    concurrency: int = 4,
    options: RotateOptions | None = None,
    on_result: ResultCallback | None = None,
) -> RotationSummary:
    """Rotate what is due among the oauth2 credentials ``selection`` picks.

    Never raises for one credential's failure; an unreadable stored item is reported
    as failed too. At most ``concurrency`` token exchanges run at once.
    """
    options = options or RotateOptions()
    base = selection or ListFilter()
    summary = RotationSummary()
    now = utcnow()
    due: list[Credential] = []

    def unreadable(error: CorruptData) -> None:
        summary.results.append(_failed(str(error.credential_id or "?"), error, "corrupt"))

    chosen = ListFilter(
        scope=base.scope,
        descendants=base.descendants,
        kind=CredentialKind.OAUTH2,
        tags=base.tags,
        on_skip=unreadable,
    )
    async for credential in provider.iter_credentials(chosen):
        if is_due(credential, within, now):
            due.append(credential)
        else:
            summary.not_due += 1
    pending = iter(due)

    async def worker() -> None:
        for credential in pending:  # shared iterator: each credential goes to one worker
            result = await rotate_one(provider, str(credential.id), within, options)
            summary.results.append(result)
            if on_result is not None:
                on_result(result)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(due)))):
            group.create_task(worker())
    return summary
