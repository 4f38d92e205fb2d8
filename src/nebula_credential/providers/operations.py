"""The provider operations, declared once.

A provider's operations reach users through several surfaces: the async provider
itself, wrappers that pass them on to an inner provider (the cache), the blocking
facade (:class:`~.sync.SyncCredentialProvider`) and the blocking access a provider may
offer for short local work (:class:`~.base.BlockingAccess`). Each surface is written out
by hand, for speed and for readable tracebacks; this table says what each must have,
and :func:`missing` names what one lacks, so a new operation cannot be forgotten in one
of them (the provider tests check every surface against it).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Flag, auto
from typing import Final, NamedTuple


class Surface(Flag):
    """Where an operation must be offered."""

    PROVIDER = auto()
    """The async :class:`~.base.CredentialProvider` (every operation is there)."""
    WRAPPER = auto()
    """A provider wrapping another must pass it on (else the base default answers)."""
    SYNC = auto()
    """:class:`~.sync.SyncCredentialProvider` and its subclasses."""
    BLOCKING = auto()
    """:class:`~.base.BlockingAccess` and every class implementing it."""


_ALL: Final = Surface.PROVIDER | Surface.WRAPPER | Surface.SYNC | Surface.BLOCKING


class Operation(NamedTuple):
    name: str
    surfaces: Surface
    doc: str


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation("store", _ALL, "write a credential (compare-and-swap with expected_version)"),
    Operation("retrieve", _ALL, "the stored credential or None"),
    Operation("retrieve_previous", _ALL, "the kept previous version or None"),
    Operation("delete", _ALL, "remove a credential; False when absent"),
    Operation("exists", _ALL, "whether a credential is stored"),
    Operation("close", _ALL, "release connections; final"),
    Operation(
        "get",
        Surface.PROVIDER | Surface.WRAPPER | Surface.SYNC,
        "the stored credential; NotFound when absent",
    ),
    Operation(
        "iter_credentials",
        Surface.PROVIDER | Surface.WRAPPER | Surface.BLOCKING,
        "stream what a ListFilter selects",
    ),
    Operation("list", Surface.PROVIDER | Surface.SYNC, "stream by scope, kind and tags"),
    Operation("list_all", Surface.PROVIDER | Surface.SYNC, "stream every credential"),
    Operation(
        "acquire_lease",
        Surface.PROVIDER | Surface.WRAPPER | Surface.SYNC,
        "take a credential's rotation lease",
    ),
    Operation(
        "release_lease",
        Surface.PROVIDER | Surface.WRAPPER | Surface.SYNC,
        "give a rotation lease up",
    ),
    Operation(
        "store_fenced",
        Surface.PROVIDER | Surface.WRAPPER | Surface.SYNC,
        "store only while a lease is held",
    ),
    Operation(
        "location",
        Surface.PROVIDER | Surface.WRAPPER | Surface.SYNC,
        "where the credentials live, stable across processes",
    ),
    Operation(
        "blocking", Surface.PROVIDER | Surface.WRAPPER, "blocking access for short local work"
    ),
    Operation("peek", Surface.PROVIDER | Surface.WRAPPER, "a cached answer without I/O"),
    Operation("changes", Surface.PROVIDER | Surface.WRAPPER, "a feed of changes by anyone"),
)


def names(surface: Surface) -> tuple[str, ...]:
    """The operations ``surface`` must offer, in declaration order."""
    return tuple(op.name for op in OPERATIONS if surface in op.surfaces)


def missing(cls: type, surface: Surface, *, inherited_from: Iterable[type] = ()) -> list[str]:
    """The operations of ``surface`` that ``cls`` does not define itself.

    An operation found only on one of ``inherited_from`` (for a wrapper: the base
    provider, whose defaults answer for the wrapper instead of its inner provider)
    counts as missing.
    """
    skip = tuple(inherited_from)
    absent = []
    for name in names(surface):
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or owner in skip:
            absent.append(name)
    return absent
