"""``reencrypt``: after an encryption key rotation, store Secrets again so the API server
encrypts them with the new primary key; say plainly whether the old key may go."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from .inputs import UsageError
from .output import OutputFormat
from .safe_text import one_line

if TYPE_CHECKING:
    from ..kubernetes.store.reencrypt import ReencryptSummary

FULL_RUN: Final = "nebula-credential reencrypt --all-secrets --all-namespaces"


def _where(summary: ReencryptSummary) -> str:
    return "every namespace" if summary.namespace is None else f"namespace {summary.namespace}"


def old_key_note(summary: ReencryptSummary) -> str | None:
    """Why the old key must stay configured after this run; None when it may go."""
    if summary.failed:
        return f"{len(summary.failed)} Secret(s) failed: keep the old key and run it again"
    if summary.untouched:
        return (
            f"{summary.untouched} Secret(s) not managed by nebula-credential were not "
            f"rewritten and may still be under the old key: keep it configured until "
            f"`{FULL_RUN}` has run"
        )
    if summary.namespace is not None:
        return (
            "Secrets of other namespaces were not rewritten: keep the old key configured "
            f"until `{FULL_RUN}` has run"
        )
    return None


def _report(summary: ReencryptSummary) -> dict[str, Any]:
    failures = []
    for key, error in sorted(summary.failed.items()):
        namespace, _, name = key.partition("/")
        failures.append({"namespace": namespace, "name": name, "error": one_line(error)})
    return {
        "namespace": summary.namespace,
        "all_secrets": summary.all_secrets,
        "rewritten": summary.rewritten,
        "current": summary.current,
        "untouched": summary.untouched,
        "vanished": summary.vanished,
        "skipped": summary.skipped,
        "failed": len(summary.failed),
        "conflicts_retried": summary.conflicts_retried,
        "seconds": round(summary.seconds, 3),
        "old_key_still_needed": old_key_note(summary) is not None,
        "failures": failures,
    }


def _print_table(summary: ReencryptSummary) -> None:
    out = sys.stdout
    out.write(
        f"rewrote {summary.rewritten} Secret(s) in {_where(summary)} in {summary.seconds:.1f}s; "
        f"{summary.current} already under the current key, {len(summary.failed)} failed"
        + (f", {summary.vanished} deleted meanwhile" if summary.vanished else "")
        + (f", {summary.skipped} done by the run resumed" if summary.skipped else "")
        + "\n"
    )
    for key, error in sorted(summary.failed.items()):
        out.write(f"  failed {key}: {one_line(error)}\n")
    note = old_key_note(summary)
    out.write(
        f"{note}\n" if note else "every Secret is under the current key: the old one may go\n"
    )


class _Progress:
    """A line on stderr at most every ``every`` seconds: long runs show they move."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.last = time.monotonic()

    def __call__(self, now: ReencryptSummary) -> None:
        moment = time.monotonic()
        if moment - self.last < self.every:
            return
        self.last = moment
        sys.stderr.write(
            f"reencrypt: {now.total} Secret(s) seen in {_where(now)}: {now.rewritten} "
            f"rewritten, {now.current} current, {now.untouched} untouched, "
            f"{len(now.failed)} failed\n"
        )
        sys.stderr.flush()


def reencrypt(
    ctx: typer.Context,
    all_secrets: Annotated[
        bool,
        typer.Option(
            "--all-secrets", help="Every Secret, not only those nebula-credential manages"
        ),
    ] = False,
    all_namespaces: Annotated[
        bool,
        typer.Option("--all-namespaces", "-A", help="Every namespace (needs a ClusterRole)"),
    ] = False,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="State file: an interrupted run goes on from where it stopped (created "
            "when missing, removed when nothing failed)"
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Secrets in flight")] = 8,
    progress_every: Annotated[
        float, typer.Option(min=0.0, max=3600.0, help="Seconds between progress lines on stderr")
    ] = 5.0,
    output: Annotated[
        OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")
    ] = None,
) -> None:
    """Write Secrets back unchanged, so they are encrypted with the current key.

    Before removing an old key, run it with --all-secrets --all-namespaces: the Kubernetes
    documentation asks for every Secret of the cluster to be rewritten.
    """
    from ..kubernetes.api.clients import open_client
    from ..kubernetes.api.secret_sweep import SecretSweep
    from ..kubernetes.store.reencrypt import reencrypt_secrets
    from .providers import ProviderName
    from .reencrypt_resume import ResumeFile

    state = ctx.find_root().obj
    options = state.options
    fmt: OutputFormat = output or state.output
    if options.resolved_name() is not ProviderName.KUBERNETES:
        raise UsageError("reencrypt rewrites Kubernetes Secrets: use --provider kubernetes")
    options.check_kubernetes_names()
    api = open_client(
        namespace=options.namespace,
        context=options.context,
        kubeconfig=options.kubeconfig,
        transport="aiohttp",  # concurrent writes: the blocking driver would do one at a time
    )
    namespace = None if all_namespaces else api.namespace
    scope = {"server": api.site.server, "namespace": namespace, "all_secrets": all_secrets}
    resume_file = None if resume is None else ResumeFile(resume, scope)
    resume_from = None if resume_file is None else resume_file.load()
    if resume_from is not None:
        sys.stderr.write(f"reencrypt: resuming from {one_line(str(resume))}\n")
    seen: list[ReencryptSummary] = []
    show = _Progress(progress_every)

    def advance(now: ReencryptSummary) -> None:
        if not seen:
            seen.append(now)
        show(now)

    async def run() -> ReencryptSummary:
        sweep = SecretSweep(api)
        try:
            return await reencrypt_secrets(
                sweep,
                namespace,
                all_secrets=all_secrets,
                concurrency=concurrency,
                resume=resume_from,
                progress=advance,
                checkpoint=None if resume_file is None else resume_file.save,
            )
        finally:
            await sweep.close()

    try:
        summary = asyncio.run(run())
    except BaseException:
        if seen:
            done = seen[0]
            again = f"; run it again with --resume {one_line(str(resume))}" if resume else ""
            sys.stderr.write(f"reencrypt: stopped after {done.total} Secret(s){again}\n")
        raise
    if resume_file is not None and resume_file.finish(summary):
        sys.stderr.write(f"reencrypt: finished; removed {one_line(str(resume))}\n")
    _print(summary, fmt)
    if summary.failed:
        raise typer.Exit(1)


def _print(summary: ReencryptSummary, fmt: OutputFormat) -> None:
    report = _report(summary)
    if fmt is OutputFormat.JSON:
        from ..domain.wire import format_json

        sys.stdout.write(format_json(report, indent=2) + "\n")
    elif fmt is OutputFormat.YAML:
        import yaml

        yaml.safe_dump(report, sys.stdout, sort_keys=False)
    else:
        _print_table(summary)


def register(app: typer.Typer) -> None:
    app.command()(reencrypt)
