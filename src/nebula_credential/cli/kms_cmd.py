"""``kms``: run the KMS plugin for kube-apiserver, make KEKs, ask a running plugin.

``kms serve`` runs until SIGTERM or SIGINT, then stops gracefully (health NOT_SERVING,
calls in flight finished, socket removed). A bad ``--kek`` or ``--socket`` is a usage
error (exit 2) named without any key material; a plugin that cannot be reached is
exit 6. grpc is imported only when a ``kms`` command runs.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..domain import ProviderUnavailable
from .inputs import UsageError
from .lazy import TYPER_SETTINGS
from .output import OutputFormat
from .safe_text import one_line
from .session import state_of

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from ..kms import Kek

M = TypeVar("M", bound="Message")

kms_app = typer.Typer(
    name="kms",
    help="Run the KMS plugin that encrypts Secrets at rest for kube-apiserver (KMS v1 and v2).",
    no_args_is_help=True,
    **TYPER_SETTINGS,
)

Socket = Annotated[
    str,
    typer.Option(
        "--socket", help="unix:///PATH of the plugin's socket (as the API server names it)"
    ),
]
CALL_TIMEOUT = 5.0


@contextmanager
def _kms_errors() -> Iterator[None]:
    """The kms extra missing, or a KEK/socket problem, as a usage error (exit 2)."""
    try:
        from ..kms import KekConfigError
    except ImportError as exc:
        raise UsageError(
            f"the kms commands need the kms extra ({exc.name} is missing): "
            "pip install 'nebula-credential[kms]'"
        ) from None
    try:
        yield
    except KekConfigError as exc:
        raise UsageError(str(exc)) from None


def _load(sources: list[str]) -> list[Kek]:
    from ..kms import load_kek

    return [load_kek(source) for source in sources]


@kms_app.command("serve")
def serve(
    socket: Socket,
    kek: Annotated[
        list[str],
        typer.Option(
            "--kek",
            help="file:PATH (32 bytes, mode 0600) or pkcs11:token=..;object=..?module-path=..; "
            "repeat to keep older KEKs for decryption: the first one encrypts",
        ),
    ],
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus /metrics on this port (loopback)")
    ] = None,
    metrics_address: Annotated[str, typer.Option(help="Address for --metrics-port")] = "127.0.0.1",
    grace: Annotated[float, typer.Option(help="Seconds to finish calls on shutdown")] = 5.0,
) -> None:
    """Serve KMS v1 (v1beta1) and v2 on a unix socket until SIGTERM or SIGINT."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    with _kms_errors():
        from ..kms import Keyring, start

        keyring = Keyring(_load(kek))
        server = start(keyring, socket)
    exporter: Any = None
    if metrics_port is not None:
        from .. import metrics

        exporter = metrics.serve(metrics_port, metrics_address)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    sys.stderr.write(
        f"kms plugin: serving on {server.endpoint}, primary KEK {keyring.primary_id}\n"
    )
    sys.stderr.flush()
    while not stop.wait(1.0):
        pass
    server.stop(grace)
    if exporter is not None:
        exporter.close()


@kms_app.command("new-kek")
def new_kek(
    source: Annotated[str, typer.Argument(help="file:PATH (created 0600) or a pkcs11: URI")],
) -> None:
    """Make a new KEK (a key file, or a non-extractable key on the token); print its id."""
    with _kms_errors():
        if source.startswith("file:"):
            from pathlib import Path

            from ..kms import write_key_file

            made: Kek = write_key_file(Path(source.removeprefix("file:")))
        elif source.startswith("pkcs11:"):
            from ..kms.pkcs11_kek import generate_token_kek

            made = generate_token_kek(source)
        else:
            raise UsageError("a KEK source is file:PATH or pkcs11:token=...;object=...")
    typer.echo(made.kek_id)


