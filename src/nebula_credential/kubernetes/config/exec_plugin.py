"""kubeconfig exec credential plugins (``aws eks get-token``, ``gke-gcloud-auth-plugin``,
``kubelogin``), run as kubectl runs them.

The plugin runs without a shell and without standard input, with the kubeconfig's
``args`` and ``env`` on top of ours and ``KUBERNETES_EXEC_INFO`` describing the request
(``spec.cluster`` when ``provideClusterInfo: true``). Its ``ExecCredential`` (API version
``client.authentication.k8s.io/v1``, ``v1beta1`` or the older ``v1alpha1``, the one the
kubeconfig names) gives a token and/or a client certificate, cached until its
``expirationTimestamp`` or, without one, until the server answers 401. A run is bounded
in time and output. What the plugin prints -- on standard output or standard error --
holds tokens and is never repeated in a message: errors name the plugin and what was
wrong, and advise running it by hand.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ...domain import ConfigurationError
from .kubeconfig import KubeCluster

if TYPE_CHECKING:
    import asyncio  # imported where a plugin runs: resolving a kubeconfig must not load it

MAX_OUTPUT: Final = 1024 * 1024
API_VERSIONS: Final = frozenset(
    f"client.authentication.k8s.io/{v}" for v in ("v1", "v1beta1", "v1alpha1")
)
_EXTENSION: Final = "client.authentication.k8s.io/exec"


@dataclass(frozen=True, slots=True)
class Issued:
    """What one run of a plugin handed out (never shown)."""

    token: str | None = field(repr=False)
    cert: tuple[bytes, bytes] | None = field(repr=False)
    expires: float | None  # wall-clock seconds


def cluster_info(server: str, cluster: KubeCluster, ca: bytes | None) -> dict[str, Any]:
    """``spec.cluster`` of ``KUBERNETES_EXEC_INFO`` for a plugin with provideClusterInfo."""
    info: dict[str, Any] = {"server": server}
    if cluster.tls_server_name:
        info["tls-server-name"] = cluster.tls_server_name
    if cluster.proxy_url:
        info["proxy-url"] = cluster.proxy_url
    if cluster.insecure_skip_tls_verify:
        info["insecure-skip-tls-verify"] = True
    if cluster.disable_compression:
        info["disable-compression"] = True
    if ca is not None:
        info["certificate-authority-data"] = base64.b64encode(ca).decode()
    if _EXTENSION in cluster.extensions:
        info["config"] = cluster.extensions[_EXTENSION]
    return info


class ExecPlugin:
    """One kubeconfig ``exec`` entry; :meth:`credential` runs it when needed."""

    def __init__(
        self, spec: Mapping[str, Any], cluster: dict[str, Any], where: str, timeout: float
    ) -> None:
        command = spec.get("command")
        if not isinstance(command, str) or not command:
            raise ConfigurationError(f"the exec plugin in {where} has no command")
        self.name = os.path.basename(command)[:80]
        self._what = f"the exec credential plugin {self.name!r}"
        self._where = where
        self.api_version = spec.get("apiVersion")
        if self.api_version not in API_VERSIONS:
            raise ConfigurationError(
                f"{self._what} of {where} asks for apiVersion "
                f"{str(self.api_version)[:80]!r}; supported: {', '.join(sorted(API_VERSIONS))}"
            )
        args = spec.get("args") or []
        env = spec.get("env") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigurationError(
                f"the args of {self._what} of {where} must be a list of strings"
            )
        if not isinstance(env, list) or not all(
            isinstance(e, Mapping) and isinstance(e.get("name"), str) for e in env
        ):
            raise ConfigurationError(
                f"the env of {self._what} of {where} must be a list of name/value"
            )
        if spec.get("interactiveMode") == "Always":
            raise ConfigurationError(
                f"{self._what} of {where} needs an interactive terminal (interactiveMode: "
                "Always), "
                "which nebula-credential never gives a plugin; log in with it first or use "
                "a mode that does not need one"
            )
        hint = spec.get("installHint")
        self._hint = hint.strip() if isinstance(hint, str) and hint.strip() else None
        self._argv = [command, *args]
        self._env = {str(e["name"]): str(e.get("value", "")) for e in env}
        exec_info: dict[str, Any] = {"interactive": False}
        if spec.get("provideClusterInfo") is True:
            exec_info["cluster"] = cluster
        self._exec_info = json.dumps(
            {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": exec_info}
        )
        self._timeout = timeout
        self._issued: Issued | None = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"ExecPlugin({self.name!r}, apiVersion={self.api_version!r})"

    async def credential(self) -> Issued:
        """The cached credential while valid, else a fresh run (one at a time)."""
        if self._fresh():
            assert self._issued is not None
            return self._issued
        if self._lock is None:
            import asyncio

            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._fresh():
                self._issued = await self._run()
            assert self._issued is not None
            return self._issued

    def forget(self) -> None:
        """After a 401: run the plugin again on the next request."""
        self._issued = None

    def _fresh(self) -> bool:
        issued = self._issued
        return issued is not None and (issued.expires is None or time.time() < issued.expires)

    async def _run(self) -> Issued:
        import asyncio

        env = {**os.environ, **self._env, "KUBERNETES_EXEC_INFO": self._exec_info}
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # a timeout kills what the plugin started too
            )
        except FileNotFoundError:
            hint = f" ({self._hint[:300]})" if self._hint else ""
            raise ConfigurationError(
                f"{self._what} of {self._where} was not found: {self._argv[0]!r} is not "
                f"installed or not on PATH{hint}"
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"{self._what} of {self._where} cannot be started "
                f"({exc.strerror or type(exc).__name__})"
            ) from None
        try:
            output = await asyncio.wait_for(self._read(proc), self._timeout)
        except TimeoutError:
            raise self._failed(f"did not finish within {self._timeout:g} s") from None
        finally:
            await _reap(proc)
        if output is None:
            raise self._failed(f"printed more than {MAX_OUTPUT // 1024} KiB")
        if proc.returncode != 0:
            raise self._failed(f"exited with status {proc.returncode}")
        return self._parse(output)

    async def _read(self, proc: asyncio.subprocess.Process) -> bytes | None:
        assert proc.stdout is not None
        chunks: list[bytes] = []
        size = 0
        while chunk := await proc.stdout.read(65536):
            size += len(chunk)
            if size > MAX_OUTPUT:
                return None
            chunks.append(chunk)
        await proc.wait()
        return b"".join(chunks)

    def _parse(self, output: bytes) -> Issued:
        try:
            reply = json.loads(output)
        except ValueError:
            raise self._failed("did not print an ExecCredential (not JSON)") from None
        if not isinstance(reply, dict) or reply.get("kind") != "ExecCredential":
            raise self._failed("did not print an ExecCredential (wrong kind)")
        version = reply.get("apiVersion")
        if version != self.api_version:
            shown = str(version)[:60] if version in API_VERSIONS else "another"
            raise self._failed(
                f"answered with apiVersion {shown!r}, but the kubeconfig asks for "
                f"{self.api_version!r}"
            )
        status = reply.get("status")
        if not isinstance(status, dict):
            raise self._failed("printed an ExecCredential without a status")
        token = status.get("token") or None
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if not isinstance(token, str | None) or not isinstance(cert, str | None):
            raise self._failed("printed a status whose token or certificate is not a string")
        if not isinstance(key, str | None) or bool(cert) != bool(key):
            raise self._failed("printed a client certificate without its key, or the reverse")
        if token is None and not cert:
            raise self._failed("printed neither a token nor a client certificate")
        if token is not None and not (token.isascii() and token.isprintable()):
            raise self._failed("printed a token that is not one line of printable ASCII")
        pair = (cert.encode(), key.encode()) if cert and key else None
        return Issued(token, pair, self._expiry(status.get("expirationTimestamp")))

    def _expiry(self, stamp: object) -> float | None:
        if stamp is None or stamp == "":
            return None
        try:
            when = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            raise self._failed("printed an expirationTimestamp that is not RFC 3339") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return when.timestamp()

    def _failed(self, problem: str) -> ConfigurationError:
        return ConfigurationError(
            f"{self._what} {problem}; run it by hand to see why (its output is not shown "
            f"here, as it may hold tokens); it is set in {self._where}"
        )


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Kill the plugin and what it started if still running; always wait for it and drain
    its pipe, so that nothing of it stays open."""
    import asyncio

    if proc.returncode is None:
        killpg = getattr(os, "killpg", None)
        with contextlib.suppress(ProcessLookupError):
            if killpg is not None:
                killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.communicate(), 5.0)
