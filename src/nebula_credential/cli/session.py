"""What every command of the root group shares: the chosen provider and output, and
running work on the provider with the hand-edit lines a Kubernetes read may print."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, TypeVar

from ..providers import CredentialProvider, SyncCredentialProvider
from .output import OutputFormat
from .providers import ProviderName, ProviderOptions
from .safe_text import one_line

if TYPE_CHECKING:
    import typer

T = TypeVar("T")


class State:
    def __init__(self, options: ProviderOptions, output: OutputFormat, debug: bool) -> None:
        self.options = options
        self.output = output
        self.debug = debug


def state_of(ctx: typer.Context, output: OutputFormat | None = None) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    if output is not None:
        state.output = output
    return state


def say(message: str) -> None:
    sys.stderr.write(one_line(message) + "\n")


def run_sync(state: State, work: Callable[[SyncCredentialProvider], T]) -> T:
    """``work`` on the chosen provider through the sync facade: the local store, and
    Kubernetes on its blocking transport, run on this thread without an event loop (nor
    the imports of asyncio and aiohttp)."""
    with noted(state), SyncCredentialProvider(state.options.build(one_shot=True)) as provider:
        return work(provider)


def noted(state: State) -> AbstractContextManager[None]:
    """Kubernetes reads print a line per per-field key edited by hand (hand_edit_lines)."""
    if state.options.resolved_name() is not ProviderName.KUBERNETES:
        return nullcontext()
    from .hand_edit_lines import hand_edit_lines

    return hand_edit_lines()


def run_async(state: State, work: Callable[[CredentialProvider], Awaitable[T]]) -> T:
    import asyncio

    async def go() -> T:
        provider = state.options.build()
        try:
            return await work(provider)
        finally:
            await provider.close()

    with noted(state):
        return asyncio.run(go())


def ask_hidden(label: str) -> str:
    import getpass

    return getpass.getpass(label)
