"""Sub-commands whose module is imported only when that command runs.

``nebula-credential get`` should not pay for the manifest generators, the migration
engine, the audit reader or sealing (and the YAML, rich progress and Kubernetes code
they pull in). The root group lists such a command under its name and short help; the
module that defines it is imported when the command line resolves to it, and its
``register(app)`` adds it as it would to the root app; only that command is built.
``--help`` lists the commands from their short help alone; tests/cli/test_cli_startup.py
checks that each short help is the first line of the command's own help.
"""

from __future__ import annotations

import importlib
from typing import Any, Final, NamedTuple

import typer
import typer.core

_PACKAGE = __name__.rpartition(".")[0]

#: Settings of every typer app of the CLI. Help and usage errors are click's plain text:
#: typer's rich help pulls in rich's Markdown, Syntax and Traceback (markdown-it,
#: pygments), which took ``--help`` from about 90 ms to 200 ms (bench/local_store.py).
#: Tables, progress bars and the ``get`` view keep their styling.
TYPER_SETTINGS: Final[dict[str, Any]] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
}


class LazyCommand(NamedTuple):  # a dataclass takes a millisecond to define at start-up
    """A command ``name`` that ``register(app)`` in ``cli.<module>`` adds."""

    name: str
    module: str
    help: str

    def load(self) -> Any:
        """The click command, built by typer as if registered on the root app (only
        this one: typer inspects each command's signature as it builds it)."""
        module = importlib.import_module(f"{_PACKAGE}.{self.module}")
        holder = typer.Typer(**TYPER_SETTINGS)
        module.register(holder)
        holder.registered_commands = [
            info
            for info in holder.registered_commands
            if (info.name or typer.main.get_command_name(info.callback.__name__)) == self.name  # type: ignore[union-attr]
        ]
        holder.registered_groups = [
            info
            for info in holder.registered_groups
            if info.typer_instance.info.name == self.name  # type: ignore[union-attr]
        ]
        built = typer.main.get_command(holder)
        commands = getattr(built, "commands", None)
        return built if commands is None else commands[self.name]


class _Placeholder(typer.core.TyperCommand):
    """What ``--help`` lists for a lazy command: its name and short help."""

    def __init__(self, lazy: LazyCommand) -> None:
        super().__init__(lazy.name, help=lazy.help, short_help=lazy.help)
        self.lazy = lazy


class LazyGroup(typer.core.TyperGroup):
    """A typer group that also lists :class:`LazyCommand` entries of ``lazy_commands``."""

    lazy_commands: tuple[LazyCommand, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for lazy in self.lazy_commands:
            self.commands.setdefault(lazy.name, _Placeholder(lazy))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Placeholder):
            lazy = command.lazy
            command = self.commands[lazy.name] = lazy.load()
        return name, command, rest


def lazy_group(commands: tuple[LazyCommand, ...]) -> type[LazyGroup]:
    """A :class:`LazyGroup` class for ``typer.Typer(cls=...)`` listing ``commands``."""
    return type("CommandGroup", (LazyGroup,), {"lazy_commands": commands})
