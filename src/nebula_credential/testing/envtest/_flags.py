"""Ports and command lines of etcd and kube-apiserver for one plane; the wait for etcd."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from ._configs import merge_flags
from ._errors import ControlPlaneError
from ._material import SNI_NAME
from ._process import tail

ETCD_PREFIX: Final = "/registry"
SERVICE_CLUSTER_IP_RANGE: Final = "10.0.0.0/24"
POLL_INTERVAL: Final = 0.05

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


def etcd_argv(etcd: Path, name: str, data_dir: Path, client_port: int, peer_port: int) -> list[str]:
    """A single-member etcd on loopback, tuned for fast elections."""
    client = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(etcd),
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={name}={peer}",
        "--initial-cluster-state=new",
        f"--initial-cluster-token={name}-{secrets.token_hex(4)}",
        "--heartbeat-interval=20",
        "--election-timeout=200",
        "--logger=zap",
        "--log-level=warn",
    ]


def apiserver_flags(
    directory: Path, port: int, etcd_endpoint: str, extra: Sequence[str] = ()
) -> list[str]:
    """RBAC, static tokens, client certificates, encryption at rest and a Metadata audit
    log; ``extra`` wins."""
    d = directory
    defaults = [
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={d / 'certs'}",
        f"--tls-cert-file={d / 'apiserver.crt'}",
        f"--tls-private-key-file={d / 'apiserver.key'}",
        # Client certificates signed by the plane's CA authenticate (CN user, O groups).
        f"--client-ca-file={d / 'ca.crt'}",
        f"--tls-sni-cert-key={d / 'sni.crt'},{d / 'sni.key'}:{SNI_NAME}",
        "--authorization-mode=RBAC",
        f"--token-auth-file={d / 'tokens.csv'}",
        f"--encryption-provider-config={d / 'encryption.yaml'}",
        f"--audit-policy-file={d / 'audit-policy.yaml'}",
        f"--audit-log-path={d / 'audit.log'}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
        "--disable-admission-plugins=ServiceAccount",
        "--endpoint-reconciler-type=none",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={d / 'sa.pub'}",
        f"--service-account-signing-key-file={d / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        f"--etcd-servers={etcd_endpoint}",
        f"--etcd-prefix={ETCD_PREFIX}",
        "--allow-privileged=false",
        "--profiling=false",
    ]
    return merge_flags(defaults, extra)


def wait_etcd_healthy(
    name: str, port: int, running: Callable[[], bool], log_path: Path, timeout: float
) -> None:
    """Poll etcd's ``/health`` until it reports healthy, failing fast if etcd exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    for _ in range(int(timeout / POLL_INTERVAL) + 1):
        if not running():
            raise ControlPlaneError(
                f"etcd of control plane {name} exited during startup; "
                f"last lines of {log_path}:\n{tail(log_path)}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
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
        time.sleep(POLL_INTERVAL)
    raise ControlPlaneError(
        f"etcd of control plane {name} not healthy at http://127.0.0.1:{port} "
        f"({last}); last lines of {log_path}:\n{tail(log_path)}"
    )
