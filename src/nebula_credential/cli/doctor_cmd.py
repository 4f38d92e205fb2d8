"""``doctor``: check configuration, server, namespace and access; print the fixes."""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from .output import OutputFormat

_MARKS = {"ok": "ok  ", "fail": "FAIL", "info": "--  "}


class Need(StrEnum):
    READ = "read"
    WRITE = "write"


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    need: Annotated[
        Need, typer.Option(help="read: get/list/watch are enough; write: every verb")
    ] = Need.WRITE,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer")] = 5.0,
    output: Annotated[
        OutputFormat | None, typer.Option("--output", "-o", help="table or json")
    ] = None,
) -> None:
    """Check the Kubernetes set-up for credentials; exit 1 when something needed is missing."""
    from ..doctor import ALL_VERBS, READ_VERBS, ClusterProbe, diagnose
    from ..kubernetes.config.cluster import ClusterConfig, load_cluster_config

    state: Any = ctx.find_root().obj
    options = state.options
    fmt = output or state.output

    def load() -> ClusterConfig:
        return load_cluster_config(
            namespace=options.namespace, context=options.context, kubeconfig=options.kubeconfig
        )

    def connect(target: ClusterConfig) -> ClusterProbe:
        return ClusterProbe(target, timeout=timeout)

    needed = READ_VERBS if need is Need.READ else ALL_VERBS
    report = asyncio.run(diagnose(load, connect, needed=needed))
    if fmt is OutputFormat.JSON:
        from ..domain.wire import format_json

        sys.stdout.write(format_json(report.as_dict(), indent=2) + "\n")
    else:
        for finding in report.findings:
            sys.stdout.write(f"{_MARKS[finding.status.value]} {finding.check}: {finding.detail}\n")
            if finding.fix:
                sys.stdout.write(f"     fix: {finding.fix}\n")
        sys.stdout.write("all needed checks passed\n" if report.ok else "some checks failed\n")
    if not report.ok:
        raise typer.Exit(1)
