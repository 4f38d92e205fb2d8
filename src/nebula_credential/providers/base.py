"""The provider contract every storage backend implements.

Semantics shared by all providers:

- ``store`` writes a credential and returns it as stored: ``version`` is the previous
  version plus one (1 on first write), ``created_at`` is kept from the first write and
  ``updated_at`` is now. With ``expected_version`` the write happens only when the
  stored version equals it (0 means "must not exist yet"); otherwise :class:`Conflict`.
- ``retrieve`` returns ``None`` when the id is absent; ``get`` raises :class:`NotFound`.
- ``delete`` is idempotent: it returns False when there was nothing to delete.
- ``list`` streams credentials matching every given filter: ``scope`` exactly, or
  ``scope`` and its descendants with ``descendants=True``; ``kind``; all ``tags``.
  A stored item that does not decode (:class:`CorruptData`) stops the list, unless
  ``on_skip`` is given: then it is passed over and the error handed to ``on_skip``
  (possibly from a worker thread), so one bad item does not hide all the others.
  ``retrieve`` of that id still raises.
- History: ``store(..., previous=old)`` keeps ``old`` (a stored revision of the same id)
  as the credential's previous version, in the same atomic write, replacing whatever
  was kept before; ``retrieve_previous`` returns it (None when nothing is kept). A store
  without ``previous`` leaves the kept version as it is; ``delete`` removes it too.
  Rotation keeps the version it replaced this way, and rollback restores it.
- Rotation leases (``acquire_lease``, ``store_fenced``, ``release_lease``): see
  :mod:`.lease`. Providers that cannot hold one raise ConfigurationError.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import ClassVar, Final, NamedTuple, Protocol, Self

from ..domain import (
    ConfigurationError,
    CorruptData,
    Credential,
    CredentialId,
    CredentialKind,
    CredentialScope,
    InvalidCredential,
    LeaseLost,
    NotFound,
    normalise_tags,
    parse_kind,
)
from .lease import Lease

SkipHandler = Callable[[CorruptData], None]
"""Called with the error of each stored item a list passes over."""


class ListFilter(NamedTuple):  # a dataclass takes a millisecond to define at start-up
    """What ``list`` selects; an empty filter selects everything."""

    scope: CredentialScope | None = None
    descendants: bool = False
    kind: CredentialKind | None = None
    tags: Mapping[str, str] = MappingProxyType({})
    on_skip: SkipHandler | None = None

    @classmethod
    def build(
        cls,
        *,
        scope: str | None = None,
        descendants: bool = False,
        kind: str | None = None,
        tags: Mapping[str, str] | None = None,
        on_skip: SkipHandler | None = None,
    ) -> ListFilter:
        """Validate loose arguments into a filter (raises ValidationError subclasses)."""
        return cls(
            scope=None if scope is None else CredentialScope(scope),
            descendants=descendants,
            kind=None if kind is None else parse_kind(kind),
            tags=normalise_tags(tags or {}),
            on_skip=on_skip,
        )

    def skip(self, error: CorruptData) -> None:
        """Report an item that does not decode, or raise it when nobody asked to skip."""
        if self.on_skip is None:
            raise error
        self.on_skip(error)

    def matches(self, credential: Credential) -> bool:
        if self.scope is not None and not self.scope.matches(
            credential.scope, descendants=self.descendants
        ):
            return False
        if self.kind is not None and credential.kind is not self.kind:
            return False
        return all(credential.tags.get(k) == v for k, v in self.tags.items())


class Change(NamedTuple):
    """One event of a provider's change feed (:meth:`CredentialProvider.changes`).

    ``kind`` is one of:

    - ``changed``: ``credential_id`` was created, updated or deleted, by anyone;
    - ``resync``: the feed is live but may have missed changes: forget everything;
    - ``lost``: the feed is down; changes may go unseen until ``resumed`` or ``resync``;
    - ``resumed``: the feed is live again and will deliver what it missed.
    """

    kind: str
    credential_id: str | None = None


class NotCached:
    """The answer :meth:`CredentialProvider.peek` gives when it would need I/O."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_CACHED"


NOT_CACHED: Final = NotCached()


