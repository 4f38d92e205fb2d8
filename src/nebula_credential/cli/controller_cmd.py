"""``controller --namespace NS [--namespace NS2] [--health-addr HOST:PORT]``.

Runs until SIGTERM or SIGINT: restarts opted-in workloads when the credentials their
pods use change (see the README's Controller section). One JSON line per action on
stderr. In a pod it uses the ServiceAccount; elsewhere the kubeconfig (the root group's
``--kubeconfig`` and ``--context``). Rotation when due is not part of it yet: keep the
``rotate --due`` CronJob.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys
from typing import Annotated

import typer

from ..domain import ConfigurationError
from .inputs import UsageError
from .session import state_of


def _health_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) with an IP address; port 0 picks one."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        address = str(ipaddress.ip_address(host))
        number = int(port)
    except ValueError:
        number = -1
        address = ""
    if not address or not 0 <= number <= 65535:
        raise UsageError(
            f"--health-addr {text[:80]!r} is not HOST:PORT with an IP address, "
            "e.g. 127.0.0.1:8081 or 0.0.0.0:8081"
        )
    return address, number


def controller(
    ctx: typer.Context,
    namespace: Annotated[
        list[str], typer.Option("--namespace", "-n", help="A namespace to watch (repeatable)")
    ],
    health_addr: Annotated[
        str | None,
        typer.Option(help="Serve /healthz, /readyz and /metrics on HOST:PORT"),
    ] = None,
    lease_seconds: Annotated[
        float, typer.Option(help="Leader Lease duration; a standby takes over after it")
    ] = 15.0,
) -> None:
    """Restart opted-in workloads when the credentials they use change (leader-elected)."""
    from ..kubernetes.api.clients import open_client
    from ..kubernetes.model.naming import check_namespace

    state = state_of(ctx)
    try:
        namespaces = tuple(dict.fromkeys(check_namespace(ns, "--namespace") for ns in namespace))
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    if not 1 <= lease_seconds <= 3600:
        raise UsageError("--lease-seconds must be between 1 and 3600")
    host, port = _health_address(health_addr) if health_addr else ("127.0.0.1", None)
    _log_to_stderr()
    options = state.options
    client = open_client(
        namespace=namespaces[0],
        context=options.context,
        kubeconfig=options.kubeconfig,
        transport="aiohttp",
    )
    asyncio.run(_serve(client, namespaces, host, port, lease_seconds))


async def _serve(
    client: object, namespaces: tuple[str, ...], host: str, port: int | None, lease: float
) -> None:
    from ..controller.run import Settings, run
    from ..kubernetes.api.exchange import ApiClient

    assert isinstance(client, ApiClient)
    settings = Settings(namespaces, lease_seconds=lease, health_host=host, health_port=port)
    main = asyncio.ensure_future(run(client, settings))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)
    try:
        await main
    except asyncio.CancelledError:
        pass
    except OSError as exc:
        raise ConfigurationError(
            f"cannot serve health on {host}:{port}: {exc.strerror or type(exc).__name__}"
        ) from None
    finally:
        await client.close()


def _log_to_stderr() -> None:
    """The action lines on stderr, one JSON object each (unless logging is configured)."""
    logger = logging.getLogger("nebula_credential.controller")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def register(app: typer.Typer) -> None:
    app.command()(controller)
