"""Stopping, starting and restarting a plane's API server while etcd keeps running."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

from ._errors import ControlPlaneError
from ._layout import PlaneLayout


class ApiserverControl(PlaneLayout):
    """The API server half of :class:`ControlPlane`'s process control; it sets these."""

    _lock: threading.RLock
    _closed: bool
    startup_timeout: float
    apiserver_startup_seconds: float | None

    def stop_apiserver(self, *, kill: bool = False, timeout: float = 15.0) -> None:
        """Stop only the API server (SIGTERM, or SIGKILL with ``kill=True``); etcd stays."""
        with self._lock:
            if self._apiserver is None:
                raise self._never_started()
            self._apiserver.stop(kill=kill, timeout=timeout)

    def start_apiserver(self) -> None:
        """Start the API server again on the same port with the same flags and certificates,
        and wait until ``/readyz`` answers 200 (at most ``startup_timeout`` seconds)."""
        with self._lock:
            if self._closed or self._apiserver is None:
                raise ControlPlaneError(f"control plane {self.name} is not started")
            if self._etcd is None or not self._etcd.running():
                raise ControlPlaneError(f"etcd of control plane {self.name} is not running")
            self._launch_apiserver()

    def restart_apiserver(self, *, kill: bool = False, down_for: float = 0.0) -> None:
        """Stop the API server (SIGTERM, or SIGKILL with ``kill=True``), keep it down for
        ``down_for`` seconds, start it again on the same port and wait until it is ready.

        Clients keep their kubeconfigs: the URL, CA and tokens do not change. Raises
        :class:`ControlPlaneError` when the server is not ready within ``startup_timeout``.
        """
        if down_for < 0:
            raise ValueError(f"down_for must not be negative: {down_for}")
        self.stop_apiserver(kill=kill)
        # Not under the lock: the plane's other methods stay usable while it is down.
        time.sleep(down_for)
        self.start_apiserver()

    def restart_apiserver_later(
        self, *, delay: float = 0.0, kill: bool = False, down_for: float = 0.0
    ) -> Future[None]:
        """:meth:`restart_apiserver` in a background thread, after ``delay`` seconds.

        Returns at once, so the test can go on using the server (or let another process
        use it) while it goes down and comes back. ``future.result(timeout)`` waits for
        the server to be ready again and re-raises what the restart raised::

            restarted = plane.restart_apiserver_later(delay=0.5, down_for=3)
            ...  # a client mid-operation meets the outage
            restarted.result(timeout=90)
        """
        if delay < 0 or down_for < 0:
            raise ValueError(f"delay and down_for must not be negative: {delay}, {down_for}")
        future: Future[None] = Future()
        future.set_running_or_notify_cancel()

        def run() -> None:
            try:
                time.sleep(delay)
                self.restart_apiserver(kill=kill, down_for=down_for)
            except BaseException as exc:  # handed to whoever calls future.result()
                future.set_exception(exc)
            else:
                future.set_result(None)

        threading.Thread(target=run, name=f"restart-apiserver-{self.name}", daemon=True).start()
        return future

    def _launch_apiserver(self) -> None:
        assert self._apiserver is not None
        began = time.monotonic()
        self._apiserver.start()
        try:
            self.wait_ready(self.startup_timeout)
        except BaseException:
            self._apiserver.stop(kill=True)
            raise
        self.apiserver_startup_seconds = time.monotonic() - began
