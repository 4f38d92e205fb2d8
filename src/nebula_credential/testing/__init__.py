"""Test helpers: the contract every provider must meet, and real API servers (``envtest``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .contract import ProviderContract

# Loaded on demand: the envtest pytest plugin imports this package at pytest start-up.
__getattr__, __dir__ = lazy_exports(__name__, {"ProviderContract": ".contract"})


__all__ = ["ProviderContract"]
