#!/usr/bin/env python3
"""Real Kubernetes control planes (etcd + kube-apiserver v1.20.2) on loopback.

Each plane gets its own etcd, its own TLS material (a CA and a serving certificate for
127.0.0.1/localhost), RBAC authorization, a static token file with an admin user in
``system:masters`` and a pool of limited users, encryption at rest for Secrets (aescbc)
and a JSON audit log in which Secrets are recorded at ``Metadata`` level only.

Library use::

    with ControlPlane("demo") as plane:
        plane.start()
        ident = plane.identity("team-a")          # RBAC-limited to Secrets in team-a
        print(plane.admin_kubeconfig, ident.kubeconfig)

Command line use::

    python scripts/controlplane.py up --dir /tmp/planes [--name NAME] [--count N]
    python scripts/controlplane.py identity --dir /tmp/planes --namespace team-a
    python scripts/controlplane.py down --dir /tmp/planes [--purge]

Only the standard library and ``cryptography`` are used. The kube-apiserver binary is
built by ``scripts/install-control-plane.sh`` into ``$NEBULA_CACHE_DIR/bin`` (default
``~/.cache/nebula-credential/bin``); ``NEBULA_KUBE_APISERVER`` and ``NEBULA_ETCD`` may
point at other binaries.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import datetime
import http.client
import ipaddress
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_VERBS",
    "ApiResponse",
    "Binaries",
    "ControlPlane",
    "ControlPlaneError",
    "Identity",
    "MissingBinaryError",
    "close_all",
    "find_binaries",
    "missing_binaries_message",
    "start_all",
]

INSTALL_HINT: Final = "run scripts/install-control-plane.sh"
DEFAULT_VERBS: Final[tuple[str, ...]] = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
)
POOL_NAMESPACE: Final = "nebula-identities"
ADMIN_USER: Final = "nebula-admin"
ETCD_PREFIX: Final = "/registry"
SERVICE_CLUSTER_IP_RANGE: Final = "10.0.0.0/24"

_POLL_INTERVAL: Final = 0.05
_LOG_TAIL_LINES: Final = 40
_PROXY_ENV: Final = frozenset(
    {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "grpc_proxy"},
)


class ControlPlaneError(RuntimeError):
    """A control plane could not be started, reached or stopped."""


class MissingBinaryError(ControlPlaneError):
    """etcd or kube-apiserver is not installed."""


# --------------------------------------------------------------------------- binaries


def cache_dir() -> Path:
    """Directory where scripts/install-control-plane.sh caches its build."""
    env = os.environ.get("NEBULA_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nebula-credential"


@dataclass(frozen=True)
class Binaries:
    """Resolved executables needed for a control plane."""

    kube_apiserver: Path
    etcd: Path
    etcdctl: Path | None


def _candidate_apiserver() -> Path:
    env = os.environ.get("NEBULA_KUBE_APISERVER")
    return Path(env) if env else cache_dir() / "bin" / "kube-apiserver"


def _which(env_name: str, program: str) -> Path | None:
    env = os.environ.get(env_name)
    if env:
        return Path(env) if os.access(env, os.X_OK) else None
    found = shutil.which(program)
    return Path(found) if found else None


def missing_binaries_message() -> str | None:
    """Describe what is missing, or return None when everything is installed."""
    missing: list[str] = []
    apiserver = _candidate_apiserver()
    if not (apiserver.is_file() and os.access(apiserver, os.X_OK)):
        missing.append(f"kube-apiserver (expected at {apiserver})")
    if _which("NEBULA_ETCD", "etcd") is None:
        missing.append("etcd (Debian package etcd-server)")
    if not missing:
        return None
    return f"missing {' and '.join(missing)}: {INSTALL_HINT}"


def find_binaries() -> Binaries:
    """Resolve the binaries or raise MissingBinaryError naming the missing piece."""
    message = missing_binaries_message()
    if message is not None:
        raise MissingBinaryError(message)
    etcd = _which("NEBULA_ETCD", "etcd")
    assert etcd is not None
    return Binaries(
        kube_apiserver=_candidate_apiserver(),
        etcd=etcd,
        etcdctl=_which("NEBULA_ETCDCTL", "etcdctl"),
    )


# --------------------------------------------------------------------- supervision

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


class _Watchdog:
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


_WATCHDOG: Final = _Watchdog()
_LIVE_PLANES: set[ControlPlane] = set()
_LIVE_LOCK: Final = threading.Lock()
_ATEXIT_REGISTERED = False


def _close_everything() -> None:
    with _LIVE_LOCK:
        planes = list(_LIVE_PLANES)
    with contextlib.suppress(Exception):
        close_all(planes)
    _WATCHDOG.close()


def _register_live(plane: ControlPlane) -> None:
    global _ATEXIT_REGISTERED
    with _LIVE_LOCK:
        _LIVE_PLANES.add(plane)
        if not _ATEXIT_REGISTERED:
            atexit.register(_close_everything)
            _ATEXIT_REGISTERED = True


def _unregister_live(plane: ControlPlane) -> None:
    with _LIVE_LOCK:
        _LIVE_PLANES.discard(plane)


def _child_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in _PROXY_ENV and not key.startswith(("ETCD_", "ETCDCTL_"))
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


# gRPC connection chatter the API server logs at startup; useless in error messages.
_LOG_NOISE: Final = ("] parsed scheme:", "] ccResolverWrapper:", "] ClientConn switching")


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


class _Process:
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
                env=_child_env(),
            )
        if self.supervise:
            _WATCHDOG.watch_group(self.popen.pid)

    def reap(self) -> None:
        """Forget an exited child (collecting its status)."""
        if self.popen is not None and self.popen.poll() is not None:
            if self.supervise:
                _WATCHDOG.forget_group(self.popen.pid)
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
            _WATCHDOG.forget_group(pgid)
        self.popen = None


# --------------------------------------------------------------------------- helpers

_RESERVED_PORTS: set[int] = set()
_PORT_LOCK: Final = threading.Lock()


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 not handed out before by this process."""
    with _PORT_LOCK:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _RESERVED_PORTS:
                _RESERVED_PORTS.add(port)
                return port
    raise ControlPlaneError("could not find a free port on 127.0.0.1")


