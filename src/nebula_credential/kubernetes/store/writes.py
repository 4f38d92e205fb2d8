"""Compare-and-swap writes of one credential's Secret.

An update whose version is known (a credential read from the store, or an
``expected_version``) is one request: a JSON Patch whose ``test`` operations make the
same ownership, identity and version checks on the server (``model.json_patch``). When a
test does not hold, or the patch cannot express the update, the slow path below runs.

Create first; on AlreadyExists read the Secret and replace it with the resourceVersion
that was read, so a concurrent update is never overwritten blindly. A lost race is
retried (re-read, re-apply) after a jittered, growing pause, within a budget of attempts
and a deadline, unless the caller pinned ``expected_version``: then it is a Conflict, as
the provider contract says. A writer that pinned nothing is meant to win eventually:
when even the budget runs out it is ProviderUnavailable, never the Conflict that stands
for a stale version. A create or replace whose reply was lost and that was retried
finds its own write and succeeds.
"""

from __future__ import annotations

import time
from typing import Final

from ..._wording import wording
from ...domain import Conflict, CorruptData, Credential, CredentialId, ProviderUnavailable
from ...providers import next_revision
from ..api.errors import AlreadyExists, Missing, StaleWrite
from ..api.retry import CONFLICT_DEADLINE, RetryPolicy
from ..api.transport import SecretTransport
from ..model.json_patch import patchable, update_patch
from ..model.mapping import (
    ANN_ID,
    PREVIOUS_KEY,
    decode,
    encode,
    encode_previous,
    is_managed,
    noted_version,
    surely_fits,
    where,
)
from ..model.naming import MANAGED_BY, MANAGER, candidate_names, secret_name
from ..model.objects import SecretObject
from ..model.ownership import belongs, refusal

# The same backoff as API retries, shorter: a lost race is retried after a random pause
# of up to 10, 20, 40 ms ... (at most 1 s); another writer was just faster. Full jitter
# spreads many writers of one credential over the window, so one of them wins per round.
CONFLICT_BACKOFF: Final = RetryPolicy(base_delay=0.01, max_delay=1.0)


async def _target(
    transport: SecretTransport, prefix: str, credential: Credential, read_first: bool
) -> tuple[str, SecretObject | None]:
    """The name to write and what is there now (None: not read, or absent).

    A credential stored under its legacy name is updated there: moving it would take
    two requests that cannot be one transaction, and a reader between them would find
    nothing. New credentials get the new name.
    """
    name, *legacy = candidate_names(prefix, credential.id)
    if not read_first:
        # A new credential is created under its name straight away (AlreadyExists is
        # handled there); only its legacy name must be looked at first.
        if legacy:
            old = await transport.get(legacy[0])
            if old is not None and belongs(old, prefix, credential.id):
                current = await transport.get(name)  # both present: the new name wins
                return (name, current) if current is not None else (legacy[0], old)
        return name, None
    current = await transport.get(name)
    if current is None and legacy:
        old = await transport.get(legacy[0])
        if old is not None and belongs(old, prefix, credential.id):
            return legacy[0], old
    return name, current


