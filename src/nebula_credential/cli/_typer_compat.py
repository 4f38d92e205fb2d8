"""What the CLI relies on in typer beyond its documented surface, in one place (typer 0.28).

typer 0.28 vendors click as ``typer._click``; nothing is imported from there. Two
behaviours that typer does not document remain, each pinned by a test in
``tests/cli/test_typer_compat.py`` so an upgrade fails that test, not the CLI:

- click's errors (unknown option, missing argument, bad value) derive from the public
  ``typer.TyperException`` and carry ``exit_code`` and ``format_message()``;
- a context made with ``resilient_parsing=True`` skips ``no_args_is_help``, so the help
  for a bare invocation is built without click's ``NoArgsIsHelpError``, and, with rich
  installed, ``get_help()`` prints the help itself and returns what is left to print.
"""

from __future__ import annotations

import re
from typing import Any

import typer
import typer.main

#: The base of every click error typer raises with ``standalone_mode=False``.
ClickError = typer.TyperException


# A word that was not an option or argument may be a value that lost its option (a
# secret after "--field api_key= "): such words are not repeated in error messages.
# Short options are not shown either: click names only their first letter, of the value.
# A pattern, not a compiled one: only an error needs it (re caches it on first use).
_OPTION_LIKE = r"--[A-Za-z][A-Za-z0-9-]{0,40}"


def click_message(exc: ClickError) -> str:
    """click's message for ``exc``, without repeating a stray word of the command line."""
    message = str(exc.format_message())
    if message.startswith("Got unexpected extra argument"):
        return (
            "got unexpected extra arguments (not shown, in case one is a secret); quote "
            "values that contain spaces, and pass secrets as NAME=- or NAME=@FILE"
        )
    option = getattr(exc, "option_name", None)
    if message.startswith("No such option") and not (
        isinstance(option, str) and re.fullmatch(_OPTION_LIKE, option)
    ):
        return (
            "an argument starts with '-' but is not an option (not shown, in case it is a secret)"
        )
    return message


def command_of(app: typer.Typer) -> Any:
    """The click command behind ``app`` (typer's documented ``get_command``)."""
    return typer.main.get_command(app)


def help_text(command: Any, prog_name: str) -> str:
    """The top-level help, as ``--help`` shows it, without running any callback."""
    with command.make_context(prog_name, [], resilient_parsing=True) as ctx:
        return str(ctx.get_help())
