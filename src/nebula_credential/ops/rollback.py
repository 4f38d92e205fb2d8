"""Undo the last rotation: restore the version it replaced.

A rotation stores its new tokens as version N+1 and keeps version N as the previous
one. Rolling back stores N again as N+2, keeping N+1 as the previous one, so a second
rollback undoes the first. It is refused once the credential was stored again after
the rotation (current != previous + 1), unless forced: that would silently undo the
later change as well. The rotation lease is taken, so no rotation runs meanwhile.
"""

from __future__ import annotations

from ..domain import Conflict, Credential, CredentialId, NotFound
from ..providers import CredentialProvider
from .results import RotationResult
from .rotate import RotateOptions, expiry_text
from .writeback import LEGACY_LEASE_TAG, release_quietly


async def rollback(
    provider: CredentialProvider, credential_id: str, *, force: bool = False
) -> RotationResult:
    """Restore the version the last rotation replaced, as a new version, keeping the
    replaced one as previous (a second rollback undoes the first).

    Only while the current version is that rotation's own (previous + 1); after a later
    store, Conflict unless ``force``. The lease is taken, so no rotation runs meanwhile.
    """
    cid = CredentialId(credential_id)
    current = await provider.get(cid)
    previous = await provider.retrieve_previous(cid)
    if previous is None:
        raise NotFound(
            f"credential {cid!r} has no previous version to roll back to; only a rotation "
            "keeps one",
            credential_id=cid,
        )
    _check_undoable(current, previous, force)
    lease = await provider.acquire_lease(cid, seconds=RotateOptions().lease_seconds)
    try:
        now = await provider.get(cid)
        if now.version != current.version:
            raise Conflict(
                f"credential {cid!r} changed while it was being rolled back (version "
                f"{current.version} -> {now.version}); nothing was written: run it again",
                credential_id=cid,
            )
        restored = previous.evolve(
            tags={k: v for k, v in previous.tags.items() if k != LEGACY_LEASE_TAG}
        )
        stored = await provider.store_fenced(
            restored, lease=lease, expected_version=current.version, previous=current
        )
    except BaseException:
        await release_quietly(provider, lease)
        raise
    warnings: tuple[str, ...] = ()
    if previous.fields.get("refresh_token") and (
        not current.fields.get("refresh_token")
        or previous.reveal("refresh_token") != current.reveal("refresh_token")
    ):
        warnings = (
            "the restored refresh token is the one the rotation spent: an authorization "
            "server that rotates refresh tokens has revoked it already (and one with reuse "
            "detection revokes the new ones too when it is sent again)",
        )
    return RotationResult(
        cid,
        "rolled_back",
        version_before=current.version,
        version_after=stored.version,
        expires_at=expiry_text(stored),
        warnings=warnings,
    )


def _check_undoable(current: Credential, previous: Credential, force: bool) -> None:
    if force or current.version == previous.version + 1:
        return
    raise Conflict(
        f"credential {current.id!r} was stored again after its last rotation (version "
        f"{current.version}; the rotation wrote {previous.version + 1}): rolling back would "
        "undo that change too. Check it, and use --force to restore version "
        f"{previous.version} anyway",
        credential_id=current.id,
        expected_version=previous.version + 1,
        actual_version=current.version,
    )
