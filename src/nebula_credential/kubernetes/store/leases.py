"""Rotation leases on Kubernetes: one ``coordination.k8s.io/v1`` Lease per credential.

The Lease is named like the credential's Secret, labelled as ours and annotated with
the credential id. Its age runs from ``metadata.creationTimestamp`` (set by the API
server) to the ``Date`` of the reply that read it: the server's clock at both ends.

- acquire: create. When one exists, read it: live and someone else's -> LeaseHeld;
  stale (expired, from the future, absurd term) or our own -> delete exactly that one
  (uid and resourceVersion preconditions) and create again. Of two processes taking a
  stale lease at once, one delete fails its precondition and that process reads again.
- fenced write: read the Lease; unless it is ours (holder *and* uid), LeaseLost and no
  write. Then the compare-and-swap write of the Secret, then the release. Kubernetes
  has no transaction over two objects, so a takeover between the check and the write
  is possible only once the lease has expired: rotation sizes the lease to outlast
  its exchange and its write deadline.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from ...domain import (
    Credential,
    CredentialError,
    CredentialId,
    LeaseHeld,
    LeaseLost,
    ProviderUnavailable,
)
from ...providers import Lease
from ...providers.lease import check_lease_seconds, held_elsewhere, is_live, new_holder
from ..api.errors import AlreadyExists, StaleWrite
from ..api.transport import SecretTransport
from ..model.mapping import ANN_ID
from ..model.naming import MANAGED_BY, MANAGER, secret_name

if TYPE_CHECKING:  # loaded by the first lease: a get or store needs none
    from ..model.wire_lease import LeaseObject

_ATTEMPTS: Final = 4


def _seen(cid: CredentialId, found: LeaseObject) -> Lease:
    """``found`` as a lease someone holds (for messages; its times may be absent)."""
    since = found.created_at or found.server_now or datetime.min.replace(tzinfo=UTC)
    return Lease(cid, found.holder or "?", since, found.seconds or 0)


def _live(found: LeaseObject) -> bool:
    if found.created_at is None or found.seconds is None:
        return False
    if found.server_now is None:
        return True  # no server clock to judge by: never take a lease that may be live
    return is_live(found.created_at, found.seconds, found.server_now)


def _as_lease(cid: CredentialId, found: LeaseObject, seconds: float) -> Lease:
    if found.created_at is None or found.holder is None:
        raise ProviderUnavailable(
            f"the API server created the rotation lease {found.name!r} without a "
            "creationTimestamp or holder; check the API server"
        )
    return Lease(cid, found.holder, found.created_at, seconds, handle=found)


async def acquire(
    transport: SecretTransport,
    prefix: str,
    cid: CredentialId,
    *,
    seconds: float,
    holder: str | None,
) -> Lease:
    term = check_lease_seconds(seconds)
    who = holder or new_holder()
    name = secret_name(prefix, cid)
    from ..model.wire_lease import LeaseObject

    wanted = LeaseObject(
        name,
        holder=who,
        seconds=max(1, round(term)),
        labels={MANAGED_BY: MANAGER},
        annotations={ANN_ID: str(cid)},
    )
    for _ in range(_ATTEMPTS):
        try:
            return _as_lease(cid, await transport.lease_create(wanted), term)
        except AlreadyExists:
            pass
        found = await transport.lease_get(name)
        if found is None:
            continue
        wanted.server_now = found.server_now
        ours = found.holder == who
        if ours and holder is None:
            return _as_lease(cid, found, term)  # our create landed; its reply was lost
        if found.labels.get(MANAGED_BY) != MANAGER:
            raise LeaseHeld(
                f"a Lease {name!r} exists in namespace {transport.namespace!r} that "
                f"nebula-credential did not make; credential {cid!r} cannot be rotated "
                "until it is removed",
                credential_id=cid,
            )
        if _live(found) and not ours:
            raise held_elsewhere(_seen(cid, found))
        with contextlib.suppress(StaleWrite):
            await transport.lease_delete(found)  # stale, or ours to take again
    raise LeaseHeld(
        f"the rotation lease of credential {cid!r} kept changing; retry later",
        credential_id=cid,
    )


async def check(transport: SecretTransport, prefix: str, lease: Lease) -> LeaseObject:
    """The Lease as it is now, when it is still ``lease``; LeaseLost otherwise."""
    found = await transport.lease_get(secret_name(prefix, lease.credential_id))
    from ..model.wire_lease import LeaseObject

    mine = lease.handle if isinstance(lease.handle, LeaseObject) else None
    if found is None or found.holder != lease.holder or (mine and mine.uid != found.uid):
        taken = (
            "is gone" if found is None else f"is now {_seen(lease.credential_id, found).describe()}"
        )
        raise LeaseLost(
            f"the rotation lease on credential {lease.credential_id!r} {taken}; this "
            "rotation may not write",
            credential_id=lease.credential_id,
        )
    return found


async def release(transport: SecretTransport, prefix: str, lease: Lease) -> None:
    """Delete the Lease if it is still ours; a lease that is gone or taken stays so."""
    with contextlib.suppress(LeaseLost, StaleWrite):
        found = await check(transport, prefix, lease)
        await transport.lease_delete(found)


async def after_write(transport: SecretTransport, found: LeaseObject) -> None:
    """Give the lease up once the fenced write landed. The write stands whatever
    happens here: a lease left behind goes stale on its own."""
    with contextlib.suppress(CredentialError, StaleWrite):
        await transport.lease_delete(found)


class LeaseHolding:
    """The lease operations of :class:`~.provider.KubernetesSecretsProvider`."""

    _transport: SecretTransport
    prefix: str

    if TYPE_CHECKING:  # the provider's own

        async def store(
            self,
            credential: Credential,
            *,
            expected_version: int | None = None,
            previous: Credential | None = None,
        ) -> Credential: ...

    async def acquire_lease(
        self, credential_id: str, *, seconds: float, holder: str | None = None
    ) -> Lease:
        cid = CredentialId(credential_id)
        return await acquire(self._transport, self.prefix, cid, seconds=seconds, holder=holder)

    async def release_lease(self, lease: Lease) -> None:
        await release(self._transport, self.prefix, lease)

    async def store_fenced(
        self,
        credential: Credential,
        *,
        lease: Lease,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        found = await check(self._transport, self.prefix, lease)
        stored = await self.store(credential, expected_version=expected_version, previous=previous)
        await after_write(self._transport, found)
        return stored
