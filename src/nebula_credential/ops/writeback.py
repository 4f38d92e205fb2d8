"""Landing issued tokens in the store: fenced, retried until a deadline, never dropped.

Once the token endpoint answered, the refresh token that was sent is spent and the new
tokens exist nowhere else. :func:`land` writes them with the rotation's lease as fence
and the version read under the lease as compare-and-swap:

- a transient failure (ProviderUnavailable: an API server down or restarting, 429 and
  5xx after the transport's own retries, a local store locked past its lock timeout)
  is retried with growing pauses until ``deadline``; after each failure it first looks
  whether the write landed anyway (a reply lost on the way back);
- a Conflict (someone stored the credential meanwhile) merges the tokens onto what is
  there now, as long as that still holds the refresh token that was spent;
- anything else, or the deadline, raises :class:`GrantPending`: the caller has kept the
  grant in its journal and says how to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from ..domain import (
    RESERVED_TAG_KEYS,
    Conflict,
    Credential,
    CredentialError,
    GrantPending,
    LeaseLost,
    ProviderUnavailable,
    format_timestamp,
)
from ..providers import CredentialProvider, Lease
from .journal import PendingGrant, digest

(LEGACY_LEASE_TAG,) = RESERVED_TAG_KEYS
_MERGES: Final = 20
_FIRST_PAUSE: Final = 0.5
_MAX_PAUSE: Final = 10.0


@dataclass(frozen=True, slots=True)
class Landed:
    """What :func:`land` wrote (or found already written), and what it noticed."""

    stored: Credential
    replaced: Credential
    warnings: tuple[str, ...] = ()


def new_expiry(entry: PendingGrant, current: Credential) -> tuple[str | None, str | None]:
    """``access_token_expires_at`` after the grant, and a warning when it is kept.

    ``expires_in`` counts from when the answer arrived. Zero or less: expired already.
    Absent or unusable: the old value stays (a cleared expiry would never be due
    again), with a warning. The credential's own ``expires_at`` is the user's and is
    never touched by rotation.
    """
    grant = entry.grant
    old = current.fields.get("access_token_expires_at")
    kept = old if isinstance(old, str) and old else None
    if grant.expires_in is not None:
        seconds = max(0, grant.expires_in)
        return format_timestamp(entry.received_at + timedelta(seconds=seconds)), None
    why = (
        "an unusable expires_in" if getattr(grant, "expires_in_ignored", False) else "no expires_in"
    )
    return kept, (
        f"the token endpoint sent {why}; access_token_expires_at was left as it was"
        + ("" if kept else " (unset)")
    )


def rotated(current: Credential, entry: PendingGrant) -> tuple[Credential, str | None]:
    """``current`` with the grant's tokens; the legacy lease tag dropped."""
    grant = entry.grant
    fields: dict[str, str | None] = {"access_token": grant.access_token}
    if grant.refresh_token is not None:
        fields["refresh_token"] = grant.refresh_token
    if grant.token_type is not None:
        fields["token_type"] = grant.token_type
    expiry, warning = new_expiry(entry, current)
    fields["access_token_expires_at"] = expiry
    tags = {k: v for k, v in current.tags.items() if k != LEGACY_LEASE_TAG}
    return current.evolve(fields=fields, tags=tags), warning


def holds_grant(found: Credential | None, entry: PendingGrant) -> bool:
    """Whether ``found`` already carries the grant's access token (it landed)."""
    if found is None or not found.fields.get("access_token"):
        return False
    return bool(found.reveal("access_token") == entry.grant.access_token)


def holds_spent(found: Credential | None, entry: PendingGrant) -> bool:
    """Whether ``found`` still holds the refresh token the grant was bought with."""
    if found is None or not found.fields.get("refresh_token"):
        return False
    return digest(str(found.reveal("refresh_token"))) == entry.spent


async def land(
    provider: CredentialProvider,
    lease: Lease,
    current: Credential,
    entry: PendingGrant,
    *,
    deadline: float,
    kept_at: str | None,
    clock: Callable[[], float] = time.monotonic,
) -> Landed:
    """Write the grant over ``current`` (see the module docstring)."""
    give_up_at = clock() + deadline
    target = current
    pause = _FIRST_PAUSE
    merges = 0
    last: CredentialError | None = None
    while True:
        credential, warning = rotated(target, entry)
        try:
            stored = await provider.store_fenced(
                credential, lease=lease, expected_version=target.version, previous=target
            )
            return Landed(stored, target, (warning,) if warning else ())
        except LeaseLost as exc:
            last = exc
        except Conflict as exc:
            last = exc
            merges += 1
        except ProviderUnavailable as exc:
            last = exc
        except CredentialError as exc:
            raise _pending(entry, kept_at, exc.message) from None
        found: Credential | None = None
        try:
            found = await provider.retrieve(entry.credential_id)
        except ProviderUnavailable as exc:
            last, found = exc, target
        except CredentialError as exc:
            raise _pending(entry, kept_at, exc.message) from None
        if holds_grant(found, entry):
            assert found is not None
            await release_quietly(provider, lease)
            return Landed(found, target)  # an earlier attempt landed; its reply was lost
        if isinstance(last, LeaseLost):
            raise _pending(entry, kept_at, last.message)
        if found is None:
            raise _pending(entry, kept_at, "the credential was deleted meanwhile")
        if not holds_spent(found, entry):
            raise _changed(entry, kept_at)
        if isinstance(last, Conflict):
            if merges > _MERGES:
                raise _pending(entry, kept_at, "the credential kept changing")
            target = found
            continue
        target = found
        if clock() + pause > give_up_at:
            break
        await asyncio.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)
    assert last is not None
    raise _pending(entry, kept_at, f"still failing after {deadline:g}s: {last.message}")


async def release_quietly(provider: CredentialProvider, lease: Lease) -> None:
    """Give the lease up; one left behind (a store down) goes stale on its own."""
    with contextlib.suppress(CredentialError):
        await provider.release_lease(lease)


def finish_line(entry: PendingGrant, kept_at: str | None) -> str:
    """How a user finishes a pending grant, or what was lost when it could not be kept."""
    cid = entry.credential_id
    if kept_at is None:
        return "the new tokens could not be kept either: the credential must be authorized again"
    return (
        f"the new tokens are kept encrypted in {kept_at}; finish with: "
        f"nebula-credential rotate {cid} --resume (with the same --provider, --namespace "
        "and --data-dir), which does not call the token endpoint again"
    )


def _pending(entry: PendingGrant, kept_at: str | None, why: str) -> GrantPending:
    return GrantPending(
        f"credential {entry.credential_id!r}: the token endpoint issued new tokens and the "
        f"refresh token that was sent is now spent, but they could not be stored "
        f"({why}); {finish_line(entry, kept_at)}",
        credential_id=entry.credential_id,
        journal=kept_at,
    )


def _changed(entry: PendingGrant, kept_at: str | None) -> Conflict:
    how = (
        f"they are kept in {kept_at}: check the credential, then write them over it with "
        f"'nebula-credential rotate {entry.credential_id} --resume --force', or discard "
        f"them with '--resume --discard'"
        if kept_at
        else "they could not be kept"
    )
    return Conflict(
        f"credential {entry.credential_id!r} was changed while it was being rotated and no "
        f"longer holds the refresh token that was spent; the new tokens were not written: "
        f"{how}",
        credential_id=entry.credential_id,
    )
