"""``migrate`` and ``replicate``: the global options name the source, ``--to-*`` the targets.

A destination on Kubernetes without ``--to-kubeconfig`` uses the source's
``--kubeconfig`` when one was given, so ``--to-context`` picks from the same file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..domain import CredentialError, CredentialScope
from ..ops import CopySummary, ItemResult, Outcome, migrate, replicate
from ..providers import CredentialProvider, ListFilter
from .exit_codes import FAILURE
from .inputs import UsageError, parse_pairs
from .ops_view import ProgressView, print_summaries
from .options import OutputOverride
from .output import OutputFormat
from .providers import ProviderName, ProviderOptions

Scope = Annotated[str | None, typer.Option(help="Only this scope")]
Descendants = Annotated[bool, typer.Option(help="Include scopes below --scope")]
Kind = Annotated[str | None, typer.Option(help="Only this kind")]
Tags = Annotated[list[str] | None, typer.Option(help="K=V, repeatable; all must match")]
DryRun = Annotated[bool, typer.Option(help="Show what would change; write nothing")]
Concurrency = Annotated[int, typer.Option(min=1, max=256, help="Writes in flight")]
Overwrite = Annotated[
    bool, typer.Option(help="Replace differing destination copies (CAS on the version read)")
]
ToNamespace = Annotated[str | None, typer.Option(help="Destination namespace")]
ToKubeconfig = Annotated[Path | None, typer.Option(help="Destination kubeconfig file")]
ToPrefix = Annotated[str | None, typer.Option(help="Destination Secret name prefix")]


def _root(ctx: typer.Context, output: OutputFormat | None) -> tuple[ProviderOptions, OutputFormat]:
    state = ctx.find_root().obj
    options = getattr(state, "options", None)
    assert isinstance(options, ProviderOptions)
    chosen = output or getattr(state, "output", None)
    return options, chosen if isinstance(chosen, OutputFormat) else OutputFormat.TABLE


def _selection(
    scope: str | None, descendants: bool, kind: str | None, tag: list[str] | None
) -> ListFilter:
    if descendants and scope is None:
        raise UsageError("--descendants needs --scope")
    if scope is not None:
        CredentialScope(scope)
    tags = parse_pairs(tag or [], "--tag")
    return ListFilter.build(scope=scope, descendants=descendants, kind=kind, tags=tags)


def _finish(summaries: list[CopySummary]) -> None:
    if not all(s.ok for s in summaries):
        raise typer.Exit(FAILURE)


def migrate_command(
    ctx: typer.Context,
    to_provider: Annotated[ProviderName, typer.Option(help="local or kubernetes")],
    to_data_dir: Annotated[Path | None, typer.Option(help="Destination local store")] = None,
    to_namespace: ToNamespace = None,
    to_context: Annotated[str | None, typer.Option(help="Destination context")] = None,
    to_kubeconfig: ToKubeconfig = None,
    to_prefix: ToPrefix = None,
    scope: Scope = None,
    descendants: Descendants = False,
    kind: Kind = None,
    tag: Tags = None,
    dry_run: DryRun = False,
    concurrency: Concurrency = 16,
    overwrite: Overwrite = False,
    output: OutputOverride = None,
) -> None:
    """Copy credentials from the source (global options) to another provider.

    Identical copies are left alone; differing ones are skipped unless --overwrite.
    Every write is read back and compared. Exit code 1 when anything failed.
    """
    source, fmt = _root(ctx, output)
    selection = _selection(scope, descendants, kind, tag)
    kubeconfig = to_kubeconfig or (
        source.kubeconfig if to_provider is ProviderName.KUBERNETES else None
    )
    target = ProviderOptions(
        to_provider, to_data_dir, to_namespace, to_context, kubeconfig, to_prefix
    )
    if to_provider is ProviderName.KUBERNETES:
        target.check_kubernetes_names()
    if target == source or (
        source.resolved_name() is ProviderName.LOCAL
        and to_provider is ProviderName.LOCAL
        and (source.data_dir or None) == to_data_dir
    ):
        raise UsageError("the destination is the source; name another with the --to-* options")

    async def work() -> CopySummary:
        src = source.build()
        try:
            dst = target.build()
            try:
                with ProgressView(with_target=False, dry_run=dry_run) as view:
                    return await migrate(
                        src,
                        dst,
                        selection=selection,
                        dry_run=dry_run,
                        concurrency=concurrency,
                        overwrite=overwrite,
                        on_progress=view,
                        target=to_provider.value,
                    )
            finally:
                await dst.close()
        finally:
            await src.close()

    summary = asyncio.run(work())
    print_summaries([summary], fmt, sys.stdout, per_item=False)
    _finish([summary])


def replicate_command(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(metavar="[ID ...]")] = None,
    to_context: Annotated[
        list[str] | None, typer.Option(help="Target context, repeatable (required)")
    ] = None,
    to_namespace: ToNamespace = None,
    to_kubeconfig: ToKubeconfig = None,
    to_prefix: ToPrefix = None,
    scope: Scope = None,
    descendants: Descendants = False,
    all_: Annotated[bool, typer.Option("--all", help="Every credential of the source")] = False,
    dry_run: DryRun = False,
    concurrency: Concurrency = 16,
    overwrite: Overwrite = False,
    output: OutputOverride = None,
) -> None:
    """Copy credentials from the source to several Kubernetes contexts at once.

    One failing target does not stop the others; exit code 1 when anything failed.
    """
    source, fmt = _root(ctx, output)
    contexts = list(dict.fromkeys(to_context or []))
    if not contexts:
        raise UsageError("name at least one target with --to-context")
    if not (ids or scope or all_):
        raise UsageError("name credential ids, --scope or --all")
    if all_ and (ids or scope):
        raise UsageError("--all selects everything; drop the ids and --scope")
    selection = None if ids and scope is None else _selection(scope, descendants, None, None)
    kubeconfig = to_kubeconfig or source.kubeconfig
    targets = {
        name: ProviderOptions(
            ProviderName.KUBERNETES, None, to_namespace, name, kubeconfig, to_prefix
        )
        for name in contexts
    }
    next(iter(targets.values())).check_kubernetes_names()

    async def work() -> list[CopySummary]:
        built: dict[str, CredentialProvider] = {}
        broken: list[CopySummary] = []
        for name, options in targets.items():
            try:
                built[name] = options.build()
            except CredentialError as exc:  # e.g. no such context: only this target fails
                failed = ItemResult("*", Outcome.FAILED, f"cannot configure: {exc}", name)
                broken.append(CopySummary(name, dry_run, [failed]))
        src = source.build()
        try:
            with ProgressView(with_target=True, dry_run=dry_run) as view:
                done = await replicate(
                    src,
                    built,
                    ids=ids or (),
                    selection=selection,
                    dry_run=dry_run,
                    concurrency=concurrency,
                    overwrite=overwrite,
                    on_progress=view,
                )
        finally:
            await asyncio.gather(src.close(), *(p.close() for p in built.values()))
        by_name = {**done, **{b.target: b for b in broken}}
        return [by_name[name] for name in contexts]

    summaries = asyncio.run(work())
    print_summaries(summaries, fmt, sys.stdout, per_item=True)
    _finish(summaries)


def register(app: typer.Typer) -> None:
    """Add ``migrate`` and ``replicate`` to the ``nebula-credential`` app."""
    app.command("migrate")(migrate_command)
    app.command("replicate")(replicate_command)


__all__ = ["register"]
