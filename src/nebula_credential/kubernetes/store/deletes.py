"""Deleting a credential's Secret: only what is that credential's, exactly as read.

A Secret at the credential's name that is not the credential's -- written by kubectl,
holding another id after two prefixes spell one name, or another prefix's -- is refused
with :class:`NotOwned`, unless the caller forces it. The delete carries the uid and
resourceVersion that were read, so a Secret re-created or changed meanwhile is
re-checked instead of deleted blindly.
"""

from __future__ import annotations

from typing import Final

from ...domain import CredentialId, NotOwned, ProviderUnavailable
from ..api.errors import StaleWrite
from ..api.transport import SecretTransport
from ..model.mapping import where
from ..model.naming import candidate_names
from ..model.objects import SecretObject
from ..model.ownership import belongs, refusal

_RECHECKS: Final = 10


async def delete_credential(
    transport: SecretTransport, prefix: str, cid: CredentialId, *, force: bool
) -> SecretObject | None:
    """Delete ``cid``'s Secret; returns the Secret deleted, None when there was none."""
    refused: SecretObject | None = None
    for name in candidate_names(prefix, cid):
        for _ in range(_RECHECKS):
            found = await transport.get(name)
            if found is None:
                break
            if not force and not belongs(found, prefix, cid):
                refused = refused or found
                break
            try:
                if await transport.delete(found):
                    return found
                break  # gone meanwhile
            except StaleWrite:
                continue  # changed since we read it: look again
        else:
            raise ProviderUnavailable(
                f"Secret {transport.namespace}/{name} kept changing while deleting credential "
                f"{cid!r}; try again",
                credential_id=cid,
            )
    if refused is not None:
        raise NotOwned(
            f"refusing to delete {refusal(refused, prefix, cid, transport.namespace)}, not "
            f"credential {cid!r}; pass --force (force=True) to delete it anyway",
            credential_id=cid,
        )
    return None


def describe(secret: SecretObject, prefix: str, cid: str, namespace: str) -> str:
    """What a forced delete removed, in words."""
    if belongs(secret, prefix, cid):
        return f"{where(secret, namespace)} (credential {cid!r})"
    return refusal(secret, prefix, cid, namespace)