async def write_credential(
    transport: SecretTransport,
    prefix: str,
    credential: Credential,
    *,
    expected_version: int | None,
    conflict_retries: int,
    deadline: float = CONFLICT_DEADLINE,
    previous: Credential | None = None,
) -> Credential:
    """Store ``credential`` in its Secret under ``prefix``; returns it as stored.

    ``previous`` is kept in the same Secret (:data:`PREVIOUS_KEY`); without it the
    previous version kept there before is carried over unchanged.
    """
    give_up_at = time.monotonic() + deadline
    kept = None if previous is None else encode_previous(previous)
    new_name = secret_name(prefix, credential.id)
    # A credential that came from the store most likely exists: read first and save
    # the create call that would fail. A new one is created straight away.
    read_first = credential.version > 0 or bool(expected_version)
    if read_first and not surely_fits(credential, kept):
        encode(credential, new_name, prefix=prefix, previous=kept)  # size checks, before sending
    tried: Credential | None = None
    if read_first:
        tried, done = await _patch(transport, prefix, credential, new_name, kept, expected_version)
        if done:
            assert tried is not None
            return tried
    name, current = await _target(transport, prefix, credential, read_first)
    if tried is not None and current is not None and landed(current, tried, transport.namespace):
        return tried  # the patch landed, but its reply was lost and its repeat refused
    attempt = 0
    for attempt in range(conflict_retries + 1):
        if attempt:
            pause = CONFLICT_BACKOFF.delay(attempt, None)
            if time.monotonic() + pause > give_up_at:
                break
            await transport.pause(pause)
        if current is None and name != new_name:
            # The legacy Secret went away meanwhile: from now on the credential's
            # Secret is the one under its new name, as for every other writer.
            name = new_name
            current = await transport.get(name)
        if current is None:
            stored = next_revision(credential, None, expected_version=expected_version)
            try:
                await transport.create(encode(stored, name, prefix=prefix, previous=kept))
                return stored
            except AlreadyExists:
                current = await transport.get(name)
                if current is None:
                    continue
                if landed(current, stored, transport.namespace):
                    return stored
        if expected_version == 0:
            # Create means create: whatever is at the name (a Secret labelled to be
            # adopted, an unreadable one) is not written over by a create-only store.
            raise Conflict(
                f"{where(current, transport.namespace)} already exists, so credential "
                f"{credential.id!r} cannot be created there; store it without "
                f"{wording().create_only} to write over it",
                credential_id=credential.id,
                expected_version=0,
            )
        previous, version = previous_of(current, prefix, credential.id, transport.namespace)
        # With a stale expected_version this raises Conflict naming the actual version.
        stored = next_revision(
            credential, previous, current_version=version, expected_version=expected_version
        )
        try:
            carried = kept if kept is not None else current.data.get(PREVIOUS_KEY)
            body = encode(
                stored,
                name,
                prefix=prefix,
                resource_version=current.resource_version,
                previous=carried,
            )
            await transport.replace(body)
            return stored
        except (StaleWrite, Missing):
            current = await transport.get(name)
            if current is not None and landed(current, stored, transport.namespace):
                return stored
    if expected_version is not None:  # normally raised above, by next_revision
        raise Conflict(
            f"credential {credential.id!r} kept changing; read it again and retry",
            credential_id=credential.id,
            expected_version=expected_version,
        )
    raise ProviderUnavailable(
        f"credential {credential.id!r} was changed by other writers during all of "
        f"{attempt + 1} write attempts over up to {deadline:.0f}s; try again later",
        credential_id=credential.id,
    )


async def _patch(
    transport: SecretTransport,
    prefix: str,
    credential: Credential,
    name: str,
    kept: str | None,
    expected_version: int | None,
) -> tuple[Credential | None, bool]:
    """Try the one-request update: (the credential as it would be stored, whether it
    was); (None, False) when one patch cannot express it. A refused patch may still have
    landed when its first reply was lost: the caller checks what it reads next."""
    over = expected_version if expected_version is not None else credential.version
    if over <= 0 or not patchable(credential):
        return None, False
    stored = next_revision(credential, None, current_version=over, expected_version=over)
    body = encode(stored, name, prefix=prefix, previous=kept)
    operations = update_patch(stored, body, over_version=over)
    if operations is None:
        return None, False
    return stored, await transport.patch(name, operations) is not None


def landed(current: SecretObject, stored: Credential, namespace: str) -> bool:
    """True when ``current`` is exactly our write: a retried call whose reply was lost."""
    if not is_managed(current):
        return False
    try:
        return decode(current, namespace) == stored
    except CorruptData:
        return False


def previous_of(
    current: SecretObject, prefix: str, cid: CredentialId, namespace: str
) -> tuple[Credential | None, int]:
    """The stored credential to write over and its version; refuses foreign Secrets."""
    if not is_managed(current):
        raise Conflict(
            f"{where(current, namespace)} exists but was not written by nebula-credential, "
            f"so credential {cid!r} cannot overwrite it; adopt it with: kubectl label secret "
            f"{current.name} -n {namespace} {MANAGED_BY}={MANAGER}, or use another id",
            credential_id=cid,
        )
    if ANN_ID in current.annotations and not belongs(current, prefix, cid):
        raise Conflict(
            f"refusing to overwrite {refusal(current, prefix, cid, namespace)} with "
            f"credential {cid!r}; use another id or prefix",
            credential_id=cid,
        )
    try:
        previous = decode(current, namespace)
    except CorruptData:
        return None, noted_version(current)  # unreadable data is replaced, version kept
    if previous.id != cid:
        raise Conflict(
            f"{where(current, namespace)} holds credential {previous.id!r}; refusing to "
            f"overwrite it with {cid!r}",
            credential_id=cid,
        )
    return previous, previous.version
