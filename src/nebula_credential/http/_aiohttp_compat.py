"""The one piece of aiohttp's internals the asyncio driver relies on (pinned by a test).

aiohttp sends a GET, PUT or DELETE once more, silently, when a reused keep-alive
connection breaks under it (``ClientSession._retry_connection``, no public switch). A
DELETE whose reply was lost then comes back as "404: nothing to delete" and a PUT as a
conflict with itself, and the retry policy never sees the first attempt. The drivers
repeat nothing: the protocol core decides, knowing the first attempt may have landed.
"""

from __future__ import annotations

import aiohttp


def no_silent_repeat(session: aiohttp.ClientSession) -> None:
    """Make ``session`` report a broken reused connection instead of repeating the request.

    Releases without the attribute do not repeat requests; the pinning test fails when
    a release renames it."""
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
