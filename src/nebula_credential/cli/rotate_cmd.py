"""``rotate ID [--rollback]`` and ``rotate --due [--within 10m]``: OAuth2 token refresh.

One credential: a result line (or object) on stdout, warnings on stderr, or one error
line and the exit code of its type (1 the token endpoint refused, 6 it or the store
could not be reached, 4 conflict or another rotation holds the lease, 3 not found,
2 not rotatable or an option that does not apply, 8 new tokens were issued but are
only in the journal: finish with ``--resume``). ``--due``: a line per credential
rotated, failed or skipped, then a summary; exit 1 when any failed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Annotated, Any, TextIO

import typer

from ..domain import ConfigurationError
from ..domain.wire import format_json
from ..ops import (
    RotateOptions,
    RotationResult,
    RotationSummary,
    resume,
    rollback,
    rotate,
    rotate_due,
)
from .exit_codes import FAILURE
from .inputs import UsageError, parse_duration
from .ops_cmd import Descendants, Scope, _root, _selection
from .options import OutputOverride
from .output import OutputFormat, _dump_yaml
from .safe_text import json_text, one_line, visible


def parse_within(text: str, option: str = "--within") -> timedelta:
    """``90s``, ``10m``, ``2h``, ``1d`` or plain seconds, at most a century."""
    return parse_duration(text, option)


def result_line(result: RotationResult) -> str:
    cid = visible(result.credential_id)
    if result.outcome in ("rotated", "rolled_back"):
        expiry = f", expires {result.expires_at}" if result.expires_at else ", no expiry given"
        renewed = ", new refresh token" if result.new_refresh_token else ""
        kept = ", from the tokens a failed rotation kept" if result.resumed else ""
        moved = f"version {result.version_before} -> {result.version_after}"
        return f"{result.outcome} {cid} ({moved}{expiry}{renewed}{kept})"
    code = f" [{result.error_code}]" if result.error_code else ""
    return f"{result.outcome} {cid}{code}: {one_line(result.reason or '')}"


def _emit(data: dict[str, Any], fmt: OutputFormat, out: TextIO) -> None:
    if fmt is OutputFormat.JSON:
        out.write(json_text(format_json(data, indent=2)) + "\n")
    else:
        _dump_yaml(data, out)


def _print_summary(summary: RotationSummary, fmt: OutputFormat, out: TextIO) -> None:
    if fmt is not OutputFormat.TABLE:
        _emit(summary.to_dict(), fmt, out)
        return
    counts = summary.counts()
    out.write(
        f"rotate --due: {counts['rotated']} rotated, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['not_due']} not due\n"
    )


def _refuse(given: dict[str, bool], allowed: set[str], mode: str) -> None:
    """Exit 2 for options that do nothing in ``mode``."""
    stray = [name for name, present in given.items() if present and name not in allowed]
    if stray:
        raise UsageError(f"{', '.join(stray)} do(es) not apply to {mode}")


def _warn(result: RotationResult) -> None:
    for warning in result.warnings:
        sys.stderr.write(f"warning: {visible(result.credential_id)}: {one_line(warning)}\n")


def rotate_command(
    ctx: typer.Context,
    credential_id: Annotated[str | None, typer.Argument(metavar="[ID]")] = None,
    rollback_: Annotated[
        bool, typer.Option("--rollback", help="Undo the last rotation of ID")
    ] = False,
    resume_: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Store the tokens a failed rotation of ID kept, without calling the endpoint",
        ),
    ] = False,
    discard: Annotated[
        bool, typer.Option(help="With --resume: forget the kept tokens instead")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="With --rollback or --resume: write although ID changed since the rotation"
        ),
    ] = False,
    due: Annotated[
        bool, typer.Option(help="Rotate every oauth2 credential expiring within --within")
    ] = False,
    within: Annotated[
        str | None, typer.Option(help="With --due: window, e.g. 90s, 10m, 2h [default: 10m]")
    ] = None,
    scope: Scope = None,
    descendants: Descendants = False,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="With --due: token requests in flight [default: 4]"),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=1, max=240, help="Seconds for each token exchange [default: 30]"),
    ] = None,
    write_deadline: Annotated[
        str | None,
        typer.Option(
            help="How long issued tokens are retried into the store, e.g. 10m [default: 330s]"
        ),
    ] = None,
    allow_http: Annotated[
        bool, typer.Option(help="Accept a plain-http token_url on a non-loopback host")
    ] = False,
    output: OutputOverride = None,
) -> None:
    """Refresh oauth2 tokens with the refresh-token grant, or undo the last rotation.

    The new tokens are filed in a journal under the data directory, then written with
    compare-and-swap while the credential's rotation lease is held; the replaced
    version is kept for --rollback. Tokens that could not be written stay in the
    journal: --resume (or the next rotate of that ID) stores them.
    """
    source, fmt = _root(ctx, output)
    modes = [name for name, on in (("--rollback", rollback_), ("--resume", resume_)) if on]
    if due:
        modes.append("--due")
    if len(modes) > 1:
        raise UsageError(f"{' and '.join(modes)} cannot be combined")
    if due == (credential_id is not None):
        raise UsageError("name one credential ID, or use --due")
    given = {
        "--within": within is not None,
        "--scope": scope is not None,
        "--descendants": descendants,
        "--concurrency": concurrency is not None,
        "--timeout": timeout is not None,
        "--write-deadline": write_deadline is not None,
        "--allow-http": allow_http,
        "--force": force,
        "--discard": discard,
    }
    exchange = {"--timeout", "--write-deadline", "--allow-http"}
    if rollback_:
        _refuse(given, {"--force"}, "--rollback")
    elif resume_:
        _refuse(given, {"--force", "--discard", "--write-deadline"}, "--resume")
    elif due:
        _refuse(
            given, exchange | {"--within", "--scope", "--descendants", "--concurrency"}, "--due"
        )
    else:
        _refuse(given, exchange, "rotating one credential")
    window = parse_within(within or "10m", "--within")
    deadline = parse_within(write_deadline or "330s", "--write-deadline")
    selection = _selection(scope, descendants, None, None)
    try:
        options = RotateOptions(
            timeout=30.0 if timeout is None else timeout,
            allow_http=allow_http,
            write_deadline=deadline.total_seconds(),
            journal=source.journal(),
        )
    except ConfigurationError as exc:
        raise UsageError(exc.message.replace("write_deadline", "--write-deadline")) from None

    if credential_id is not None:
        cid = credential_id

        async def one() -> RotationResult:
            provider = source.build()
            try:
                if rollback_:
                    return await rollback(provider, cid, force=force)
                if resume_:
                    return await resume(
                        provider, cid, options=options, force=force, discard=discard
                    )
                return await rotate(provider, cid, options=options)
            finally:
                await provider.close()

        result = asyncio.run(one())
        _warn(result)
        if fmt is OutputFormat.TABLE:
            sys.stdout.write(result_line(result) + "\n")
        else:
            _emit(result.to_dict(), fmt, sys.stdout)
        return

    def show(result: RotationResult) -> None:
        _warn(result)
        if fmt is OutputFormat.TABLE:
            sys.stdout.write(result_line(result) + "\n")
            sys.stdout.flush()

    async def every() -> RotationSummary:
        provider = source.build()
        try:
            return await rotate_due(
                provider,
                within=window,
                selection=selection,
                concurrency=4 if concurrency is None else concurrency,
                options=options,
                on_result=show,
            )
        finally:
            await provider.close()

    summary = asyncio.run(every())
    if fmt is OutputFormat.TABLE:
        for result in summary.results:
            if result.error_code == "corrupt":  # reported while listing, before any line
                show(result)
    _print_summary(summary, fmt, sys.stdout)
    if not summary.ok:
        raise typer.Exit(FAILURE)


def register(app: typer.Typer) -> None:
    """Add ``rotate`` to the ``nebula-credential`` app."""
    app.command("rotate")(rotate_command)


__all__ = ["parse_within", "register"]
