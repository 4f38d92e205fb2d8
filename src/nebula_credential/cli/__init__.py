"""Command-line entry point: one line per error, documented exit codes."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..domain import CredentialError

if TYPE_CHECKING:
    from .session import State
    from .show import GetRequest

PROG = "nebula-credential"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used as the console script)."""
    from .show import quick_call

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    quick = quick_call(args)
    if quick is not None:  # a plain get: no typer app to build
        return _guarded(lambda: _quick_get(*quick), debug)
    return _guarded(lambda: _through_typer(args), debug)


def _quick_get(state: State, request: GetRequest) -> int:
    from .._wording import speaking_cli
    from .show import show

    with speaking_cli():
        show(state, request)
    return 0


def _through_typer(args: list[str]) -> int:
    """The command line parsed by typer; its exits and errors as exit codes."""
    from typer import Abort, Exit

    from ._typer_compat import ClickError, click_message, command_of, help_text
    from .app import app
    from .safe_text import one_line

    command = command_of(app)
    if not args:  # what no_args_is_help asks for, printed once
        sys.stdout.write(help_text(command, PROG) + "\n")
        return 0
    try:
        # Without standalone mode click returns the code of a typer.Exit raised inside.
        code = command.main(args=args, prog_name=PROG, standalone_mode=False)
    except Exit as exc:
        return exc.exit_code
    except ClickError as exc:
        hint = " (see --help)" if exc.exit_code == 2 else ""
        sys.stderr.write(f"error: {one_line(click_message(exc))}{hint}\n")
        return exc.exit_code
    except Abort:
        sys.stderr.write("aborted\n")
        return 1
    return code if isinstance(code, int) else 0


def _guarded(work: Callable[[], int], debug: bool) -> int:
    """``work()``'s exit code, with one line on stderr for what it raised."""
    from .exit_codes import exit_code_for
    from .safe_text import one_line

    try:
        return work()
    except CredentialError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {one_line(str(exc))}\n")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except OSError as exc:
        if debug:
            raise
        detail = f"{exc.strerror or type(exc).__name__} ({exc.filename or ''})"
        sys.stderr.write(f"error: {one_line(detail)}\n")
        return 1
    except Exception as exc:
        if debug:
            raise
        # The message of an unexpected error is not shown: it could carry input values.
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__}; rerun with --debug for details\n"
        )
        return 1


def run() -> None:
    # A one-shot command allocates mostly objects that live until it exits: collecting
    # every 700 allocations costs several milliseconds of start-up and frees nothing.
    gc.set_threshold(50_000, 10, 10)
    sys.exit(main())


__all__ = ["main", "run"]
