"""Test helpers for provider authors: the contract every provider must meet."""

from .contract import ProviderContract

__all__ = ["ProviderContract"]