class BlockingAccess(Protocol):
    """Blocking twins of a provider's operations, for work that is short and local.

    :class:`SyncCredentialProvider` calls them on the caller's thread instead of
    hopping to an event loop and from there to a worker thread.
    """

    def store(
        self,
        credential: Credential,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential: ...

    def retrieve(self, credential_id: str) -> Credential | None: ...

    def retrieve_previous(self, credential_id: str) -> Credential | None: ...

    def delete(self, credential_id: str) -> bool: ...

    def exists(self, credential_id: str) -> bool: ...

    def iter_credentials(self, selection: ListFilter) -> Iterator[Credential]: ...

    def close(self) -> None: ...


def check_previous(credential: Credential, previous: Credential | None) -> None:
    """Refuse a ``previous`` that is not a revision of ``credential`` (no I/O)."""
    if previous is None:
        return
    if not isinstance(previous, Credential):
        raise InvalidCredential(
            f"previous must be a Credential, not {type(previous).__name__}",
            credential_id=credential.id,
        )
    if previous.id != credential.id:
        raise InvalidCredential(
            f"the previous version of {credential.id!r} must have the same id, not {previous.id!r}",
            credential_id=credential.id,
        )


def not_found(provider_name: str, credential_id: str) -> NotFound:
    """The error ``get`` raises for an absent id."""
    cid = CredentialId(credential_id)
    return NotFound(
        f"credential {cid!r} not found in the {provider_name} store; "
        "check the id with 'nebula-credential list'",
        credential_id=cid,
    )


class CredentialProvider(abc.ABC):
    """Async storage backend for credentials. See the module docstring for semantics."""

    name: ClassVar[str] = "provider"

    @abc.abstractmethod
    async def store(
        self,
        credential: Credential,
        *,
        expected_version: int | None = None,
        previous: Credential | None = None,
    ) -> Credential:
        """Write ``credential``; returns it with the stored version and timestamps.

        ``previous`` (same id) is kept as its previous version in the same write.
        """

    @abc.abstractmethod
    async def retrieve(self, credential_id: str) -> Credential | None:
        """The stored credential, or None when absent."""

    @abc.abstractmethod
    async def delete(self, credential_id: str) -> bool:
        """Remove the credential; True if it existed. Never fails for a missing id."""

    @abc.abstractmethod
    def iter_credentials(self, selection: ListFilter) -> AsyncIterator[Credential]:
        """Stream the credentials that ``selection`` matches."""

    async def retrieve_previous(self, credential_id: str) -> Credential | None:
        """The previous version kept by the last ``store(..., previous=...)``, or None."""
        raise ConfigurationError(f"the {self.name} provider keeps no previous versions")

    @property
    def location(self) -> str:
        """Where this provider's credentials live, stable across processes (a data
        directory, a server and namespace): pending rotation grants are filed under it."""
        return self.name

    async def acquire_lease(
        self, credential_id: str, *, seconds: float, holder: str | None = None
    ) -> Lease:
        """Take the rotation lease on ``credential_id`` for ``seconds``; raises LeaseHeld
        while another holder has a live one. ``holder`` re-takes one of our own."""
        raise ConfigurationError(f"the {self.name} provider cannot hold rotation leases")

    async def release_lease(self, lease: Lease) -> None:
        """Give ``lease`` up if it is still ours; nothing happens when it is gone."""
        raise ConfigurationError(f"the {self.name} provider cannot hold rotation leases")

    async def store_fenced(
        self,
        credential: Credential,
        *,
        lease: Lease,
        expected_version: int | None,
        previous: Credential | None = None,
    ) -> Credential:
        """``store`` only while ``lease`` is still ours, releasing it with the write;
        LeaseLost (nothing written) when it is not."""
        raise LeaseLost(
            f"the {self.name} provider cannot hold rotation leases",
            credential_id=credential.id,
        )

    async def get(self, credential_id: str) -> Credential:
        """The stored credential; raises NotFound when absent."""
        found = await self.retrieve(credential_id)
        if found is None:
            raise not_found(self.name, credential_id)
        return found

    async def exists(self, credential_id: str) -> bool:
        return await self.retrieve(credential_id) is not None

    def list(
        self,
        *,
        scope: str | None = None,
        descendants: bool = False,
        kind: str | None = None,
        tags: Mapping[str, str] | None = None,
        on_skip: SkipHandler | None = None,
    ) -> AsyncIterator[Credential]:
        """Stream credentials by exact scope (or prefix with ``descendants``), kind, tags.

        Without ``on_skip`` an item that does not decode raises CorruptData; with it,
        the item is skipped and its error reported there.
        """
        return self.iter_credentials(
            ListFilter.build(
                scope=scope, descendants=descendants, kind=kind, tags=tags, on_skip=on_skip
            )
        )

    def list_all(self, *, on_skip: SkipHandler | None = None) -> AsyncIterator[Credential]:
        """Every credential this provider can see."""
        return self.iter_credentials(ListFilter(on_skip=on_skip))

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections; the provider is unusable afterwards."""

    def blocking(self) -> BlockingAccess | None:
        """Blocking access without an event loop, when the provider has one; else None."""
        return None

    def peek(self, credential_id: str) -> Credential | NotCached | None:
        """What ``retrieve`` would return, when known without I/O (a cache hit); else
        :data:`NOT_CACHED`. Safe to call from any thread."""
        return NOT_CACHED

    def changes(self) -> AsyncIterator[Change] | None:
        """A feed of changes made by anyone (see :class:`Change`), or None when the
        provider cannot tell. Runs until closed; each call starts a new feed."""
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
