"""The ``nebula-credential`` command: store, get, list, delete."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ..domain import (
    CorruptData,
    Credential,
    CredentialId,
    CredentialScope,
    check_user_tags,
    parse_kind,
)
from ..providers import CredentialProvider, SyncCredentialProvider
from .commands import LAZY_COMMANDS
from .exit_codes import PARTIAL
from .inputs import (
    UsageError,
    collect_fields,
    load_json_source,
    merge_json,
    parse_pairs,
    parse_version,
    prompt_missing,
    stdin_is_interactive,
)
from .lazy import TYPER_SETTINGS, lazy_group
from .options import OutputOverride
from .output import OutputFormat, print_many, print_one
from .providers import ProviderName, ProviderOptions
from .session import (
    State,
    ask_hidden,
    run_async,
    run_sync,
    say,
    state_of,
)

app = typer.Typer(
    name="nebula-credential",
    help="Typed credentials in Kubernetes Secrets or an encrypted local store.",
    cls=lazy_group(LAZY_COMMANDS),
    no_args_is_help=True,
    **TYPER_SETTINGS,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    provider: Annotated[
        ProviderName | None,
        typer.Option(
            help="Where credentials live [env: NEBULA_CREDENTIAL_PROVIDER; default local]"
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Local store directory [env: NEBULA_CREDENTIAL_HOME]"),
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Kubernetes namespace")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context")] = None,
    kubeconfig: Annotated[Path | None, typer.Option(help="kubeconfig file")] = None,
    prefix: Annotated[str | None, typer.Option(help="Secret name prefix")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or yaml")
    ] = OutputFormat.TABLE,
    debug: Annotated[bool, typer.Option(help="Show tracebacks")] = False,
) -> None:
    from .._wording import speaking_cli

    options = ProviderOptions(provider, data_dir, namespace, context, kubeconfig, prefix)
    ctx.obj = State(options, output, debug)
    ctx.with_resource(speaking_cli())  # hints about Secrets name options, not arguments


def store(
    ctx: typer.Context,
    credential_id: Annotated[str, typer.Argument(metavar="ID")],
    kind: Annotated[str | None, typer.Option(help="oauth2, api_key, basic_auth, ...")] = None,
    scope: Annotated[str | None, typer.Option(help="e.g. user:alice or org:acme/team:core")] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option(help="K=V, repeatable")] = None,
    field: Annotated[
        list[str] | None, typer.Option(help="NAME=@FILE, NAME=- (stdin) or NAME=VALUE")
    ] = None,
    from_json: Annotated[str | None, typer.Option(help="FILE or - for stdin")] = None,
    expected_version: Annotated[
        str | None,
        typer.Option(metavar="N", help="Write only if the stored version is N (0: new)"),
    ] = None,
    expires_at: Annotated[str | None, typer.Option(help="RFC 3339 expiry")] = None,
    output: OutputOverride = None,
) -> None:
    """Create or replace a credential."""
    state = state_of(ctx, output)
    cid = CredentialId(credential_id)
    version = parse_version(expected_version)
    tags = parse_pairs(tag, "--tag") if tag else None  # before any input is read
    check_user_tags(tags or {}, cid)
    meta: dict[str, Any] = {}
    json_fields: dict[str, Any] = {}
    if from_json is not None:
        if from_json == "-" and any(f.partition("=")[2] == "-" for f in field or []):
            raise UsageError("--from-json - and --field NAME=- cannot both read standard input")
        kind, json_fields, meta = merge_json(load_json_source(from_json, sys.stdin), cid, kind)
        if isinstance(meta.get("tags"), dict):
            check_user_tags(meta["tags"], cid)
    if kind is None:
        raise UsageError("--kind is required (or a 'kind' in --from-json)")
    parsed_kind = parse_kind(kind)
    fields = json_fields
    fields.update(collect_fields(parsed_kind, field or [], stdin=sys.stdin, warn=say))
    prompt_missing(
        parsed_kind,
        fields,
        interactive=stdin_is_interactive(sys.stdin),
        ask=ask_hidden,
    )
    if scope is not None:
        meta["scope"] = scope
    if owner is not None:
        meta["owner"] = owner
    if tags is not None:
        meta["tags"] = tags
    if expires_at is not None:
        meta["expires_at"] = expires_at
    credential = Credential(cid, parsed_kind, fields, **meta)
    stored: Credential = run_sync(state, lambda p: p.store(credential, expected_version=version))
    if state.output is OutputFormat.TABLE:
        where = f"{stored.kind.value}, scope {stored.scope}, version {stored.version}"
        print(f"stored {stored.id} ({where})")
    else:
        print_one(stored, state.output, sys.stdout, reveal=False)


def get(
    ctx: typer.Context,
    credential_id: Annotated[str, typer.Argument(metavar="ID")],
    field: Annotated[str | None, typer.Option(help="Print only this field")] = None,
    reveal: Annotated[bool, typer.Option(help="Show secret values")] = False,
    kind: Annotated[
        str | None, typer.Option(help="Read a Secret another tool wrote as this kind")
    ] = None,
    map_key: Annotated[
        list[str] | None,
        typer.Option(help="KEY=FIELD: that Secret's key KEY holds field FIELD (repeatable)"),
    ] = None,
    ignore_unknown: Annotated[
        bool, typer.Option(help="Skip that Secret's keys that are no field of the kind")
    ] = False,
    by_name: Annotated[
        bool,
        typer.Option(help="ID is the name of a Secret another tool wrote (no prefix added)"),
    ] = False,
    output: OutputOverride = None,
) -> None:
    """Show a credential; secret values stay hidden unless --reveal."""
    from .foreign_read import ForeignRead
    from .show import GetRequest, show

    foreign = ForeignRead(kind, map_key or [], ignore_unknown, by_name)
    show(state_of(ctx, output), GetRequest(credential_id, field, reveal, foreign))


def list_(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option(help="Only this scope")] = None,
    descendants: Annotated[bool, typer.Option(help="Include scopes below --scope")] = False,
    kind: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option(help="K=V, repeatable; all must match")] = None,
    reveal: Annotated[bool, typer.Option(help="Show secret values (json/yaml)")] = False,
    strict: Annotated[
        bool, typer.Option(help="Fail at the first stored item that does not decode")
    ] = False,
    output: OutputOverride = None,
) -> None:
    """List credentials, optionally by scope, kind and tags.

    Items that do not decode are skipped, one line each on stderr, and the exit code
    is 7 (partial); --strict stops at the first instead.
    """
    state = state_of(ctx, output)
    if descendants and scope is None:
        raise UsageError("--descendants needs --scope")
    if scope is not None:
        CredentialScope(scope)
    tags = parse_pairs(tag or [], "--tag")

    skipped: list[CorruptData] = []

    def skip(error: CorruptData) -> None:
        skipped.append(error)
        say(f"warning: skipped: {error}")

    def work(provider: SyncCredentialProvider) -> int:
        listing = provider.list(
            scope=scope,
            descendants=descendants,
            kind=kind,
            tags=tags,
            on_skip=None if strict else skip,
        )
        return print_many(list(listing), state.output, sys.stdout, reveal=reveal)

    listed: int = run_sync(state, work)
    if skipped:
        say(
            f"listed {listed} credential(s); skipped {len(skipped)} that could not be read "
            "(see above; --strict stops at the first)"
        )
        raise typer.Exit(PARTIAL)


def delete(
    ctx: typer.Context,
    credential_id: Annotated[str, typer.Argument(metavar="ID")],
    force: Annotated[
        bool, typer.Option(help="Delete what is at the id's place even if it is not its own")
    ] = False,
) -> None:
    """Delete a credential; succeeds when it is already absent."""
    state = state_of(ctx)
    cid = CredentialId(credential_id)

    async def forced(provider: CredentialProvider) -> str | None:
        force_delete = getattr(provider, "force_delete", None)
        if force_delete is not None:
            what: str | None = await force_delete(cid)
            return what
        return cid if await provider.delete(cid) else None

    deleted: str | None
    if force:
        deleted = run_async(state, forced)
    else:
        deleted = run_sync(state, lambda p: cid if p.delete(cid) else None)
    print(f"deleted {deleted}" if deleted else f"{cid} was absent; nothing to delete")


def register(app: typer.Typer) -> None:
    """Add store, get, list and delete to ``app``."""
    app.command()(store)
    app.command()(get)
    app.command("list")(list_)
    app.command()(delete)
