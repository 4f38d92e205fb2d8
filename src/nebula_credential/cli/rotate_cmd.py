"""``rotate ID [--rollback]`` and ``rotate --due [--within 10m]``: OAuth2 token refresh.

One credential: a result line (or object) on stdout, or one error line and the exit
code of its type (1 the token endpoint refused, 6 it could not be reached, 4 conflict,
3 not found, 2 not rotatable). ``--due``: a line per credential rotated, failed or
skipped, then a summary; exit 1 when any failed.
"""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import timedelta
from typing import Annotated, Any, TextIO

import typer

from ..domain.wire import format_json
from ..ops import RotateOptions, RotationResult, RotationSummary, rollback, rotate, rotate_due
from .exit_codes import FAILURE
from .inputs import UsageError
from .ops_cmd import Descendants, OutputOverride, Scope, _root, _selection
from .output import OutputFormat, _dump_yaml
from .safe_text import json_text, one_line, visible

_DURATION = re.compile(r"(\d{1,7})([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_within(text: str) -> timedelta:
    """``90s``, ``10m``, ``2h``, ``1d`` or plain seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--within {text[:30]!r} is not a duration like 90s, 10m, 2h or 1d")
    return timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])


def result_line(result: RotationResult) -> str:
    cid = visible(result.credential_id)
    if result.outcome in ("rotated", "rolled_back"):
        expiry = f", expires {result.expires_at}" if result.expires_at else ", no expiry given"
        renewed = ", new refresh token" if result.new_refresh_token else ""
        moved = f"version {result.version_before} -> {result.version_after}"
        return f"{result.outcome} {cid} ({moved}{expiry}{renewed})"
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


def rotate_command(
    ctx: typer.Context,
    credential_id: Annotated[str | None, typer.Argument(metavar="[ID]")] = None,
    rollback_: Annotated[
        bool, typer.Option("--rollback", help="Restore the version the last rotation replaced")
    ] = False,
    due: Annotated[
        bool, typer.Option(help="Rotate every oauth2 credential expiring within --within")
    ] = False,
    within: Annotated[str, typer.Option(help="With --due: window, e.g. 90s, 10m, 2h")] = "10m",
    scope: Scope = None,
    descendants: Descendants = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="With --due: token requests in flight")
    ] = 4,
    timeout: Annotated[
        float, typer.Option(min=1, max=240, help="Seconds for each token exchange, in all")
    ] = 30.0,
    allow_http: Annotated[
        bool, typer.Option(help="Accept a plain-http token_url on a non-loopback host")
    ] = False,
    output: OutputOverride = None,
) -> None:
    """Refresh oauth2 tokens with the refresh-token grant, or roll a rotation back.

    The new access token, refresh token (when the server sends one) and expiry are
    written with compare-and-swap; the replaced version is kept for --rollback.
    """
    source, fmt = _root(ctx, output)
    if due == (credential_id is not None):
        raise UsageError("name one credential ID, or use --due")
    if rollback_ and due:
        raise UsageError("--rollback takes one credential ID, not --due")
    if not due and (scope is not None or descendants):
        raise UsageError("--scope and --descendants go with --due")
    window = parse_within(within)
    selection = _selection(scope, descendants, None, None)
    options = RotateOptions(timeout=timeout, allow_http=allow_http)

    if credential_id is not None:
        cid = credential_id

        async def one() -> RotationResult:
            provider = source.build()
            try:
                if rollback_:
                    return await rollback(provider, cid)
                return await rotate(provider, cid, options=options)
            finally:
                await provider.close()

        result = asyncio.run(one())
        if fmt is OutputFormat.TABLE:
            sys.stdout.write(result_line(result) + "\n")
        else:
            _emit(result.to_dict(), fmt, sys.stdout)
        return

    def show(result: RotationResult) -> None:
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
                concurrency=concurrency,
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