def _q(value: str) -> str:
    """Quote a scalar for YAML (a JSON string is a valid YAML double-quoted scalar)."""
    return json.dumps(value)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_kubeconfig(
    path: Path,
    *,
    cluster: str,
    server: str,
    ca_pem: bytes,
    user: str,
    token: str,
    namespace: str,
    context: str | None = None,
) -> Path:
    """Write a token kubeconfig whose single context is current and namespaced."""
    context = context or f"{cluster}-{user}"
    ca_data = base64.b64encode(ca_pem).decode()
    text = "\n".join(
        [
            "apiVersion: v1",
            "kind: Config",
            "preferences: {}",
            "clusters:",
            f"- name: {_q(cluster)}",
            "  cluster:",
            f"    server: {_q(server)}",
            f"    certificate-authority-data: {_q(ca_data)}",
            "users:",
            f"- name: {_q(user)}",
            "  user:",
            f"    token: {_q(token)}",
            "contexts:",
            f"- name: {_q(context)}",
            "  context:",
            f"    cluster: {_q(cluster)}",
            f"    user: {_q(user)}",
            f"    namespace: {_q(namespace)}",
            f"current-context: {_q(context)}",
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, text.encode())
    return path


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _generate_tls(name: str) -> tuple[bytes, bytes, bytes, bytes]:
    """Return (ca_cert_pem, ca_key_pem, server_cert_pem, server_key_pem)."""
    now = datetime.datetime.now(datetime.UTC)
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=365)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return ca_cert.public_bytes(pem), _pem_key(ca_key), cert.public_bytes(pem), _pem_key(key)


def _audit_policy() -> str:
    return """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  # Anything that carries credentials is recorded at Metadata level only: never
  # Request or RequestResponse, so values never reach the audit log.
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  - level: None
    users: ["system:apiserver"]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
  - level: Metadata
"""


def _encryption_config(key: bytes) -> str:
    return f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: ["secrets"]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: {base64.b64encode(key).decode()}
      - identity: {{}}
"""


def _merge_flags(defaults: Sequence[str], extra: Sequence[str]) -> list[str]:
    """Combine ``--flag=value`` lists; a flag in ``extra`` replaces the default one."""
    merged: dict[str, str] = {}
    for arg in [*defaults, *extra]:
        if not arg.startswith("--"):
            raise ControlPlaneError(f"apiserver arguments must look like --flag=value: {arg!r}")
        flag = arg.split("=", 1)[0]
        merged.pop(flag, None)
        merged[flag] = arg
    return list(merged.values())


# ----------------------------------------------------------------------- public API


@dataclass(frozen=True)
class ApiResponse:
    """A raw HTTP answer from the API server."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def raise_for_status(self, what: str) -> ApiResponse:
        if self.status >= 400:
            text = self.body.decode("utf-8", "replace")[:500]
            raise ControlPlaneError(f"{what}: HTTP {self.status}: {text}")
        return self


