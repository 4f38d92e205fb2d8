"""One stderr line for every hand edit a command's reads find (``model.hand_edits``).

A read that returns a per-field key's value over ``credential.json`` tells the library's
listeners; while a command runs, the CLI is one of them and prints the warning, so a
person sees why ``get`` shows another value than ``credential.json`` holds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .safe_text import one_line

if TYPE_CHECKING:
    from ..kubernetes.model.hand_edits import HandEdit


def _say(edit: HandEdit) -> None:
    sys.stderr.write(f"warning: {one_line(edit.message())}\n")
    sys.stderr.flush()


@contextmanager
def hand_edit_lines() -> Iterator[None]:
    """Print a line per hand edit found until the block ends."""
    from ..kubernetes.model.hand_edits import add_hand_edit_listener

    remove = add_hand_edit_listener(_say)
    try:
        yield
    finally:
        remove()
