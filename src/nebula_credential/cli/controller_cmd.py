"""``controller --namespace NS [--namespace NS2] [--health-addr HOST:PORT]``.

Runs until SIGTERM or SIGINT: restarts opted-in workloads when the credentials their
pods use change, and rotates oauth2 credentials ``--rotate-within`` before they expire
(see the README's Controller section). One JSON line per action on stderr. In a pod it
uses the ServiceAccount; elsewhere the kubeconfig (the root group's ``--kubeconfig``
and ``--context``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ..domain import ConfigurationError
from .inputs import UsageError, parse_duration
from .session import state_of

if TYPE_CHECKING:
    from ..controller.run import Settings
    from ..kubernetes.api.exchange import ApiClient


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
    lease_name: Annotated[
        str,
        typer.Option(help="The leader Lease (in the first namespace): one per installation"),
    ] = "nebula-credential-controller",
    rotate_within: Annotated[
        str, typer.Option(help="Rotate oauth2 credentials this long before they expire")
    ] = "5m",
    rotation: Annotated[
        bool, typer.Option(help="Rotate oauth2 credentials when due (--no-rotation: never)")
    ] = True,
) -> None:
    """Restart opted-in workloads when their credentials change; rotate when due."""
    from ..controller.run import Settings
    from ..kubernetes.api.clients import open_client
    from ..kubernetes.model.api_names import dns_subdomain
    from ..kubernetes.model.naming import check_namespace

    state = state_of(ctx)
    try:
        namespaces = tuple(dict.fromkeys(check_namespace(ns, "--namespace") for ns in namespace))
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    dns_subdomain(lease_name, "--lease-name", error=UsageError)
    if not 1 <= lease_seconds <= 3600:
        raise UsageError("--lease-seconds must be between 1 and 3600")
    host, port = _health_address(health_addr) if health_addr else ("127.0.0.1", None)
    window = parse_duration(rotate_within, "--rotate-within") if rotation else None
    _log_to_stderr()
    options = state.options
    client = open_client(
        namespace=namespaces[0],
        context=options.context,
        kubeconfig=options.kubeconfig,
        transport="aiohttp",
    )
    settings = Settings(
        namespaces,
        lease_seconds=lease_seconds,
        lease_name=lease_name,
        health_host=host,
        health_port=port,
        rotate_within=window,
        journal=options.journal() if rotation else None,
    )
    asyncio.run(_serve(client, settings))


async def _serve(client: ApiClient, settings: Settings) -> None:
    from ..controller.run import run

    host, port = settings.health_host, settings.health_port
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