@dataclass(frozen=True)
class Identity:
    """A limited user bound by a Role to Secrets in one namespace."""

    namespace: str
    username: str
    token: str
    groups: tuple[str, ...]
    verbs: tuple[str, ...]
    kubeconfig: Path
    name: str
    role: str | None = None


@dataclass(frozen=True)
class _PoolUser:
    name: str
    token: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{POOL_NAMESPACE}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return (
            "system:serviceaccounts",
            f"system:serviceaccounts:{POOL_NAMESPACE}",
            "system:authenticated",
        )


@dataclass
class _Material:
    ca_pem: bytes
    admin_token: str
    pool: list[_PoolUser] = field(default_factory=list)


class ControlPlane:
    """One etcd + kube-apiserver pair listening on 127.0.0.1.

    ``directory`` holds certificates, kubeconfigs and logs; when omitted a temporary
    directory is used and removed by :meth:`close`. etcd data lives in a temporary
    directory (on ``/dev/shm`` when available) that :meth:`close` always removes.
    ``supervise=False`` leaves the processes running after this Python process exits
    (used by the ``up`` command).
    """

    def __init__(
        self,
        name: str = "nebula",
        directory: Path | str | None = None,
        *,
        extra_apiserver_args: Sequence[str] = (),
        identity_pool: int = 64,
        startup_timeout: float = 60.0,
        supervise: bool = True,
    ) -> None:
        if not name or not all(c.isalnum() or c in "-." for c in name):
            raise ControlPlaneError(f"plane name must be alphanumeric with '-' or '.': {name!r}")
        self.name = name
        self.extra_apiserver_args = tuple(extra_apiserver_args)
        self.identity_pool_size = identity_pool
        self.startup_timeout = startup_timeout
        self.supervise = supervise
        self._owns_directory = directory is None
        self._directory: Path | None = Path(directory).resolve() if directory else None
        self._etcd_data: Path | None = None
        self._binaries: Binaries | None = None
        self._material: _Material | None = None
        self._port: int | None = None
        self._etcd_port: int | None = None
        self._etcd_peer_port: int | None = None
        self._etcd: _Process | None = None
        self._apiserver: _Process | None = None
        self._ssl: ssl.SSLContext | None = None
        self._lock = threading.RLock()
        self._allocated: list[str] = []
        self._attached_state: dict[str, Any] | None = None
        self._closed = False
        self.startup_seconds: float | None = None
        self.apiserver_startup_seconds: float | None = None

    # ------------------------------------------------------------------ properties

    @property
    def directory(self) -> Path:
        if self._directory is None:
            raise ControlPlaneError(f"control plane {self.name} was never started")
        return self._directory

    @property
    def port(self) -> int:
        if self._port is None:
            raise ControlPlaneError(f"control plane {self.name} was never started")
        return self._port

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def etcd_endpoint(self) -> str:
        if self._etcd_port is None:
            raise ControlPlaneError(f"control plane {self.name} was never started")
        return f"http://127.0.0.1:{self._etcd_port}"

    @property
    def etcd_prefix(self) -> str:
        return ETCD_PREFIX

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_pem(self) -> bytes:
        return self._require_material().ca_pem

    @property
    def ca_data(self) -> str:
        """Base64 of the CA PEM, as in a kubeconfig's certificate-authority-data."""
        return base64.b64encode(self.ca_pem).decode()

    @property
    def admin_token(self) -> str:
        return self._require_material().admin_token

    @property
    def admin_username(self) -> str:
        return ADMIN_USER

    @property
    def admin_kubeconfig(self) -> Path:
        return self.directory / "admin.yaml"

    @property
    def audit_log_path(self) -> Path:
        return self.directory / "audit.log"

    @property
    def apiserver_log_path(self) -> Path:
        return self.directory / "apiserver.log"

    @property
    def etcd_log_path(self) -> Path:
        return self.directory / "etcd.log"

    @property
    def apiserver_pid(self) -> int | None:
        return self._apiserver.pid if self._apiserver and self._apiserver.running() else None

    @property
    def etcd_pid(self) -> int | None:
        return self._etcd.pid if self._etcd and self._etcd.running() else None

    @property
    def apiserver_running(self) -> bool:
        return self._apiserver is not None and self._apiserver.running()

    def secret_etcd_key(self, namespace: str, name: str) -> str:
        return f"{ETCD_PREFIX}/secrets/{namespace}/{name}"

    def _require_material(self) -> _Material:
        if self._material is None:
            raise ControlPlaneError(f"control plane {self.name} was never started")
        return self._material

    # ------------------------------------------------------------------- lifecycle

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.apiserver_running else "stopped"
        where = self.server if self._port else "unstarted"
        return f"<ControlPlane {self.name} {where} {state}>"

    def start(self) -> ControlPlane:
        """Start etcd and the API server and wait until ``/readyz`` answers 200."""
        with self._lock:
            if self._closed:
                raise ControlPlaneError(f"control plane {self.name} is closed")
            if self.apiserver_running:
                return self
            began = time.monotonic()
            self._binaries = find_binaries()
            self._prepare_directories()
            if self.supervise:
                _register_live(self)
            try:
                if self._material is None:
                    for log in (self.etcd_log_path, self.apiserver_log_path, self.audit_log_path):
                        log.unlink(missing_ok=True)  # stale logs of an earlier plane
                self._start_etcd()
                if self._material is None:
                    self._material = self._write_material()
                self._wait_etcd()
                self._start_apiserver()
                self._write_state()
            except BaseException:
                self.stop()
                raise
            self.startup_seconds = time.monotonic() - began
            return self

    def stop(self) -> None:
        """Stop the API server and etcd; files and etcd data stay for a later start()."""
        with self._lock:
            if self._apiserver is not None:
                self._apiserver.stop(timeout=10)
            if self._etcd is not None:
                self._etcd.stop(timeout=10)

    def close(self) -> None:
        """Stop everything and remove temporary directories. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.stop()
            finally:
                for path, owned in (
                    (self._etcd_data, True),
                    (self._directory, self._owns_directory),
                ):
                    if path is not None and owned:
                        shutil.rmtree(path, ignore_errors=True)
                        if self.supervise:
                            _WATCHDOG.forget_path(path)
                _unregister_live(self)

    def stop_apiserver(self, *, kill: bool = False, timeout: float = 15.0) -> None:
        """Stop only the API server (SIGTERM, or SIGKILL with ``kill=True``); etcd stays."""
        with self._lock:
            if self._apiserver is None:
                raise ControlPlaneError(f"control plane {self.name} was never started")
            self._apiserver.stop(kill=kill, timeout=timeout)

    def start_apiserver(self) -> None:
        """Start the API server again on the same port with the same flags."""
        with self._lock:
            if self._closed or self._apiserver is None:
                raise ControlPlaneError(f"control plane {self.name} is not started")
            if self._etcd is None or not self._etcd.running():
                raise ControlPlaneError(f"etcd of control plane {self.name} is not running")
            self._launch_apiserver()

    def restart_apiserver(self, *, kill: bool = False) -> None:
        self.stop_apiserver(kill=kill)
        self.start_apiserver()

    # -------------------------------------------------------------------- internals

    def _prepare_directories(self) -> None:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix=f"nebula-cp-{self.name}-"))
            if self.supervise:
                _WATCHDOG.watch_path(self._directory)
        self._directory.mkdir(parents=True, exist_ok=True)
        if self._etcd_data is None:
            shm = Path("/dev/shm")
            base = shm if shm.is_dir() and os.access(shm, os.W_OK) else self._directory
            self._etcd_data = Path(tempfile.mkdtemp(prefix=f"nebula-etcd-{self.name}-", dir=base))
            if self.supervise:
                _WATCHDOG.watch_path(self._etcd_data)
        if self._port is None:
            self._port = free_port()
            self._etcd_port = free_port()
            self._etcd_peer_port = free_port()

    def _start_etcd(self) -> None:
        assert self._binaries is not None
        assert self._etcd_data is not None
        peer = f"http://127.0.0.1:{self._etcd_peer_port}"
        client = self.etcd_endpoint
        argv = [
            str(self._binaries.etcd),
            f"--name={self.name}",
            f"--data-dir={self._etcd_data / 'data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={self.name}={peer}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={self.name}-{secrets.token_hex(4)}",
            "--heartbeat-interval=20",
            "--election-timeout=200",
            "--logger=zap",
            "--log-level=warn",
        ]
        self._etcd = _Process("etcd", argv, self.etcd_log_path, supervise=self.supervise)
        self._etcd.start()

    def _wait_etcd(self) -> None:
        assert self._etcd is not None
        deadline = time.monotonic() + min(self.startup_timeout, 30.0)
        last = "no answer"
        for _ in range(int(30.0 / _POLL_INTERVAL) + 1):
            if not self._etcd.running():
                raise ControlPlaneError(
                    f"etcd of control plane {self.name} exited during startup; "
                    f"last lines of {self.etcd_log_path}:\n{tail(self.etcd_log_path)}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self._etcd_port, timeout=2)
                try:
                    conn.request("GET", "/health")
                    resp = conn.getresponse()
                    body = resp.read()
                finally:
                    conn.close()
                if resp.status == 200 and json.loads(body).get("health") == "true":
                    return
                last = f"HTTP {resp.status}: {body[:200]!r}"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL_INTERVAL)
        raise ControlPlaneError(
            f"etcd of control plane {self.name} not healthy at {self.etcd_endpoint} "
            f"({last}); last lines of {self.etcd_log_path}:\n{tail(self.etcd_log_path)}"
        )

    def _write_material(self) -> _Material:
        d = self.directory
        ca_pem, ca_key, cert_pem, key_pem = _generate_tls(self.name)
        (d / "ca.crt").write_bytes(ca_pem)
        _write_private(d / "ca.key", ca_key)
        (d / "apiserver.crt").write_bytes(cert_pem)
        _write_private(d / "apiserver.key", key_pem)

        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(d / "sa.key", _pem_key(sa_key))
        (d / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

        material = _Material(ca_pem=ca_pem, admin_token=secrets.token_urlsafe(32))
        material.pool = [
            _PoolUser(name=f"identity-{i:02d}", token=secrets.token_urlsafe(32))
            for i in range(self.identity_pool_size)
        ]
        rows = [f'{material.admin_token},{ADMIN_USER},{ADMIN_USER},"system:masters"']
        rows += [f'{u.token},{u.username},{u.name},"{",".join(u.groups)}"' for u in material.pool]
        _write_private(d / "tokens.csv", ("\n".join(rows) + "\n").encode())
        _write_private(d / "encryption.yaml", _encryption_config(os.urandom(32)).encode())
        (d / "audit-policy.yaml").write_text(_audit_policy())
        write_kubeconfig(
            self.admin_kubeconfig,
            cluster=self.name,
            server=self.server,
            ca_pem=ca_pem,
            user=f"{self.name}-admin",
            token=material.admin_token,
            namespace="default",
            context=self.name,
        )
        return material

    def apiserver_args(self) -> list[str]:
        d = self.directory
        defaults = [
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={d / 'certs'}",
            f"--tls-cert-file={d / 'apiserver.crt'}",
            f"--tls-private-key-file={d / 'apiserver.key'}",
            "--authorization-mode=RBAC",
            f"--token-auth-file={d / 'tokens.csv'}",
            f"--encryption-provider-config={d / 'encryption.yaml'}",
            f"--audit-policy-file={d / 'audit-policy.yaml'}",
            f"--audit-log-path={self.audit_log_path}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--disable-admission-plugins=ServiceAccount",
            "--endpoint-reconciler-type=none",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={d / 'sa.pub'}",
            f"--service-account-signing-key-file={d / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            f"--etcd-servers={self.etcd_endpoint}",
            f"--etcd-prefix={ETCD_PREFIX}",
            "--allow-privileged=false",
            "--profiling=false",
        ]
        return _merge_flags(defaults, self.extra_apiserver_args)

    def _start_apiserver(self) -> None:
        assert self._binaries is not None
        argv = [str(self._binaries.kube_apiserver), *self.apiserver_args()]
        self._apiserver = _Process(
            "kube-apiserver", argv, self.apiserver_log_path, supervise=self.supervise
        )
        self._launch_apiserver()

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

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ``/readyz`` with the admin token until it answers 200."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        for _ in range(int(timeout / _POLL_INTERVAL) + 1):
            if not self.apiserver_running:
                raise ControlPlaneError(
                    f"kube-apiserver of control plane {self.name} exited; last lines of "
                    f"{self.apiserver_log_path}:\n{tail(self.apiserver_log_path)}"
                )
            try:
                resp = self.request("GET", "/readyz?verbose", timeout=5)
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}: {resp.body.decode('utf-8', 'replace')[-1500:]}"
            except (OSError, http.client.HTTPException) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL_INTERVAL)
        raise ControlPlaneError(
            f"kube-apiserver of control plane {self.name} not ready at {self.server} after "
            f"{timeout:.0f}s ({last}); last lines of {self.apiserver_log_path}:\n"
            f"{tail(self.apiserver_log_path)}"
        )

    def _write_state(self) -> None:
        material = self._require_material()
        state = {
            "name": self.name,
            "directory": str(self.directory),
            "server": self.server,
            "port": self.port,
            "ca_file": str(self.ca_file),
            "admin_kubeconfig": str(self.admin_kubeconfig),
            "admin_token": material.admin_token,
            "etcd_endpoint": self.etcd_endpoint,
            "etcd_prefix": self.etcd_prefix,
            "etcd_data": str(self._etcd_data),
            "audit_log": str(self.audit_log_path),
            "apiserver_log": str(self.apiserver_log_path),
            "etcd_log": str(self.etcd_log_path),
            "pids": {"etcd": self.etcd_pid, "kube-apiserver": self.apiserver_pid},
            "pool": [{"name": u.name, "token": u.token} for u in material.pool],
            "allocated": list(self._allocated),
        }
        _write_private(self.directory / "plane.json", json.dumps(state, indent=2).encode())

    @classmethod
    def attach(cls, directory: Path | str) -> ControlPlane:
        """An object for a plane started elsewhere (``up``); HTTP and identity() work.

        Process control (start/stop) is not available on an attached plane.
        """
        directory = Path(directory).resolve()
        state = json.loads((directory / "plane.json").read_text())
        plane = cls(state["name"], directory, supervise=False)
        plane._closed = True  # never start or stop processes from here
        plane._port = int(state["port"])
        plane._etcd_port = int(state["etcd_endpoint"].rsplit(":", 1)[1])
        plane._material = _Material(
            ca_pem=Path(state["ca_file"]).read_bytes(),
            admin_token=state["admin_token"],
            pool=[_PoolUser(name=p["name"], token=p["token"]) for p in state["pool"]],
        )
        plane._allocated = list(state.get("allocated", []))
        plane._attached_state = state
        return plane

    # ------------------------------------------------------------------------ HTTP

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only this plane's CA (hostname checked)."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cadata=self.ca_pem.decode())
        return self._ssl

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> ApiResponse:
        """One HTTPS request to the API server.

        ``token=None`` authenticates as the admin; ``token=""`` sends no credentials.
        """
        headers = {"Accept": "application/json"}
        bearer = self.admin_token if token is None else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        payload: bytes | None = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.ssl_context(), timeout=timeout
        )
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return ApiResponse(resp.status, data, {k.lower(): v for k, v in resp.getheaders()})
        finally:
            conn.close()

    def ensure_namespace(self, namespace: str) -> None:
        resp = self.request(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        if resp.status != 409:
            resp.raise_for_status(f"create namespace {namespace}")

    def _apply(self, collection: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        resp = self.request("POST", collection, obj)
        if resp.status == 409:
            resp = self.request("PUT", f"{collection}/{name}", obj)
        resp.raise_for_status(f"apply {collection}/{name}")

    def etcd_get(self, key: str) -> bytes | None:
        """The raw value stored under ``key`` in this plane's etcd (via etcdctl)."""
        binaries = self._binaries or find_binaries()
        if binaries.etcdctl is None:
            raise MissingBinaryError(
                f"etcdctl not found (Debian package etcd-client): {INSTALL_HINT}"
            )
        env = _child_env()
        env["ETCDCTL_API"] = "3"
        out = subprocess.run(
            [str(binaries.etcdctl), f"--endpoints={self.etcd_endpoint}", "get", key, "-w", "json"],
            env=env,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        kvs = json.loads(out).get("kvs") or []
        return base64.b64decode(kvs[0]["value"]) if kvs else None

    # -------------------------------------------------------------------- identities

    def identity(
        self,
        namespace: str,
        verbs: Sequence[str] | None = None,
        *,
        resources: Sequence[str] = ("secrets",),
        api_group: str = "",
        wait: float = 15.0,
    ) -> Identity:
        """Allocate a pooled user, allowed only ``verbs`` on ``resources`` in ``namespace``.

        Creates the namespace if needed, a Role and a RoleBinding, waits until the
        authorizer honours the binding, and writes a kubeconfig whose context namespace
        is ``namespace``. ``verbs=[]`` gives a user with no permissions at all.
        """
        verbs = tuple(DEFAULT_VERBS if verbs is None else verbs)
        material = self._require_material()
        with self._lock:
            free = [u for u in material.pool if u.name not in self._allocated]
            if not free:
                raise ControlPlaneError(
                    f"identity pool of control plane {self.name} exhausted "
                    f"({len(material.pool)} users); pass a larger identity_pool"
                )
            user = free[0]
            self._allocated.append(user.name)
            if self._attached_state is not None:
                self._attached_state["allocated"] = list(self._allocated)
                _write_private(
                    self.directory / "plane.json",
                    json.dumps(self._attached_state, indent=2).encode(),
                )
        self.ensure_namespace(namespace)
        role: str | None = None
        if verbs:
            role = f"nebula-{user.name}"
            self._apply(
                f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": role, "namespace": namespace},
                    "rules": [
                        {
                            "apiGroups": [api_group],
                            "resources": list(resources),
                            "verbs": list(verbs),
                        }
                    ],
                },
            )
            self._apply(
                f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": role, "namespace": namespace},
                    "subjects": [
                        {"kind": "ServiceAccount", "name": user.name, "namespace": POOL_NAMESPACE}
                    ],
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "Role",
                        "name": role,
                    },
                },
            )
            self._wait_allowed(user, namespace, verbs[0], resources[0], api_group, wait)
        kubeconfig = write_kubeconfig(
            self.directory / "identities" / f"{user.name}.yaml",
            cluster=self.name,
            server=self.server,
            ca_pem=material.ca_pem,
            user=f"{self.name}-{user.name}",
            token=user.token,
            namespace=namespace,
            context=f"{self.name}-{user.name}",
        )
        return Identity(
            namespace=namespace,
            username=user.username,
            token=user.token,
            groups=user.groups,
            verbs=verbs,
            kubeconfig=kubeconfig,
            name=user.name,
            role=role,
        )

    def _wait_allowed(
        self, user: _PoolUser, namespace: str, verb: str, resource: str, group: str, wait: float
    ) -> None:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user.username,
                "groups": list(user.groups),
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                },
            },
        }
        deadline = time.monotonic() + wait
        for _ in range(int(wait / 0.02) + 1):
            resp = self.request(
                "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review
            ).raise_for_status("subject access review")
            if resp.json()["status"].get("allowed"):
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        raise ControlPlaneError(
            f"RBAC binding for {user.username} in {namespace} not effective after {wait}s"
        )


