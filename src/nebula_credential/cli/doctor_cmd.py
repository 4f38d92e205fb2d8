"""``doctor``: check configuration, server, namespace and access; print the fixes.

The table shows every detail and fix as one line of text (:func:`.safe_text.one_line`):
condition messages, context names and user names come from others.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .output import OutputFormat

if TYPE_CHECKING:
    from ..doctor import Report

_MARKS = {"ok": "ok  ", "fail": "FAIL", "info": "--  "}
_DEFAULT_PREFIX = "nebula-credentials"  # the Kubernetes provider's default


class Need(StrEnum):
    READ = "read"
    WRITE = "write"


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    need: Annotated[
        Need,
        typer.Option(
            help="read: get (and list/watch where access is not by name); write: also "
            "create, update, patch, delete"
        ),
    ] = Need.WRITE,
    credential: Annotated[
        list[str] | None,
        typer.Option(
            "--credential",
            "-c",
            metavar="ID",
            help="Credential id, repeatable: check access to its Secrets by name, as the "
            "Roles of `manifests rbac` grant it",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer")] = 5.0,
    output: Annotated[
        OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")
    ] = None,
) -> None:
    """Check the Kubernetes set-up for credentials; exit 1 when something needed is missing."""
    from ..doctor import ClusterProbe, Wanted, diagnose
    from ..domain import CredentialId
    from ..kubernetes.config.cluster import ClusterConfig, load_cluster_config

    state: Any = ctx.find_root().obj
    options = state.options
    options.check_kubernetes_names()  # a --prefix or --namespace as typed: exit 2
    fmt = output or state.output
    ids = tuple(dict.fromkeys(str(CredentialId(c)) for c in credential or ()))
    wanted = Wanted(
        write=need is Need.WRITE, credentials=ids, prefix=options.prefix or _DEFAULT_PREFIX
    )

    def load() -> ClusterConfig:
        return load_cluster_config(
            namespace=options.namespace, context=options.context, kubeconfig=options.kubeconfig
        )

    def connect(target: ClusterConfig) -> ClusterProbe:
        return ClusterProbe(target, timeout=timeout)

    report = asyncio.run(diagnose(load, connect, wanted=wanted))
    _print(report, fmt)
    if not report.ok:
        raise typer.Exit(1)


def _print(report: Report, fmt: OutputFormat | None) -> None:
    if fmt is OutputFormat.JSON:
        from ..domain.wire import format_json
        from .safe_text import json_text

        sys.stdout.write(json_text(format_json(report.as_dict(), indent=2)) + "\n")
        return
    if fmt is OutputFormat.YAML:
        from .output import _dump_yaml

        _dump_yaml(report.as_dict(), sys.stdout)
        return
    from .safe_text import one_line

    for finding in report.findings:
        line = f"{finding.check}: {finding.detail}"
        sys.stdout.write(f"{_MARKS[finding.status.value]} {one_line(line)}\n")
        if finding.fix:
            sys.stdout.write(f"     fix: {one_line(finding.fix)}\n")
    sys.stdout.write("all needed checks passed\n" if report.ok else "some checks failed\n")
