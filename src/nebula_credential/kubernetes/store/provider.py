"""KubernetesSecretsProvider: one Secret per credential, written with compare-and-swap."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, ClassVar, Final

import msgspec

from ...domain import Credential, CredentialError, CredentialId, CredentialKind, InvalidCredential
from ...providers import (
    BlockingAccess,
    Change,
    CredentialProvider,
    ListFilter,
    check_previous,
    validate_expected_version,
)
from ..api.opening import transport_for
from ..api.retry import CONFLICT_DEADLINE, RetryPolicy, TransportStats
from ..api.transport import SecretTransport
from ..model.mapping import ANN_ID, decode_previous, is_managed
from ..model.naming import MANAGED_BY, MANAGER, check_namespace, check_prefix, secret_name
from ..model.objects import SecretObject
from .leases import LeaseHolding
from .reads import listed_credentials, locate, read_found, read_secret

if TYPE_CHECKING:
    from ..api.exchange import ApiClient
    from .reencrypt import ReencryptSummary

DEFAULT_PREFIX: Final = "nebula-credentials"


class SecretEvent(msgspec.Struct, frozen=True):
    """A change seen by :meth:`KubernetesSecretsProvider.watch` (no values)."""

    type: str
    name: str
    credential_id: str | None
    resource_version: str | None


class KubernetesSecretsProvider(LeaseHolding, CredentialProvider):
    """Credentials as Secrets in one namespace (see PRODUCT.md section 3 for the mapping).

    Configuration is inferred like kubectl unless ``client`` (an :class:`ApiClient` from
    ``kubernetes.open_client``, which stays the caller's to close) or a ``transport`` instance
    is given. ``transport`` may also name the HTTP driver: ``"aiohttp"`` (the default) or
    ``"blocking"`` (no event loop: the sync facade then runs every call on the caller's
    thread; no change feed); else ``NEBULA_CREDENTIAL_TRANSPORT`` does. Nothing touches the
    network until the first call. Writes without ``expected_version`` retry lost races
    (jittered backoff) up to ``conflict_retries`` times within ``conflict_deadline``
    seconds, then raise :class:`ProviderUnavailable`; with it, a lost race is a
    :class:`Conflict`.
    """

    name: ClassVar[str] = "kubernetes"

    def __init__(
        self,
        namespace: str | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        context: str | None = None,
        kubeconfig: str | os.PathLike[str] | None = None,
        client: ApiClient | None = None,
        transport: SecretTransport | str | None = None,
        retry: RetryPolicy | None = None,
        conflict_retries: int = 200,
        conflict_deadline: float = CONFLICT_DEADLINE,
        page_size: int = 250,
        timeout: float = 10.0,
    ) -> None:
        self.prefix = check_prefix(prefix)
        self._conflict_retries = max(0, conflict_retries)
        self._conflict_deadline = max(0.0, conflict_deadline)
        self._page_size = max(1, min(page_size, 5000))
        if client is not None:
            from ..api.secret_calls import HttpTransport

            chosen = check_namespace(namespace, "the namespace argument") if namespace else None
            transport = HttpTransport(client, chosen or client.namespace, owns=False)
        self._transport = transport_for(
            transport,
            namespace=namespace,
            context=context,
            kubeconfig=kubeconfig,
            policy=retry or RetryPolicy(),
            timeout=timeout,
        )
        self.namespace = self._transport.namespace

    @classmethod
    def with_client(
        cls, client: ApiClient, namespace: str | None = None, *, prefix: str = DEFAULT_PREFIX
    ) -> KubernetesSecretsProvider:
        """A provider on a shared client (the seed's ``with_client``), in ``namespace`` or
        the client's; closing the provider leaves the client open."""
        return cls(namespace, prefix=prefix, client=client)

    def __repr__(self) -> str:
        return (
            f"KubernetesSecretsProvider(namespace={self.namespace!r}, prefix={self.prefix!r}, "
            f"server={self._transport.server!r})"
        )

    @property
    def stats(self) -> TransportStats:
        """Request, retry and throttling counters of this provider's transport."""
        return self._transport.stats

    def secret_name(self, credential_id: str) -> str:
        """The name of the Secret that holds ``credential_id``."""
        return secret_name(self.prefix, CredentialId(credential_id))

    # -- reads ------------------------------------------------------------------------

    async def retrieve(self, credential_id: str) -> Credential | None:
        cid = CredentialId(credential_id)
        found = await self._locate(cid)
        try:
            return None if found is None else self._read(found, cid)
        except CredentialError as exc:
            _about(exc, cid)
            raise

    async def retrieve_previous(self, credential_id: str) -> Credential | None:
        """The version kept under ``nebula-credential.previous`` in the credential's Secret."""
        cid = CredentialId(credential_id)
        found = await self._locate(cid)
        if found is None or not is_managed(found):
            return None
        try:
            return decode_previous(found, self.namespace, cid)
        except CredentialError as exc:
            _about(exc, cid)
            raise

    async def exists(self, credential_id: str) -> bool:
        return await self._locate(CredentialId(credential_id)) is not None

    async def _locate(self, cid: CredentialId) -> SecretObject | None:
        try:
            return await locate(self._transport, self.prefix, cid)
        except CredentialError as exc:
            _about(exc, cid)
            raise

    async def read_secret(
        self,
        name: str,
        *,
        kind: CredentialKind | str | None = None,
        field_names: Mapping[str, str] | None = None,
        ignore_unknown: bool = False,
    ) -> Credential | None:
        """Any Secret by name as a typed credential, or None when absent.

        Secrets we wrote decode from ``credential.json``. Others (``kubectl create secret
        generic``, External Secrets Operator, Sealed Secrets) map their flat keys onto
        the fields of ``kind``, or of the kind labelled ``nebula-credential/kind`` /
        ``credential-type``, or held in a ``credential_type`` key; ``field_names`` renames
        keys (``{"accessToken": "access_token"}``). The id is the ``credential_id`` key,
        else the name without the prefix; ``version`` is 0 for flat keys. Storing the
        result writes a Secret of our own; an unlabelled Secret is never overwritten.
        """
        return await read_secret(
            self._transport,
            name,
            self.prefix,
            kind=kind,
            field_names=field_names,
            ignore_unknown=ignore_unknown,
        )

    def _read(self, found: SecretObject, cid: CredentialId | None) -> Credential:
        return read_found(found, self.namespace, self.prefix, cid)

    def iter_credentials(self, selection: ListFilter) -> AsyncIterator[Credential]:
        return listed_credentials(
            self._transport, self.prefix, self.namespace, selection, self._page_size
        )

    async def watch(self, *, resource_version: str | None = None) -> AsyncIterator[SecretEvent]:
        """Changes to our Secrets (ids and names only), e.g. to invalidate a cache."""
        stream = self._transport.watch({MANAGED_BY: MANAGER}, resource_version)
        async with aclosing(stream):
            async for event, found in stream:
                yield SecretEvent(
                    event, found.name, found.annotations.get(ANN_ID), found.resource_version
                )

    def changes(self) -> AsyncIterator[Change] | None:
        """Changes to our Secrets made by anyone; resumes and resyncs on its own.

        None on the blocking transport, which cannot watch while it serves calls."""
        if self._transport.blocking:
            return None
        from .changes import change_feed

        return change_feed(self._transport, {MANAGED_BY: MANAGER})

    def blocking(self) -> BlockingAccess | None:
        """On the blocking transport every call completes without suspending, so the
        sync facade runs it on the caller's thread, without an event loop."""
        if not self._transport.blocking:
            return None
        from ...providers.inline import InlineAccess

        return InlineAccess(self)

    # -- writes -----------------------------------------------------------------------

    async def store(
        self,
        credential: Credential,
        *,
        expected_version: int | None = None,
        previous: Credential | None = None,
    ) -> Credential:
        if not isinstance(credential, Credential):
            raise InvalidCredential(f"store() takes a Credential, not {type(credential).__name__}")
        validate_expected_version(credential.id, expected_version)
        check_previous(credential, previous)
        try:
            return await _write_credential()(
                self._transport,
                self.prefix,
                credential,
                expected_version=expected_version,
                conflict_retries=self._conflict_retries,
                deadline=self._conflict_deadline,
                previous=previous,
            )
        except CredentialError as exc:
            _about(exc, credential.id)
            raise

    @property
    def location(self) -> str:
        return f"kubernetes:{self._transport.server}/{self.namespace}/{self.prefix}"

    async def delete(self, credential_id: str, *, force: bool = False) -> bool:
        """Delete the credential's Secret; NotOwned when what is there is not its own.

        A Secret at the credential's name that nebula-credential did not write, or that
        holds another id or another prefix's credential, is refused unless ``force``.
        """
        if force:
            return await self.force_delete(credential_id) is not None
        return await self._delete(CredentialId(credential_id), force=False) is not None

    async def force_delete(self, credential_id: str) -> str | None:
        """Delete whatever Secret is at the credential's name; says what it was."""
        cid = CredentialId(credential_id)
        found = await self._delete(cid, force=True)
        from .deletes import describe

        return None if found is None else describe(found, self.prefix, cid, self.namespace)

    async def _delete(self, cid: CredentialId, *, force: bool) -> SecretObject | None:
        from .deletes import delete_credential  # a read-only command never loads it

        try:
            return await delete_credential(self._transport, self.prefix, cid, force=force)
        except CredentialError as exc:
            _about(exc, cid)
            raise

    async def reencrypt(
        self,
        *,
        concurrency: int = 8,
        progress: Callable[[ReencryptSummary], None] | None = None,
    ) -> ReencryptSummary:
        """Rewrite every Secret of ours unchanged so the API server re-encrypts it with
        its current primary key (after a key rotation). Failures are in the summary."""
        from .reencrypt import reencrypt

        return await reencrypt(
            self._transport,
            {MANAGED_BY: MANAGER},
            page_size=self._page_size,
            concurrency=concurrency,
            conflict_retries=self._conflict_retries,
            progress=progress,
        )

    async def close(self) -> None:
        await self._transport.close()


@functools.cache
def _write_credential() -> Callable[..., Awaitable[Credential]]:
    """``writes.write_credential``, loaded by the first write: a read-only command never
    loads it, and an import statement in ``store`` would cost 2 us on every call."""
    from .writes import write_credential

    return write_credential


def _about(exc: CredentialError, credential_id: str) -> None:
    """Name the credential on errors raised below us (they only know the Secret)."""
    if exc.credential_id is None:
        exc.credential_id = credential_id
