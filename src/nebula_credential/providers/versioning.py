"""Optimistic concurrency rules shared by every provider (no I/O here)."""

from __future__ import annotations

from datetime import datetime

from ..domain import Conflict, Credential, ValidationError, utcnow


def validate_expected_version(credential_id: str, expected_version: object) -> None:
    """Reject an ``expected_version`` that is not None or a non-negative integer."""
    if expected_version is None:
        return
    if isinstance(expected_version, bool) or not isinstance(expected_version, int):
        raise ValidationError("expected_version must be an integer", credential_id=credential_id)
    if expected_version < 0:
        raise ValidationError(
            f"expected_version must be 0 (create only) or a stored version, not {expected_version}",
            credential_id=credential_id,
        )


def check_expected_version(credential_id: str, current: int, expected_version: int | None) -> None:
    """Raise Conflict when the caller's ``expected_version`` is stale."""
    validate_expected_version(credential_id, expected_version)
    if expected_version is None or expected_version == current:
        return
    state = "does not exist" if current == 0 else f"is at version {current}"
    raise Conflict(
        f"credential {credential_id!r} {state} but the write expected version "
        f"{expected_version}; read it again and retry",
        credential_id=credential_id,
        expected_version=expected_version,
        actual_version=current,
    )


def next_revision(
    credential: Credential,
    current: Credential | None,
    *,
    current_version: int | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Credential:
    """The credential as it will be stored over ``current`` (None when absent).

    ``current_version`` overrides ``current.version`` when the provider knows the
    version but not the full credential (e.g. an unreadable row being overwritten).
    """
    version = (
        current_version
        if current_version is not None
        else (current.version if current is not None else 0)
    )
    check_expected_version(credential.id, version, expected_version)
    moment = now or utcnow()
    created = current.created_at if current is not None and current.created_at else None
    return credential.revised(version + 1, created or credential.created_at or moment, moment)
