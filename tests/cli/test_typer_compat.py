"""One test per typer behaviour that ``cli/_typer_compat.py`` relies on.

typer does not document these; when an upgrade fails one of them, fix the compat module
(and only it).
"""

from __future__ import annotations

import pytest

from nebula_credential.cli import PROG, main
from nebula_credential.cli._typer_compat import ClickError, command_of, help_text
from nebula_credential.cli.app import app


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--nope"], "--nope"), (["get"], "ID"), (["--output", "xml", "list"], "xml")],
)
def test_click_errors_derive_from_typer_exception_with_exit_code_2(
    args: list[str], fragment: str
) -> None:
    with pytest.raises(ClickError) as caught:
        command_of(app).main(args=args, prog_name=PROG, standalone_mode=False)
    assert caught.value.exit_code == 2
    assert fragment in caught.value.format_message()


def test_resilient_context_skips_no_args_is_help_and_builds_the_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # With rich, get_help() prints the help itself; what it returns is printed after it.
    text = help_text(command_of(app), PROG)
    shown = capsys.readouterr().out + text
    assert f"Usage: {PROG} [OPTIONS] COMMAND [ARGS]..." in shown
    assert "store" in shown


def test_bare_invocation_prints_the_help_once_like_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0
    bare = capsys.readouterr()
    assert main(["--help"]) == 0
    helped = capsys.readouterr()
    assert bare.out == helped.out
    assert bare.out.count("Usage:") == 1
    assert bare.err == ""
