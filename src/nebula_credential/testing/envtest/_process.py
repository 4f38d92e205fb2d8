"""Child processes in their own process groups, and a watchdog that reaps them.

If the Python process that started a control plane dies abruptly (SIGKILL, a crash),
the watchdog sidecar notices its pipe closing and kills every registered process group,
so no etcd or kube-apiserver outlives a test run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from ._errors import ControlPlaneError

_LOG_TAIL_LINES: Final = 40
_PROXY_ENV: Final = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "grpc_proxy"},
)
# gRPC connection chatter the API server logs at startup; useless in error messages.
_LOG_NOISE: Final = ("] parsed scheme:", "] ccResolverWrapper:", "] ClientConn switching")

_WATCHDOG_CODE: Final = r"""
import os, shutil, signal, sys, time
groups, paths = set(), set()
for line in sys.stdin:
    op, _, arg = line.rstrip("\n").partition(" ")
    if op == "pg":
        groups.add(int(arg))
    elif op == "unpg":
        groups.discard(int(arg))
    elif op == "rm":
        paths.add(arg)
    elif op == "unrm":
        paths.discard(arg)
def alive(group):
    try:
        os.killpg(group, 0)
    except OSError:
        return False
    return True
# The owner is gone, so nothing is worth a graceful shutdown.
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
deadline = time.monotonic() + 5.0
while time.monotonic() < deadline and any(alive(g) for g in groups):
    time.sleep(0.05)
for path in paths:
    shutil.rmtree(path, ignore_errors=True)
"""


class Watchdog:
    """A tiny sidecar that kills our process groups if this process dies abruptly.

    It reads commands from a pipe only this process holds; on EOF (normal exit, crash,
    SIGKILL) it SIGKILLs every registered process group and removes registered paths.
    This works regardless of which thread started the children, unlike PDEATHSIG.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _WATCHDOG_CODE],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            stdin = self._proc.stdin
            assert stdin is not None
            with contextlib.suppress(BrokenPipeError, ValueError):
                stdin.write(line.encode() + b"\n")
                stdin.flush()

    def watch_group(self, pgid: int) -> None:
        self._send(f"pg {pgid}")

    def forget_group(self, pgid: int) -> None:
        self._send(f"unpg {pgid}")

    def watch_path(self, path: Path) -> None:
        self._send(f"rm {path}")

    def forget_path(self, path: Path) -> None:
        self._send(f"unrm {path}")

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


WATCHDOG: Final = Watchdog()


def child_env() -> dict[str, str]:
    """Our environment without proxies or etcd settings that would misdirect a child."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in _PROXY_ENV and not key.startswith(("ETCD_", "ETCDCTL_"))
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """Return the last meaningful lines of a log file (empty when missing)."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    kept = [
        line
        for line in data.decode("utf-8", "replace").splitlines()
        if not any(noise in line for noise in _LOG_NOISE)
    ]
    return "\n".join(kept[-lines:])


class Process:
    """One child in its own process group, logging to a file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *, supervise: bool) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.supervise = supervise
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        if self.running():
            raise ControlPlaneError(f"{self.name} is already running (pid {self.pid})")
        self.reap()
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=child_env(),
            )
        if self.supervise:
            WATCHDOG.watch_group(self.popen.pid)

    def start_and_wait(
        self, ready: Callable[[], bool], timeout: float, what: str, *, poll: float = 0.1
    ) -> None:
        """Start, then poll ``ready()`` until it holds. ControlPlaneError with the log's
        tail when the child exits first, or when ``timeout`` passes (it is stopped then).
        ``what`` names the wait in the error: "<name> did not <what> within N s"."""
        self.start()
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running():
                raise ControlPlaneError(f"{self.name} exited at start:\n{tail(self.log_path)}")
            if time.monotonic() > deadline:
                self.stop()
                raise ControlPlaneError(
                    f"{self.name} did not {what} within {timeout:.0f}s:\n{tail(self.log_path)}"
                )
            time.sleep(poll)

    def reap(self) -> None:
        """Forget an exited child (collecting its status)."""
        if self.popen is not None and self.popen.poll() is not None:
            if self.supervise:
                WATCHDOG.forget_group(self.popen.pid)
            self.popen = None

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """SIGTERM (or SIGKILL) the group, escalating to SIGKILL after ``timeout``."""
        popen = self.popen
        if popen is None:
            return
        pgid = popen.pid
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                popen.wait(timeout=10)
        # Anything the leader left behind in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        if self.supervise:
            WATCHDOG.forget_group(pgid)
        self.popen = None