@kms_app.command("status")
def status(socket: Socket) -> None:
    """Ask a running plugin: its health, KMS v1 version and v2 status (current KEK id)."""
    with _kms_errors():
        from ..kms.server import socket_path

        path = socket_path(socket)
    import grpc
    from grpc_health.v1 import health_pb2

    from ..kms._proto.v1beta1 import api_pb2 as v1
    from ..kms._proto.v2 import api_pb2 as v2
    from ..kms.services import V1_SERVICE, V2_SERVICE

    with grpc.insecure_channel(f"unix://{path}") as channel:
        try:
            serving = _call(
                channel,
                "/grpc.health.v1.Health/Check",
                health_pb2.HealthCheckRequest(),
                health_pb2.HealthCheckResponse,
            )
            version = _call(
                channel, f"/{V1_SERVICE}/Version", v1.VersionRequest(), v1.VersionResponse
            )
            state = _call(channel, f"/{V2_SERVICE}/Status", v2.StatusRequest(), v2.StatusResponse)
        except grpc.RpcError as exc:
            raise ProviderUnavailable(
                f"the KMS plugin on {path} did not answer: {exc.code().name}"
            ) from None
    health = health_pb2.HealthCheckResponse.ServingStatus.Name(serving.status)
    typer.echo(f"health: {health}")
    typer.echo(
        f"v1: {one_line(version.version)} ({one_line(version.runtime_name)} "
        f"{one_line(version.runtime_version)})"
    )
    typer.echo(f"v2: {one_line(state.version)} healthz={one_line(state.healthz)}")
    typer.echo(f"key_id: {one_line(state.key_id)}")
    if health != "SERVING" or state.healthz != "ok":
        raise typer.Exit(1)


@kms_app.command("referenced")
def referenced(
    ctx: typer.Context,
    etcd: Annotated[str, typer.Option(help="etcd client URL, http(s)://HOST:PORT")],
    etcd_prefix: Annotated[str, typer.Option(help="The API server's --etcd-prefix")] = (
        "/registry"
    ),
    etcd_cacert: Annotated[Path | None, typer.Option(help="CA bundle for https")] = None,
    etcd_cert: Annotated[Path | None, typer.Option(help="Client certificate for etcd")] = None,
    etcd_key: Annotated[Path | None, typer.Option(help="Its private key")] = None,
    retiring: Annotated[
        list[str] | None,
        typer.Option(help="KEK id about to be retired: exit 1 while any Secret still needs it"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds the whole read may take")] = 120.0,
) -> None:
    """Which KEKs (and other providers) the Secrets in etcd are wrapped by, read from etcd
    directly: a KEK can be retired once no Secret names it."""
    import time

    with _kms_errors():
        from ..kms.referenced import EtcdClient

        client = EtcdClient(etcd, cacert=etcd_cacert, cert=etcd_cert, key=etcd_key)
        prefix = "/" + etcd_prefix.strip("/") + "/secrets/"
        counts = client.walk(prefix, time.monotonic() + timeout)
    rows = sorted(counts.items())
    if state_of(ctx).output is OutputFormat.JSON:
        from ..domain.wire import format_json

        found = [
            {"provider": w.provider, "kek_id": w.kek_id or None, "secrets": n} for w, n in rows
        ]
        typer.echo(format_json(found, indent=2))
    else:
        for wrapping, count in rows:
            kek = f" KEK {wrapping.kek_id}" if wrapping.kek_id else ""
            typer.echo(f"{count:>8} {one_line(wrapping.provider)}{one_line(kek)}")
    still = {w.kek_id: n for w, n in counts.items() if w.kek_id in set(retiring or [])}
    for kek_id, count in sorted(still.items()):
        sys.stderr.write(f"KEK {one_line(kek_id)} still wraps {count} Secret(s): keep it\n")
    if still:
        raise typer.Exit(1)


def _call(channel: Any, method: str, request: Message, reply: type[M]) -> M:
    """One unary call of ``method`` on ``channel``, its answer parsed as ``reply``."""
    stub = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    answer = reply()
    answer.ParseFromString(stub(request.SerializeToString(), timeout=CALL_TIMEOUT))
    return answer


def register(app: typer.Typer) -> None:
    """Add the ``kms`` group to the ``nebula-credential`` app."""
    app.add_typer(kms_app)