def _in_parallel(
    planes: Sequence[ControlPlane], action: str, timeout: Callable[[ControlPlane], float]
) -> list[BaseException]:
    """Call ``plane.<action>()`` on every plane in its own thread; return what they raised."""
    errors: list[BaseException] = []

    def run(plane: ControlPlane) -> None:
        try:
            getattr(plane, action)()
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(p,), name=f"{action}-{p.name}", daemon=True)
        for p in planes
    ]
    for thread in threads:
        thread.start()
    for thread, plane in zip(threads, planes, strict=True):
        thread.join(timeout(plane))
        if thread.is_alive():
            errors.append(ControlPlaneError(f"{action} of {plane.name} did not finish"))
    return errors


def start_all(planes: Sequence[ControlPlane]) -> None:
    """Start several planes concurrently; if any fails, close them all and re-raise."""
    errors = _in_parallel(planes, "start", lambda plane: plane.startup_timeout + 60)
    if errors:
        for plane in planes:
            plane.close()
        raise errors[0]


def close_all(planes: Sequence[ControlPlane]) -> None:
    """Close several planes concurrently (each API server drains for about a second)."""
    errors = _in_parallel(planes, "close", lambda plane: 60.0)
    if errors:
        raise errors[0]


# ---------------------------------------------------------------------------- CLI


