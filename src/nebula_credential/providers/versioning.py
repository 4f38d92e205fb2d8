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


class CopiedCredential(Credential):
    """A credential copied from another store (migrate, replicate) with its history.

    It goes out as version 0, so a provider creates it without reading first; stored,
    it keeps the timestamps it had where it came from, and its version number unless
    the destination is already past it (versions there only go up). Rollback after a
    copy then finds the kept previous version right below the current one, as before.
    """

    __slots__ = ("source_version",)

    source_version: int


def copied(credential: Credential) -> CopiedCredential:
    """``credential`` as a :class:`CopiedCredential`: version 0, its history kept aside."""
    copy = object.__new__(CopiedCredential)
    for name in Credential.__slots__:
        object.__setattr__(copy, name, getattr(credential, name))
    object.__setattr__(copy, "version", 0)
    object.__setattr__(copy, "source_version", credential.version)
    return copy


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
    A :class:`CopiedCredential` keeps its own timestamps and version (see there).
    """
    version = (
        current_version
        if current_version is not None
        else (current.version if current is not None else 0)
    )
    check_expected_version(credential.id, version, expected_version)
    moment = now or utcnow()
    if isinstance(credential, CopiedCredential):
        return credential.revised(
            max(version + 1, credential.source_version),
            credential.created_at or moment,
            credential.updated_at or moment,
        )
    created = current.created_at if current is not None and current.created_at else None
    return credential.revised(version + 1, created or credential.created_at or moment, moment)
