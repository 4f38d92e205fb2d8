"""The CLI in a process of its own, as an operator runs it, its JSON action lines kept.

Long-running commands (``controller``) report what they do as one JSON object per line
on stderr; tests and benchmarks read those lines while the process runs, then stop it
with SIGTERM as Kubernetes stops a pod.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class CliProcess:
    """``command`` (an entry point next to this Python) with ``args``, in a clean
    environment (no ``NEBULA_*`` or ``KUBE*`` variables of the caller), ``HOME`` set to
    ``home`` and ``env`` added."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        home: Path,
        env: Mapping[str, str] | None = None,
        command: str = "nebula-credential",
    ) -> None:
        exe = str(Path(sys.executable).with_name(command))
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
        environ["HOME"] = str(home)
        environ.update(env or {})
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [exe, *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=environ
        )
        self._timed: list[tuple[float, str]] = []  # (seconds after the start, line)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._timed.append((time.monotonic() - self.started, line.rstrip("\n")))

    @property
    def lines(self) -> list[str]:
        """Every stderr line so far."""
        return [line for _, line in list(self._timed)]

    def actions(self, *wanted: str) -> list[dict[str, Any]]:
        """The action lines whose ``action`` is one of ``wanted``, in order, each with
        ``at``: when it arrived, in seconds after the start."""
        found: list[dict[str, Any]] = []
        for at, line in list(self._timed):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("action") in wanted:
                found.append({**record, "at": at})
        return found

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as Kubernetes stops a pod; the exit code. A process still running
        after ``timeout`` seconds is killed and ``subprocess.TimeoutExpired`` raised."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            self._release()

    def kill(self) -> None:
        """SIGKILL: no clean stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._release()

    def _release(self) -> None:
        if self.process.poll() is None:
            return  # still running: its stderr stays open
        self._reader.join(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()
