"""``reencrypt``: after an encryption key rotation, store every managed Secret again so
the API server encrypts it with the new primary key."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .inputs import UsageError
from .output import OutputFormat

if TYPE_CHECKING:
    from ..kubernetes.store.reencrypt import ReencryptSummary


def _report(summary: ReencryptSummary) -> dict[str, Any]:
    return {
        "namespace": summary.namespace,
        "rewritten": summary.rewritten,
        "failed": len(summary.failed),
        "vanished": summary.vanished,
        "conflicts_retried": summary.conflicts_retried,
        "seconds": round(summary.seconds, 3),
        "failures": [{"name": n, "error": e} for n, e in sorted(summary.failed.items())],
    }


def reencrypt(
    ctx: typer.Context,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Secrets in flight")] = 8,
    output: Annotated[
        OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")
    ] = None,
) -> None:
    """Rewrite every managed Secret unchanged (re-encrypted with the current key)."""
    from ..kubernetes import KubernetesSecretsProvider
    from .providers import ProviderName

    state = ctx.find_root().obj
    fmt: OutputFormat = output or state.output
    if state.options.resolved_name() is not ProviderName.KUBERNETES:
        raise UsageError("reencrypt rewrites Kubernetes Secrets: use --provider kubernetes")
    provider = state.options.build()
    assert isinstance(provider, KubernetesSecretsProvider)

    async def run() -> ReencryptSummary:
        try:
            if not sys.stderr.isatty():
                return await provider.reencrypt(concurrency=concurrency)
            from rich.progress import Progress, SpinnerColumn, TextColumn

            columns = (SpinnerColumn(), TextColumn("{task.description}"))
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task(f"re-encrypting Secrets in {provider.namespace}")

                def advance(now: ReencryptSummary) -> None:
                    text = f"re-encrypting Secrets in {now.namespace}: {now.total} done"
                    bar.update(task, description=text)

                return await provider.reencrypt(concurrency=concurrency, progress=advance)
        finally:
            await provider.close()

    summary = asyncio.run(run())
    report = _report(summary)
    if fmt is OutputFormat.JSON:
        import json

        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    elif fmt is OutputFormat.YAML:
        import yaml

        yaml.safe_dump(report, sys.stdout, sort_keys=False)
    else:
        sys.stdout.write(
            f"rewrote {summary.rewritten} Secret(s) in {summary.namespace} in "
            f"{summary.seconds:.1f}s; {len(summary.failed)} failed"
            + (f", {summary.vanished} deleted meanwhile" if summary.vanished else "")
            + "\n"
        )
        for name, error in sorted(summary.failed.items()):
            sys.stdout.write(f"  failed {name}: {error}\n")
    if summary.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(reencrypt)
