"""A bearer token read from a file and re-read when the file changes.

Projected ServiceAccount tokens rotate hourly: the kubelet swaps the mounted file (a new
inode behind the ``..data`` symlink). The file is looked at (one ``stat``) at most once per
``CHECK_INTERVAL`` and read again only when its identity, size or times changed, so a
rotated token is used from the next request on, not only after a 401. After a 401 the
file is read again on every request until a read succeeds. A file that has gone missing,
empty or unreadable after a good read keeps the last good token as the fallback, after a
401 too (client-go does the same: the kubelet's swap is not atomic for every reader);
without any good read it is an error that names the file.
"""

from __future__ import annotations

import os
import time
from typing import Final

from ...domain import ConfigurationError

CHECK_INTERVAL: Final = 1.0
MAX_TOKEN_BYTES: Final = 64 * 1024


class TokenFile:
    """The current token in ``path``; ``where`` names the setting in messages."""

    def __init__(self, path: str, where: str, *, interval: float = CHECK_INTERVAL) -> None:
        self.path = path
        self._where = where
        self._interval = interval
        self._token: str | None = None  # the last good token: the fallback
        self._seen: tuple[int, int, int, int, int] | None = None
        self._checked = 0.0
        self._recheck = False  # after a 401: look at the file until a read succeeds

    def __repr__(self) -> str:
        return f"TokenFile({self.path!r})"

    def token(self) -> str:
        """The token to send now (re-read when the file changed)."""
        now = time.monotonic()
        if self._token is not None and not self._recheck and now - self._checked < self._interval:
            return self._token
        self._checked = now
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return self._keep(f"cannot be read ({exc.strerror or type(exc).__name__})")
        seen = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if self._token is not None and seen == self._seen:
            return self._token
        if st.st_size > MAX_TOKEN_BYTES:
            return self._keep(f"is larger than {MAX_TOKEN_BYTES} bytes")
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read(MAX_TOKEN_BYTES + 1)
        except OSError as exc:
            return self._keep(f"cannot be read ({exc.strerror or type(exc).__name__})")
        try:
            text = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            return self._keep("does not hold an ASCII token")
        if not text or not text.isprintable() or " " in text:
            return self._keep("is empty" if not text else "does not hold one token")
        self._token, self._seen, self._recheck = text, seen, False
        return text

    def forget(self) -> None:
        """After a 401: read the file again on the next request, whatever its times, and
        on each one after until a read succeeds. The last good token stays the fallback
        while the file is missing, empty or unreadable (a swap in progress): dropping it
        would fail requests that it may still serve."""
        self._seen = None
        self._recheck = True

    def _keep(self, problem: str) -> str:
        if self._token is not None:
            return self._token
        raise ConfigurationError(
            f"the token file {self.path} ({self._where}) {problem}; "
            "check that it exists and holds a token"
        )