def _state_file(directory: Path) -> Path:
    return directory / "state.json"


def _pid_matches(pid: int, binary: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return Path(cmdline.split(b"\0", 1)[0].decode(errors="replace")).name == binary


def _kill_detached(pid: int, binary: str, timeout: float = 10.0) -> None:
    if not _pid_matches(pid, binary):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _pid_matches(pid, binary):
            time.sleep(_POLL_INTERVAL)
        if not _pid_matches(pid, binary):
            return


def _cmd_up(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    state_file = _state_file(directory)
    if state_file.exists():
        print(f"{state_file} exists; run 'down --dir {args.dir}' first", file=sys.stderr)
        return 1
    names = [args.name] if args.count == 1 else [f"{args.name}-{i}" for i in range(args.count)]
    planes = [
        ControlPlane(
            name,
            directory / name,
            extra_apiserver_args=args.apiserver_arg,
            identity_pool=args.identity_pool,
            startup_timeout=args.timeout,
            supervise=False,
        )
        for name in names
    ]
    start_all(planes)
    state = {
        "planes": [
            {
                "name": p.name,
                "directory": str(p.directory),
                "server": p.server,
                "admin_kubeconfig": str(p.admin_kubeconfig),
                "etcd_endpoint": p.etcd_endpoint,
                "etcd_prefix": p.etcd_prefix,
                "etcd_data": str(p._etcd_data),
                "audit_log": str(p.audit_log_path),
                "pids": {"etcd": p.etcd_pid, "kube-apiserver": p.apiserver_pid},
                "startup_seconds": round(p.startup_seconds or 0.0, 2),
            }
            for p in planes
        ]
    }
    _write_private(state_file, json.dumps(state, indent=2).encode())
    for p in planes:
        print(
            f"# {p.name}: {p.server} (etcd {p.etcd_endpoint}, prefix {p.etcd_prefix}), "
            f"ready in {p.startup_seconds:.1f}s"
        )
    kubeconfigs = ":".join(str(p.admin_kubeconfig) for p in planes)
    print(f"export KUBECONFIG={shlex.quote(kubeconfigs)}")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    state_file = _state_file(directory)
    if not state_file.exists():
        print(f"nothing to stop: {state_file} not found", file=sys.stderr)
        return 0
    state = json.loads(state_file.read_text())
    for plane in state["planes"]:
        pids = plane["pids"]
        if pids.get("kube-apiserver"):
            _kill_detached(int(pids["kube-apiserver"]), "kube-apiserver")
        if pids.get("etcd"):
            _kill_detached(int(pids["etcd"]), "etcd")
        shutil.rmtree(plane["etcd_data"], ignore_errors=True)
        if args.purge:
            shutil.rmtree(plane["directory"], ignore_errors=True)
        print(f"stopped {plane['name']}")
    state_file.unlink()
    return 0


def _cmd_identity(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    state = json.loads(_state_file(directory).read_text())
    planes = {p["name"]: p for p in state["planes"]}
    name = args.name or next(iter(planes))
    if name not in planes:
        print(f"no plane named {name}; have {', '.join(planes)}", file=sys.stderr)
        return 1
    plane = ControlPlane.attach(planes[name]["directory"])
    verbs = None if args.verbs is None else [v for v in args.verbs.split(",") if v]
    ident = plane.identity(args.namespace, verbs)
    print(
        f"# {ident.username} may {','.join(ident.verbs) or 'nothing'} secrets in {ident.namespace}"
    )
    print(f"export KUBECONFIG={shlex.quote(str(ident.kubeconfig))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start control plane(s) in the background")
    up.add_argument("--dir", required=True, help="directory for state, kubeconfigs, logs")
    up.add_argument("--name", default="nebula", help="plane name (suffixed -0.. with --count)")
    up.add_argument("--count", type=int, default=1, help="number of planes")
    up.add_argument(
        "--apiserver-arg",
        action="append",
        default=[],
        metavar="--FLAG=VALUE",
        help="extra kube-apiserver flag (repeatable), e.g. --apiserver-arg=--v=2",
    )
    up.add_argument("--identity-pool", type=int, default=64, help="limited users per plane")
    up.add_argument("--timeout", type=float, default=60.0, help="readiness timeout, seconds")
    up.set_defaults(func=_cmd_up)

    down = sub.add_parser("down", help="stop the planes recorded in DIR/state.json")
    down.add_argument("--dir", required=True)
    down.add_argument("--purge", action="store_true", help="also remove plane directories")
    down.set_defaults(func=_cmd_down)

    ident = sub.add_parser("identity", help="create a limited identity on a running plane")
    ident.add_argument("--dir", required=True)
    ident.add_argument("--name", help="plane name (default: the first)")
    ident.add_argument("--namespace", required=True)
    ident.add_argument("--verbs", help=f"comma-separated (default {','.join(DEFAULT_VERBS)})")
    ident.set_defaults(func=_cmd_identity)

    args = parser.parse_args(argv)
    if args.command == "up" and args.count < 1:
        parser.error("--count must be at least 1")
    try:
        result: int = args.func(args)
    except MissingBinaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
