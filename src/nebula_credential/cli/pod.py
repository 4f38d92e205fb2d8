"""``mounted`` and ``env``: what a pod sees, read the way the pod reads it.

``mounted --follow`` keeps printing the credential after every kubelet swap; with
``--output json`` each version is one line (NDJSON) and errors go to stderr, one line
each, while it keeps following. SIGINT and SIGTERM end it with exit code 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from ..domain import ConfigurationError, Credential
from .hand_edit_lines import hand_edit_lines
from .inputs import UsageError
from .options import OutputOverride
from .output import OutputFormat, as_record, print_one

if TYPE_CHECKING:
    from ..metrics import MetricsServer
    from ..readers import MountedChange, MountedCredential


def _format(ctx: typer.Context, output: OutputFormat | None) -> OutputFormat:
    if output is not None:
        return output
    chosen = getattr(ctx.find_root().obj, "output", None)
    return chosen if isinstance(chosen, OutputFormat) else OutputFormat.TABLE


def _print_version(credential: Credential, fmt: OutputFormat, out: TextIO, reveal: bool) -> None:
    """One version while following: a JSON line, a YAML document, or a table."""
    if fmt is OutputFormat.JSON:
        from ..domain.wire import format_json

        out.write(format_json(as_record(credential, reveal=reveal), indent=0) + "\n")
    else:
        if fmt is OutputFormat.YAML:
            out.write("---\n")
        print_one(credential, fmt, out, reveal=reveal)
        if fmt is OutputFormat.TABLE:
            out.write("\n")
    out.flush()


def _error_line(change: MountedChange) -> None:
    assert change.error is not None
    text = str(change.error).replace("\n", " ")
    kept = change.data_dir or "the previous content"
    sys.stderr.write(f"error: {text} (still serving the credential from {kept})\n")
    sys.stderr.flush()


def _until_signalled() -> tuple[threading.Event, dict[signal.Signals, Any]]:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    return stop, previous


def mounted(
    ctx: typer.Context,
    path: Annotated[
        str | None,
        typer.Argument(
            metavar="[PATH]",
            help="Secret volume (default: $CREDENTIALS_PATH, else /etc/nebula/credentials)",
        ),
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="Kind of per-key files (not needed with credential.json)")
    ] = None,
    credential_id: Annotated[str | None, typer.Option("--id", help="Id to report")] = None,
    reveal: Annotated[bool, typer.Option(help="Show secret values")] = False,
    follow: Annotated[
        bool, typer.Option(help="Keep running; print again after each change")
    ] = False,
    interval: Annotated[
        float, typer.Option(help="Seconds between checks with --follow", min=0.05, max=10.0)
    ] = 0.1,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="With --follow: serve Prometheus metrics on PORT of --metrics-addr",
            min=0,
            max=65535,
        ),
    ] = None,
    metrics_addr: Annotated[
        str | None,
        typer.Option(
            help="IP address to serve metrics on (default 127.0.0.1; 0.0.0.0 or :: for "
            "Prometheus to scrape the pod)"
        ),
    ] = None,
    output: OutputOverride = None,
) -> None:
    """Show the credential of a mounted Secret volume (as the pod reads it)."""
    from ..readers import MountedCredential

    if metrics_port is not None and not follow:
        raise UsageError("--metrics-port needs --follow")
    if metrics_addr is not None and metrics_port is None:
        raise UsageError("--metrics-addr needs --metrics-port")
    address = _bind_address(metrics_addr or "127.0.0.1")
    fmt = _format(ctx, output)
    reader = MountedCredential(path, kind=kind, credential_id=credential_id, interval=interval)
    with hand_edit_lines():
        if not follow:
            print_one(reader.load(), fmt, sys.stdout, reveal=reveal)
            return
        _follow(
            reader, fmt, reveal, interval, None if metrics_port is None else (address, metrics_port)
        )


def _follow(
    reader: MountedCredential,
    fmt: OutputFormat,
    reveal: bool,
    interval: float,
    metrics_at: tuple[str, int] | None,
) -> None:
    """Print the credential, then each change, until SIGINT or SIGTERM."""
    server = None if metrics_at is None else _serve_metrics(*metrics_at)
    stop, previous = _until_signalled()
    try:
        first = reader.refresh()
        assert first is not None
        _print_version(first.credential, fmt, sys.stdout, reveal)
        if first.error is not None:
            _error_line(first)
        while not stop.wait(interval):
            change = reader.refresh()
            if change is None:
                continue
            if change.error is not None:
                _error_line(change)
            else:
                _print_version(change.credential, fmt, sys.stdout, reveal)
    finally:
        reader.close()
        if server is not None:
            server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _bind_address(text: str) -> str:
    """An IP address to bind (a host name would hide which interface is opened)."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageError(
            f"--metrics-addr {text[:80]!r} is not an IP address: use 127.0.0.1 "
            "(this host only), 0.0.0.0 or :: (every interface), or one interface's address"
        ) from None


# What a volume reader moves: its reloads and the hand edits it finds.
_READER_SERIES = ("nebula_reader_", "nebula_hand_edits")


def _serve_metrics(addr: str, port: int) -> MetricsServer:
    from .. import metrics

    try:
        server = metrics.serve(port, addr, only=_READER_SERIES)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        shown = f"[{addr}]" if ":" in addr else addr
        raise ConfigurationError(f"cannot serve metrics on {shown}:{port}: {reason}") from None
    sys.stderr.write(f"serving metrics on {server.url}\n")
    sys.stderr.flush()
    return server


def env(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Option(help="Variable prefix, e.g. OAUTH2_")],
    kind: Annotated[str | None, typer.Option(help="oauth2, api_key, basic_auth, ...")] = None,
    credential_id: Annotated[str | None, typer.Option("--id", help="Id to report")] = None,
    ignore_unknown: Annotated[
        bool, typer.Option(help="Skip variables with the prefix that are not fields")
    ] = False,
    reveal: Annotated[bool, typer.Option(help="Show secret values")] = False,
    output: OutputOverride = None,
) -> None:
    """Show the credential held in environment variables (never updated; prefer files)."""
    from ..readers import credential_from_env

    credential = credential_from_env(
        prefix, kind, credential_id=credential_id, ignore_unknown=ignore_unknown
    )
    print_one(credential, _format(ctx, output), sys.stdout, reveal=reveal)


def register(app: typer.Typer) -> None:
    """Add the pod-side commands to the ``nebula-credential`` app."""
    app.command()(mounted)
    app.command()(env)
