"""Text that reaches a terminal shows as text: no markup, no control sequences.

Field values, owners and tags can hold anything a writer put there (on a shared
cluster, someone else). A table cell is a rich ``Text``, never markup, and characters
that steer a terminal or reorder what it shows are printed as visible escapes
(``\\x1b``, ``\\u202e``): C0 controls other than tab and newline, DEL, C1 controls,
bidirectional overrides and the Unicode line separators. A backslash that would read
as the start of an escape (one followed by ``x``, ``u``, ``n``, ``t``, another
backslash or an escaped character) is shown doubled, so what is shown can always be
read back: ``\\\\`` is a backslash, ``\\xNN``, ``\\uNNNN``, ``\\n`` and ``\\t`` the
character they name, and every other character itself. A table cell is one line: tabs
and newlines in it are escaped too. JSON and YAML keep every value exactly (they are for
scripts) but write those characters as escapes too, so printing either to a terminal
is safe as well.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from rich.text import Text

# Characters a terminal acts on rather than shows, or that reorder the text around them.
_STEERING: Final = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_STEERS: Final = f"[\x00-\x08\x0b-\x1f{_STEERING}\ud800-\udfff]"
_STEERS_IN_LINE: Final = f"[\x00-\x1f{_STEERING}\ud800-\udfff]"
# Compiled on first use: most output is printable ASCII, which never needs them, and
# compiling these classes costs a CLI command about two milliseconds of start-up.
_PATTERNS: Final = {
    "unsafe": _STEERS,
    # What is shown escaped: those characters, and a backslash that would read as an escape.
    "shown": f"{_STEERS}|\\\\(?=[\\\\xunt]|{_STEERS})",
    "shown_in_line": f"{_STEERS_IN_LINE}|\\\\(?=[\\\\xunt]|{_STEERS_IN_LINE})",
    # msgspec already writes C0 controls inside strings as \u00XX; JSON's structure is ASCII.
    "unsafe_in_json": f"[{_STEERING}]",
}
_compiled: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    found = _compiled.get(name)
    if found is None:
        found = _compiled[name] = re.compile(_PATTERNS[name])
    return found


def _plain(text: str) -> bool:
    """Printable ASCII without a backslash: shown as it is, in every mode."""
    return text.isascii() and text.isprintable() and "\\" not in text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x5C:
        return "\\\\"
    if code == 0x0A:
        return "\\n"
    if code == 0x09:
        return "\\t"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def is_terminal_safe(text: str) -> bool:
    """True when ``text`` holds no character a terminal would act on (tab, newline are fine)."""
    if text.isascii() and text.isprintable():
        return True
    return _pattern("unsafe").search(text) is None


def visible(text: str) -> str:
    """``text`` with terminal-steering characters shown as escapes; newlines and tabs kept."""
    return text if _plain(text) else _pattern("shown").sub(_escape, text)


def one_line(text: str) -> str:
    """``text`` as one safe line (for error messages): newlines and tabs escaped too."""
    return text if _plain(text) else _pattern("shown_in_line").sub(_escape, text)


def escaped_pieces(text: str, *, line: bool = False) -> list[tuple[str, bool]]:
    """``text`` as pieces of plain text (False) and visible escapes (True); with ``line``,
    tabs and newlines are escapes too."""
    if _plain(text):
        return [(text, False)] if text else []
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in _pattern("shown_in_line" if line else "shown").finditer(text):
        pieces.append((text[last : match.start()], False))
        pieces.append((_escape(match), True))
        last = match.end()
    pieces.append((text[last:], False))
    return [piece for piece in pieces if piece[0]]


def cell(value: object) -> Text:
    """A table cell showing ``value`` as one line of plain text; escapes show in reverse
    video. Tabs and newlines are escaped: a table would expand or break them."""
    from rich.text import Text

    shown = Text()
    for text, escape in escaped_pieces("" if value is None else str(value), line=True):
        shown.append(text, style="reverse" if escape else None)
    return shown


def json_text(encoded: str) -> str:
    """JSON text with steering characters written as ``\\uXXXX`` (the same JSON value)."""
    if encoded.isascii() and "\x7f" not in encoded:  # DEL is the one ASCII steerer left
        return encoded
    return _pattern("unsafe_in_json").sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def yaml_is_safe(dumped: str) -> bool:
    """PyYAML escapes controls itself but writes bidirectional overrides as they are."""
    return is_terminal_safe(dumped)
