"""The table view of ``get``: aligned key/value lines that keep every character."""

from __future__ import annotations

import io

import pytest

from nebula_credential.cli.detail import print_rows


def test_long_and_multi_line_values_fold_under_their_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    value = "a" * 70 + "\x1b[2J" + "b" * 5
    pem = "-----BEGIN-----\nMIIB\n-----END-----"
    out = io.StringIO()
    print_rows([("id", "svc"), ("fields.private_key", pem), ("fields.long", value)], out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "id" + " " * 18 + "svc"
    assert all(len(line) <= 40 for line in lines)
    assert [line[20:] for line in lines[1:4]] == pem.splitlines()
    assert all(line[:20].strip() == "" for line in lines[2:4])
    folded = "".join(line[20:] for line in lines[4:])
    assert folded == "a" * 70 + "\\x1b" + "[2J" + "b" * 5  # the escape is shown, never split
    assert "\x1b" not in out.getvalue()  # not a terminal: no styles


def test_absent_values_leave_the_line_empty() -> None:
    out = io.StringIO()
    print_rows([("owner", None), ("tags", "")], out)
    assert out.getvalue() == "owner\ntags\n"
