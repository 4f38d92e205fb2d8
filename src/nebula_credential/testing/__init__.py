"""Test helpers: the contract every provider must meet, and real API servers (``envtest``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .contract import ProviderContract


def __getattr__(name: str) -> Any:
    # Loaded on demand: the envtest pytest plugin imports this package at pytest start-up.
    if name == "ProviderContract":
        from .contract import ProviderContract

        return ProviderContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ProviderContract"]
