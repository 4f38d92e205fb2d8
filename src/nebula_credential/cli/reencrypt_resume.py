"""``reencrypt --resume FILE``: where a long run stopped, so a rerun goes on from there.

A rerun without it is safe too (each write is a compare-and-swap that changes nothing,
and the API server writes nothing for a Secret already under its current key), but it
sends one request per Secret again. The file records the last ``namespace/name`` of
the last finished page (the API server lists in that order) and the Secrets that
failed; it is rewritten atomically after each page and removed when a run ends with
nothing failed. It belongs to one run: a file made for another cluster, namespace or
choice of Secrets is refused rather than skipping the wrong Secrets.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .inputs import UsageError, read_file_bytes
from .safe_text import one_line

if TYPE_CHECKING:
    from ..kubernetes.store.reencrypt import ReencryptSummary, Resume

FORMAT: Final = "nebula-credential/reencrypt-resume/v1"
MAX_STATE: Final = 64 * 1024 * 1024  # a failure list of a very large cluster


class ResumeFile:
    """The state file of one run over ``scope`` (server, namespace or all, which Secrets)."""

    def __init__(self, path: Path, scope: dict[str, Any]) -> None:
        self.path = path
        self.scope = scope
        self.shown = one_line(str(path))

    def load(self) -> Resume | None:
        """The point to resume from; None when the file does not exist yet."""
        from ..kubernetes.store.reencrypt import Resume

        if not self.path.parent.is_dir():
            raise UsageError(f"--resume file {self.shown}: its directory does not exist")
        if not self.path.exists():
            self._write(None, [])  # a file that cannot be written fails now, not mid-run
            return None
        raw = read_file_bytes(self.path, "--resume file", MAX_STATE)
        try:
            state = json.loads(raw)
            ok = isinstance(state, dict) and state.get("format") == FORMAT
        except ValueError:
            ok = False
        if not ok:
            raise UsageError(
                f"--resume file {self.shown} is not a reencrypt state file; name another file "
                "(it is created when missing)"
            )
        if state.get("scope") != self.scope:
            raise UsageError(
                f"--resume file {self.shown} records another run ({_shown(state.get('scope'))}), "
                f"not this one ({_shown(self.scope)}); remove it to start over"
            )
        after, retry = state.get("after"), state.get("failed")
        if not (after is None or isinstance(after, str)) or not isinstance(retry, list):
            raise UsageError(f"--resume file {self.shown} is damaged; remove it to start over")
        return Resume(after, tuple(str(key) for key in retry))

    def save(self, summary: ReencryptSummary) -> None:
        """Record ``summary``'s resume point, atomically (a crash leaves the old file)."""
        self._write(summary.position if summary.ordered else None, sorted(summary.failed))

    def _write(self, after: str | None, failed: list[str]) -> None:
        state = {"format": FORMAT, "scope": self.scope, "after": after, "failed": failed}
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        except OSError as exc:
            raise UsageError(f"cannot write --resume file {self.shown}: {exc.strerror}") from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(state, out)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def finish(self, summary: ReencryptSummary) -> bool:
        """Remove the file when nothing is left to retry (True), else keep the failures."""
        if summary.failed:
            self.save(summary)
            return False
        self.path.unlink(missing_ok=True)
        return True


def _shown(scope: object) -> str:
    if not isinstance(scope, dict):
        return "unknown"
    where = scope.get("namespace") or "every namespace"
    which = "every Secret" if scope.get("all_secrets") else "managed Secrets"
    return one_line(f"{which} in {where} on {scope.get('server')}")
