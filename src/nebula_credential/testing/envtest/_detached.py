"""The processes of planes started by ``up``: known by pid from DIR/state.json.

``up`` leaves etcd and kube-apiserver running after it exits; ``down``, ``restart``,
``stop-apiserver`` and ``start-apiserver`` find them again through the state file,
checking that a recorded pid still runs the expected binary before signalling it.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from ._configs import write_private
from ._errors import ControlPlaneError
from ._flags import POLL_INTERVAL
from ._material import load_state, save_state
from ._plane import ControlPlane
from ._process import Process

APISERVER: Final = "kube-apiserver"


def state_path(root: Path) -> Path:
    return root / "state.json"


def pid_matches(pid: int, binary: str) -> bool:
    """Whether ``pid`` is a live process running ``binary`` (a zombie is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return Path(cmdline.split(b"\0", 1)[0].decode(errors="replace")).name == binary


def kill_detached(pid: int, binary: str, *, kill: bool = False, timeout: float = 10.0) -> bool:
    """SIGTERM (or SIGKILL) the process group ``pid`` leads if it runs ``binary``,
    escalating to SIGKILL after ``timeout``; whether it is gone."""
    first = signal.SIGKILL if kill else signal.SIGTERM
    for sig, wait in ((first, timeout), (signal.SIGKILL, 5.0)):
        if not pid_matches(pid, binary):
            return True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and pid_matches(pid, binary):
            time.sleep(POLL_INTERVAL)
    return not pid_matches(pid, binary)


def read_state(root: Path) -> dict[str, Any]:
    path = state_path(root)
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ControlPlaneError(f"no planes in {root}: {path} not found; run 'up' first") from None
    return state


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise state updates of commands run at once on planes of one ``up``."""
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class DetachedPlane:
    """One plane of DIR/state.json, whose API server can be stopped and started again."""

    def __init__(self, root: Path, selector: str | None = None) -> None:
        planes = read_state(root)["planes"]
        names = [p["name"] for p in planes]
        if selector is None:
            index = 0
        elif selector in names:
            index = names.index(selector)
        elif selector.isdigit() and int(selector) < len(planes):
            index = int(selector)
        else:
            raise ControlPlaneError(
                f"no plane {selector!r} in {state_path(root)}; "
                f"have {', '.join(names)} (or an index 0..{len(planes) - 1})"
            )
        self.root = root
        self.entry: dict[str, Any] = planes[index]
        self.name: str = self.entry["name"]
        self.plane = ControlPlane.attach(self.entry["directory"])

    @property
    def server(self) -> str:
        return self.plane.server

    def _pid(self, binary: str) -> int | None:
        pid = self.entry["pids"].get(binary)
        return int(pid) if pid and pid_matches(int(pid), binary) else None

    @property
    def apiserver_pid(self) -> int | None:
        """The pid of the running API server, or None."""
        return self._pid(APISERVER)

    def stop_apiserver(self, *, kill: bool = False) -> None:
        """Stop the API server (SIGTERM, or SIGKILL with ``kill=True``); etcd stays."""
        pid = self.apiserver_pid
        if pid is not None and not kill_detached(pid, APISERVER, kill=kill):
            raise ControlPlaneError(f"kube-apiserver of plane {self.name} (pid {pid}) won't stop")
        self._record_pid(None)

    def start_apiserver(self, *, timeout: float = 60.0) -> int:
        """Start the API server with its recorded command line (same port, flags and
        certificates) and wait until ``/readyz`` answers 200; its pid."""
        running = self.apiserver_pid
        if running is not None:
            raise ControlPlaneError(
                f"kube-apiserver of plane {self.name} is already running (pid {running})"
            )
        if self._pid("etcd") is None:
            raise ControlPlaneError(
                f"etcd of plane {self.name} is not running; run 'down' and 'up' again"
            )
        argv = load_state(self.plane.directory)[0].get("apiserver_argv")
        if not argv:
            raise ControlPlaneError(
                f"no kube-apiserver command line recorded for plane {self.name}; "
                "run 'down' and 'up' again"
            )
        process = Process(APISERVER, argv, self.plane.apiserver_log_path, supervise=False)
        process.start()
        assert process.pid is not None
        try:
            self._wait_ready(process.running, timeout)
        except BaseException:
            process.stop(kill=True)
            raise
        self._record_pid(process.pid)
        return process.pid

    def restart_apiserver(
        self, *, kill: bool = False, down_for: float = 0.0, timeout: float = 60.0
    ) -> int:
        """Stop the API server, keep it down ``down_for`` seconds, start it again; its pid."""
        self.stop_apiserver(kill=kill)
        time.sleep(down_for)
        return self.start_apiserver(timeout=timeout)

    def _wait_ready(self, running: Callable[[], bool], timeout: float) -> None:
        # ``running`` asks the child itself: just after exec its /proc cmdline is empty.
        log = self.plane.apiserver_log_path
        deadline = time.monotonic() + timeout
        while running():
            try:
                if self.plane.request("GET", "/readyz", timeout=5).status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"kube-apiserver of plane {self.name} not ready at {self.server} "
                    f"after {timeout:g}s; see {log}"
                )
            time.sleep(POLL_INTERVAL)
        raise ControlPlaneError(f"kube-apiserver of plane {self.name} exited; see {log}")

    def _record_pid(self, pid: int | None) -> None:
        """Write the API server's pid to DIR/state.json (for ``down``) and plane.json."""
        with _locked(self.root):
            state = read_state(self.root)
            for entry in state["planes"]:
                if entry["name"] == self.name:
                    entry["pids"][APISERVER] = pid
            path = state_path(self.root)
            spare = path.with_name(f".{path.name}.new")
            write_private(spare, json.dumps(state, indent=2).encode())
            os.replace(spare, path)  # ``down`` never reads half a file
            plane_state = load_state(self.plane.directory)[0]
            plane_state["pids"][APISERVER] = pid
            save_state(self.plane.directory, plane_state)
        self.entry["pids"][APISERVER] = pid
