"""One credential as aligned ``key  value`` lines, the table view of ``get``.

It lays out what a borderless two-column rich table would, without importing rich: that
import is a quarter of the start-up of ``get``, the command people and scripts run most.
Values are shown as :mod:`.safe_text` says (steering characters as visible escapes);
on a terminal, keys are bold and escapes in reverse video, as in the rich tables.
Values wider than the terminal fold onto lines aligned under the value column.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TextIO

from .safe_text import escaped_pieces

_BOLD, _REVERSE, _RESET = "\x1b[1m", "\x1b[7m", "\x1b[0m"
_MIN_VALUE_WIDTH = 10

Piece = tuple[str, bool]  # text, and whether it is an escape shown in reverse video


def print_rows(rows: Iterable[tuple[str, object]], out: TextIO) -> None:
    """Write ``rows`` as two aligned columns (keys are plain identifiers)."""
    cells = [(key, escaped_pieces("" if value is None else str(value))) for key, value in rows]
    styled = _styles_on(out)
    key_width = max((len(key) for key, _ in cells), default=0)
    room = max(_columns() - key_width - 2, _MIN_VALUE_WIDTH)
    for key, pieces in cells:
        lines = _fold(pieces, room) or [[]]
        head = f"{_BOLD}{key}{_RESET}" if styled else key
        out.write(_line(head + " " * (key_width - len(key)), lines[0], styled))
        for more in lines[1:]:
            out.write(_line(" " * key_width, more, styled))


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` tells it (``COLUMNS``, else
    the terminal of stdout, else 80), without importing shutil (and bz2, lzma) for it."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def _line(lead: str, pieces: list[Piece], styled: bool) -> str:
    shown = "".join(f"{_REVERSE}{t}{_RESET}" if rev and styled else t for t, rev in pieces)
    return f"{lead}  {shown}".rstrip() + "\n"


def _fold(pieces: list[Piece], width: int) -> list[list[Piece]]:
    """Lines of at most ``width`` characters: a newline in the text starts a new line
    (one at the end too, so the text reads back whole), and a longer line is cut (an
    escape is never cut in two)."""
    lines: list[list[Piece]] = []
    line: list[Piece] = []
    used = 0
    for text, rev in pieces:
        parts = [text] if rev else text.split("\n")
        for number, part in enumerate(parts):
            if number:  # a newline of the value
                lines.append(line)
                line, used = [], 0
            while part:
                if used and used + (len(part) if rev else 1) > width:
                    lines.append(line)
                    line, used = [], 0
                take = part if rev else part[: width - used]
                line.append((take, rev))
                used += len(take)
                part = part[len(take) :]
    lines.append(line)
    return lines


def _styles_on(out: TextIO) -> bool:
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
