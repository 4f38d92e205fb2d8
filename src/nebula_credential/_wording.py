"""How hints name the caller's means: keyword arguments, or command-line options.

A hint about a Secret another tool wrote says how to read it anyway: the kind, which key
holds which field, skipping keys that are no field. The library names its keyword
arguments; the CLI says it speaks (``speaking_cli``) and its options are named instead.
A context variable carries that choice down to where the hint is made, through the
provider, without a parameter on every call between.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, NamedTuple


class Wording(NamedTuple):
    """How a hint names the kind, key renames and skipping keys."""

    kind: str  # formatted with kind=
    rename: str
    ignore: str
    create_only: str  # a store that must not write over anything

    def pass_kind(self, kind: str) -> str:
        return self.kind.format(kind=kind)


LIBRARY: Final = Wording(
    "kind='{kind}'", "field_names={{'KEY': 'FIELD'}}", "ignore_unknown=True", "expected_version=0"
)
CLI: Final = Wording(
    "--kind {kind}", "--map-key KEY=FIELD", "--ignore-unknown", "--expected-version 0"
)

_wording: ContextVar[Wording] = ContextVar("nebula_credential_wording", default=LIBRARY)


def wording() -> Wording:
    """The words hints use for the current caller (the library's unless the CLI said so)."""
    return _wording.get()


@contextmanager
def speaking_cli() -> Iterator[None]:
    """Hints raised inside name command-line options instead of keyword arguments."""
    token = _wording.set(CLI)
    try:
        yield
    finally:
        _wording.reset(token)
