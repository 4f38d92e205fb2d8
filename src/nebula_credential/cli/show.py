"""``get`` itself, and its plain command lines read without building the typer app.

``nebula-credential get`` is the command scripts run in loops (``$(nebula-credential get
ID --field token --reveal)``), and importing typer and building the app cost about as
much as the rest of it. :func:`main` first offers the command line to
:func:`quick_call`, which accepts only the plain shapes of ``get``: root options each at
most once (``--opt value`` or ``--opt=value``), then ``get``, one ID, and ``--field``,
``--reveal``/``--no-reveal``, ``--output``/``-o``, each at most once. Anything else (help,
the options for Secrets other tools wrote, a repeated option, a value that starts with
``-``, ``--``, an unknown word) gives None, and typer parses the line as it always does.
``tests/cli/test_cli_quick_get.py`` holds both parsers to the same result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final, NamedTuple

from ..domain import Credential, CredentialId
from .foreign_read import ForeignRead
from .inputs import UsageError
from .output import OutputFormat, print_field, print_one
from .providers import ProviderName, ProviderOptions
from .session import State, noted, run_sync, say


class GetRequest(NamedTuple):
    """What ``get`` was asked, beyond the root options."""

    credential_id: str
    field: str | None = None
    reveal: bool = False
    foreign: ForeignRead = ForeignRead(None, [], False)


def show(state: State, request: GetRequest) -> None:
    """Print the credential (or one field of it) that ``request`` names."""
    credential: Credential
    foreign = request.foreign
    if foreign.asked():
        from .foreign_read import read_foreign

        with noted(state):
            credential = read_foreign(state.options, request.credential_id, foreign)
        cid = credential.id
    else:
        cid = CredentialId(request.credential_id)
        credential = run_sync(state, lambda p: p.get(cid))
    field = request.field
    if field is not None:
        if field not in credential.fields:
            present = ", ".join(credential.fields)
            raise UsageError(f"credential {cid!r} has no field {field!r}; it has: {present}")
        print_field(credential, field, sys.stdout, reveal=request.reveal, note=say)
        return
    print_one(credential, state.output, sys.stdout, reveal=request.reveal)


# Options that take a value, by spelling, and what each sets; flags and what they set.
_ROOT_VALUES: Final = {
    "--provider": "provider",
    "--data-dir": "data_dir",
    "--namespace": "namespace",
    "--context": "context",
    "--kubeconfig": "kubeconfig",
    "--prefix": "prefix",
    "--output": "output",
    "-o": "output",
}
_ROOT_FLAGS: Final = {"--debug": ("debug", True), "--no-debug": ("debug", False)}
_GET_VALUES: Final = {"--field": "field", "--output": "output", "-o": "output"}
_GET_FLAGS: Final = {"--reveal": ("reveal", True), "--no-reveal": ("reveal", False)}
_PROVIDERS: Final = {name.value: name for name in ProviderName}
_FORMATS: Final = {fmt.value: fmt for fmt in OutputFormat}


def _read(
    words: list[str], values: dict[str, str], flags: dict[str, tuple[str, bool]], *, stop: bool
) -> tuple[dict[str, str | bool], list[str]] | None:
    """``words`` as ({what: value}, positional words), or None unless every word is
    plainly one of these options (each at most once) or a positional word. ``stop``:
    the first positional word ends the reading; it and the rest are returned as they are.
    """
    found: dict[str, str | bool] = {}
    positional: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, value = word.partition("=")
        if name in flags and not eq:
            key, flag = flags[name]
            if key in found:
                return None
            found[key] = flag
        elif name in values and not (eq and name == "-o"):  # click reads -o=x as "=x"
            if not eq:
                i += 1
                if i == len(words):
                    return None
                value = words[i]
            key = values[name]
            if key in found or value.startswith("-"):
                return None
            found[key] = value
        elif word.startswith("-") or not word:
            return None
        elif stop:
            return found, words[i:]
        else:
            positional.append(word)
        i += 1
    return found, positional


def quick_call(args: list[str]) -> tuple[State, GetRequest] | None:
    """``args`` as a plain ``get`` (see the module docstring), or None."""
    root = _read(args, _ROOT_VALUES, _ROOT_FLAGS, stop=True)
    if root is None or not root[1] or root[1][0] != "get":
        return None
    command = _read(root[1][1:], _GET_VALUES, _GET_FLAGS, stop=False)
    if command is None or len(command[1]) != 1:
        return None
    top, given = root[0], command[0]
    provider = top.get("provider")
    formats = [f for f in (top.get("output"), given.get("output")) if f is not None]
    if (provider is not None and provider not in _PROVIDERS) or any(
        f not in _FORMATS for f in formats
    ):
        return None  # typer says which values it takes

    def path(key: str) -> Path | None:
        text = top.get(key)
        return None if text is None else Path(str(text))

    def text(key: str) -> str | None:
        value = top.get(key)
        return None if value is None else str(value)

    options = ProviderOptions(
        None if provider is None else _PROVIDERS[str(provider)],
        path("data_dir"),
        text("namespace"),
        text("context"),
        path("kubeconfig"),
        text("prefix"),
    )
    output = _FORMATS[str(formats[-1])] if formats else OutputFormat.TABLE
    state = State(options, output, bool(top.get("debug", False)))
    field = given.get("field")
    request = GetRequest(
        command[1][0],
        None if field is None else str(field),
        bool(given.get("reveal", False)),
    )
    return state, request
