"""A plain ``get`` is read without building the typer app (cli/show.py); both readings
of a command line must agree, and the quick one must take nothing typer refuses.

Each command line goes through typer (as every command did before) and through
``quick_call``; ``show`` is replaced by a recorder, so no store is touched. Thousands
of lines are drawn from a fixed seed out of words that matter to either parser.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from nebula_credential import cli
from nebula_credential.cli import show as show_module
from nebula_credential.cli.session import State
from nebula_credential.cli.show import GetRequest, quick_call

Seen = tuple[Any, ...]


def _seen(state: State, request: GetRequest) -> Seen:
    return (state.options, state.output, state.debug, request)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Seen]:
    calls: list[Seen] = []
    monkeypatch.setattr(show_module, "show", lambda state, req: calls.append(_seen(state, req)))
    return calls


def _through_typer(args: list[str], recorded: list[Seen]) -> Seen | None:
    recorded.clear()
    cli._guarded(lambda: cli._through_typer(list(args)), debug=False)
    return recorded[0] if recorded else None


PLAIN = [
    ["get", "api"],
    ["get", "api", "--reveal"],
    ["get", "--field", "api_key", "api", "--reveal"],
    ["get", "api", "--field=api_key", "--no-reveal"],
    ["--provider", "kubernetes", "--namespace", "team-a", "get", "api", "-o", "json"],
    ["--provider=local", "--data-dir", "/tmp/store", "get", "api"],
    ["--kubeconfig", "/tmp/k.yaml", "--context", "c1", "--prefix", "p", "get", "x"],
    ["-o", "yaml", "get", "api", "--output", "json"],
    ["--debug", "get", "api"],
    ["--namespace", "get", "get", "get"],  # a value that is the command's name
    ["--namespace", "", "get", "api"],
    ["--data-dir=", "get", "api"],
]


@pytest.mark.parametrize("args", PLAIN, ids=" ".join)
def test_plain_get_lines_are_read_quickly_and_as_typer_reads_them(
    args: list[str], recorded: list[Seen]
) -> None:
    quick = quick_call(args)
    assert quick is not None, "a plain get goes the quick way"
    assert _through_typer(args, recorded) == _seen(*quick)


OTHERS = [
    [],
    ["get"],
    ["get", "a", "b"],
    ["get", "--help"],
    ["--help", "get", "x"],
    ["get", "x", "--kind", "api_key"],
    ["get", "x", "--by-name"],
    ["get", "x", "--field", "a", "--field", "b"],
    ["--namespace", "a", "--namespace", "b", "get", "x"],
    ["get", "--", "-x"],
    ["get", "-x"],
    ["get", "x", "-ojson"],
    ["get", "x", "-o=json"],
    ["--provider", "nowhere", "get", "x"],
    ["get", "x", "-o", "xml"],
    ["get", "x", "--reveal=yes"],
    ["list"],
    ["store", "get"],
    ["get", "x", "--namespace", "n"],  # a root option after the command
    ["--namespace", "-n", "get", "x"],
]


@pytest.mark.parametrize("args", OTHERS, ids=lambda a: " ".join(a) or "(none)")
def test_anything_else_is_left_to_typer(args: list[str]) -> None:
    assert quick_call(args) is None


WORDS = [
    "get", "get", "get", "api", "x", "", "-", "--", "-x", "--help", "-h",
    "--provider", "kubernetes", "local", "nowhere", "--provider=kubernetes",
    "--namespace", "ns", "--namespace=ns", "--context", "--kubeconfig", "/k",
    "--data-dir", "--data-dir=/d", "--prefix", "--debug", "--no-debug",
    "-o", "--output", "json", "yaml", "table", "xml", "--output=json", "-ojson", "-o=json",
    "--field", "--field=api_key", "api_key", "--reveal", "--no-reveal", "--reveal=1",
    "--kind", "api_key", "--map-key", "a=b", "--ignore-unknown", "--by-name", "list",
]  # fmt: skip


ROOT_PIECES = [
    ["--provider", "kubernetes"], ["--provider=local"], ["--namespace", "ns"], ["--namespace=ns"],
    ["--context", "c"], ["--kubeconfig", "/k"], ["--data-dir=/d"], ["--prefix", "p"],
    ["--debug"], ["--no-debug"], ["-o", "json"], ["--output=yaml"],
]  # fmt: skip
GET_PIECES = [
    ["--field", "api_key"], ["--field=token"], ["--reveal"], ["--no-reveal"], ["-o", "table"],
    ["--output", "json"],
]  # fmt: skip


def _line(draw: random.Random) -> list[str]:
    """Plain pieces of either part, with a stray word now and then."""
    root = [w for _ in range(draw.randint(0, 3)) for w in draw.choice(ROOT_PIECES)]
    rest = [w for _ in range(draw.randint(0, 3)) for w in draw.choice(GET_PIECES)]
    rest.insert(draw.randint(0, len(rest)), draw.choice(["api", "x", "get"]))
    args = [*root, "get", *rest]
    for _ in range(draw.choice([0, 0, 1, 2])):
        args.insert(draw.randint(0, len(args)), draw.choice(WORDS))
    return args


def test_drawn_lines_agree_and_quick_takes_nothing_typer_refuses(recorded: list[Seen]) -> None:
    draw = random.Random(20261207)
    quick_lines = 0
    for _ in range(2000):
        args = _line(draw)
        quick = quick_call(args)
        if quick is None:
            continue
        quick_lines += 1
        assert _through_typer(args, recorded) == _seen(*quick), args
    assert quick_lines >= 500  # the draw does reach the quick way


def test_a_quick_get_prints_what_get_always_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole command, on a real local store: the same output and exit codes."""
    base = ["--data-dir", str(tmp_path)]
    assert cli.main([*base, "store", "api", "--kind", "api_key", "--field", "api_key=v-1"]) == 0
    capsys.readouterr()
    for args, code in (
        (["get", "api", "--field", "api_key", "--reveal"], 0),
        (["-o", "json", "get", "api"], 0),
        (["get", "api", "--field", "nope"], 2),
        (["get", "absent"], 3),
        (["get", "bad id!"], 2),
    ):
        assert quick_call([*base, *args]) is not None
        assert cli.main([*base, *args]) == code
        quick_out = capsys.readouterr()
        assert cli._guarded(lambda a=args: cli._through_typer([*base, *a]), False) == code
        assert capsys.readouterr() == quick_out
