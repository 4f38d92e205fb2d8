"""What the CLI prints is text: stored markup and terminal escapes are shown, never acted on."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

MARKUP_PASSWORD = "pa[ss]wo[/]rd[red]X"
LINK_USER = "[link=https://evil.example]bob[/link]"
# ESC (clear screen), CSI as a C1 control, a right-to-left override, CR, NUL, DEL, BEL.
HOSTILE = "x\x1b[2Jy\x9b31mz\u202eevil\r\nnext\x00\x7f\x07end"
WIDE = {"COLUMNS": "300"}  # no folding of cells
STEERING = ["\x1b", "\x9b", "\u202e", "\r", "\x00", "\x7f", "\x07"]


EXE = str(Path(sys.executable).with_name("nebula-credential"))


def home_env(tmp_path: Path) -> dict[str, str]:
    """The environment of the ``cli`` fixture, for runs that need bytes or a terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    env["NEBULA_CREDENTIAL_HOME"] = str(tmp_path / "home")
    return env


@pytest.fixture
def stored(cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    value_file = tmp_path / "hostile.txt"
    value_file.write_text(HOSTILE, encoding="utf-8", newline="")
    markup = cli(
        "store", "markup", "--kind", "basic_auth", "--owner", "[/]", "--tag", "k=[/]",
        "--tag", "team=[bold]core", "--field", f"username={LINK_USER}", "--field", "password=-",
        stdin=MARKUP_PASSWORD,
    )  # fmt: skip
    assert markup.returncode == 0, markup.stderr
    hostile = cli(
        "store", "hostile", "--kind", "basic_auth", "--field", f"username=@{value_file}",
        "--field", f"password=@{value_file}",
    )  # fmt: skip
    assert hostile.returncode == 0, hostile.stderr
    return cli


def test_markup_is_shown_as_text_in_tables(stored) -> None:  # type: ignore[no-untyped-def]
    shown = stored("get", "markup", "--reveal")
    assert shown.returncode == 0, shown.stderr
    assert MARKUP_PASSWORD in shown.stdout
    assert LINK_USER in shown.stdout
    assert "\x1b]8;" not in shown.stdout  # no hyperlink
    owner_line = next(line for line in shown.stdout.splitlines() if line.startswith("owner"))
    assert owner_line.split()[1] == "[/]"
    assert "k=[/]" in shown.stdout
    assert "team=[bold]core" in shown.stdout
    listed = stored("list", env=WIDE)
    assert listed.returncode == 0, listed.stderr
    assert "k=[/]" in listed.stdout
    assert "team=[bold]core" in listed.stdout


def test_terminal_escapes_never_reach_the_table(stored) -> None:  # type: ignore[no-untyped-def]
    for args in (("get", "hostile", "--reveal"), ("get", "hostile"), ("list",)):
        shown = stored(*args)
        assert shown.returncode == 0, shown.stderr
        assert not [c for c in STEERING if c in shown.stdout], (args, shown.stdout)
    revealed = stored("get", "hostile", "--reveal").stdout
    assert "x\\x1b[2Jy\\x9b31mz\\u202eevil\\x0d" in revealed


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_json_and_yaml_keep_the_value_and_escape_it(stored, fmt: str) -> None:  # type: ignore[no-untyped-def]
    for args in (("get", "hostile", "--reveal"), ("list", "--reveal")):
        shown = stored("--output", fmt, *args)
        assert shown.returncode == 0, shown.stderr
        assert not [c for c in STEERING if c in shown.stdout], shown.stdout
        data = json.loads(shown.stdout) if fmt == "json" else yaml.safe_load(shown.stdout)
        record = data if isinstance(data, dict) else next(r for r in data if r["id"] == "hostile")
        assert record["fields"] == {"username": HOSTILE, "password": HOSTILE}


def test_a_revealed_field_is_exactly_the_raw_value_when_captured(stored, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for field in ("password", "username"):
        raw = subprocess.run(
            [EXE, "get", "hostile", "--field", field, "--reveal"],
            capture_output=True, env=home_env(tmp_path), timeout=60, check=False,
        )  # fmt: skip
        assert raw.returncode == 0
        assert raw.stdout == (HOSTILE + "\n").encode()
        assert raw.stderr == b""
    assert stored("get", "markup", "--field", "password", "--reveal").stdout == (
        MARKUP_PASSWORD + "\n"
    )


def test_a_revealed_field_on_a_terminal_is_shown_escaped(stored, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [EXE, "get", "hostile", "--field", "password", "--reveal"],
            stdout=follower, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=home_env(tmp_path), timeout=60, check=False,
        )  # fmt: skip
        os.close(follower)
        follower = -1
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO once the terminal has no writer left
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert done.returncode == 0
    text = seen.decode("utf-8")
    assert not [c for c in STEERING if c in text.replace("\r\n", "\n")], text
    assert "x\\x1b[2Jy" in text
    note = done.stderr.decode()
    assert note.startswith("note: ")
    assert len(note.splitlines()) == 1


def test_error_lines_stay_one_safe_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    odd = tmp_path / "no\nsuch\x1b[2J"
    result = cli("store", "x", "--kind", "api_key", "--field", f"api_key=@{odd}")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "\x1b" not in result.stderr


def test_a_masked_field_says_so_on_stderr(stored) -> None:  # type: ignore[no-untyped-def]
    masked = stored("get", "markup", "--field", "password")
    assert masked.returncode == 0
    assert masked.stdout == "**********\n"
    assert masked.stderr.startswith("note: ")
    assert "--reveal" in masked.stderr
    assert len(masked.stderr.splitlines()) == 1
    plain = stored("get", "markup", "--field", "username")
    assert plain.stderr == ""
