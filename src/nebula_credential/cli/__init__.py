"""Command-line entry point: one line per error, documented exit codes."""

from __future__ import annotations

import gc
import sys

from ..domain import CredentialError

PROG = "nebula-credential"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used as the console script)."""
    from typer import Abort, Exit

    from ._typer_compat import ClickError, click_message, command_of, help_text
    from .app import app
    from .exit_codes import exit_code_for
    from .safe_text import one_line

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    command = command_of(app)
    if not args:  # what no_args_is_help asks for, printed once
        sys.stdout.write(help_text(command, PROG) + "\n")
        return 0
    try:
        # Without standalone mode click returns the code of a typer.Exit raised inside.
        code = command.main(args=args, prog_name=PROG, standalone_mode=False)
    except CredentialError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {one_line(str(exc))}\n")
        return exit_code_for(exc)
    except Exit as exc:
        return exc.exit_code
    except ClickError as exc:
        hint = " (see --help)" if exc.exit_code == 2 else ""
        sys.stderr.write(f"error: {one_line(click_message(exc))}{hint}\n")
        return exc.exit_code
    except Abort:
        sys.stderr.write("aborted\n")
        return 1
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
    return code if isinstance(code, int) else 0


def run() -> None:
    # A one-shot command allocates mostly objects that live until it exits: collecting
    # every 700 allocations costs several milliseconds of start-up and frees nothing.
    gc.set_threshold(50_000, 10, 10)
    sys.exit(main())


__all__ = ["main", "run"]
