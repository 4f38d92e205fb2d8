"""The ``nebula-credential`` command: store, get, list, delete."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any, TypeVar

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
from .lazy import TYPER_SETTINGS, LazyCommand, lazy_group
from .output import OutputFormat, print_field, print_many, print_one
from .providers import ProviderName, ProviderOptions
from .safe_text import one_line

# Every command is built when the command line names it, and the module that defines it
# imported then (cli/lazy.py); store, get, list and delete are defined below.
LAZY_COMMANDS = (
    LazyCommand("store", "app", "Create or replace a credential."),
    LazyCommand("get", "app", "Show a credential; secret values stay hidden unless --reveal."),
    LazyCommand("list", "app", "List credentials, optionally by scope, kind and tags."),
    LazyCommand("delete", "app", "Delete a credential; succeeds when it is already absent."),
    LazyCommand(
        "mounted", "pod", "Show the credential of a mounted Secret volume (as the pod reads it)."
    ),
    LazyCommand(
        "env",
        "pod",
        "Show the credential held in environment variables (never updated; prefer files).",
    ),
    LazyCommand(
        "doctor",
        "doctor_cmd",
        "Check the Kubernetes set-up for credentials; exit 1 when something needed is missing.",
    ),
    LazyCommand(
        "seal",
        "seal_cmd",
        "Print a SealedSecret (bitnami.com/v1alpha1) that is safe to commit to Git.",
    ),
    LazyCommand(
        "unseal", "seal_cmd", "Open a SealedSecret offline (recovery) and print the plain Secret."
    ),
    LazyCommand(
        "audit",
        "audit_cmd",
        "Secret events of a kube-apiserver audit log: counts by user and verb, flags.",
    ),
    LazyCommand(
        "reencrypt",
        "reencrypt_cmd",
        "Write Secrets back unchanged, so they are encrypted with the current key.",
    ),
    LazyCommand(
        "migrate",
        "ops_cmd",
        "Copy credentials from the source (global options) to another provider.",
    ),
    LazyCommand(
        "replicate",
        "ops_cmd",
        "Copy credentials from the source to several Kubernetes contexts at once.",
    ),
    LazyCommand(
        "rotate",
        "rotate_cmd",
        "Refresh oauth2 tokens with the refresh-token grant, or undo the last rotation.",
    ),
    LazyCommand(
        "manifests",
        "manifests_cmd",
        "Print Kubernetes manifests (YAML for kubectl apply) for credentials.",
    ),
    LazyCommand(
        "kms",
        "kms_cmd",
        "Run the KMS plugin that encrypts Secrets at rest for kube-apiserver (KMS v1 and v2).",
    ),
)

app = typer.Typer(
    name="nebula-credential",
    help="Typed credentials in Kubernetes Secrets or an encrypted local store.",
    cls=lazy_group(LAZY_COMMANDS),
    no_args_is_help=True,
    **TYPER_SETTINGS,
)


T = TypeVar("T")


class State:
    def __init__(self, options: ProviderOptions, output: OutputFormat, debug: bool) -> None:
        self.options = options
        self.output = output
        self.debug = debug


OutputOverride = Annotated[
    OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")
]


def _state(ctx: typer.Context, output: OutputFormat | None = None) -> State:
    state = ctx.find_root().obj
    assert isinstance(state, State)
    if output is not None:
        state.output = output
    return state


def _say(message: str) -> None:
    sys.stderr.write(one_line(message) + "\n")


def _run(state: State, work: Callable[[SyncCredentialProvider], T]) -> T:
    """``work`` on the chosen provider through the sync facade: the local store, and
    Kubernetes on its blocking transport, run on this thread without an event loop (nor
    the imports of asyncio and aiohttp)."""
    with _noted(state), SyncCredentialProvider(state.options.build(one_shot=True)) as provider:
        return work(provider)


def _noted(state: State) -> AbstractContextManager[None]:
    """Kubernetes reads print a line per per-field key edited by hand (hand_edit_lines)."""
    if state.options.resolved_name() is not ProviderName.KUBERNETES:
        return nullcontext()
    from .hand_edit_lines import hand_edit_lines

    return hand_edit_lines()


def _run_async(state: State, work: Callable[[CredentialProvider], Awaitable[T]]) -> T:
    import asyncio

    async def go() -> T:
        provider = state.options.build()
        try:
            return await work(provider)
        finally:
            await provider.close()

    with _noted(state):
        return asyncio.run(go())


def _ask_hidden(label: str) -> str:
    import getpass

    return getpass.getpass(label)


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
    state = _state(ctx, output)
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
    fields.update(collect_fields(parsed_kind, field or [], stdin=sys.stdin, warn=_say))
    prompt_missing(
        parsed_kind,
        fields,
        interactive=stdin_is_interactive(sys.stdin),
        ask=_ask_hidden,
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
    stored: Credential = _run(state, lambda p: p.store(credential, expected_version=version))
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
    from .foreign_read import ForeignRead, read_foreign

    state = _state(ctx, output)
    foreign = ForeignRead(kind, map_key or [], ignore_unknown, by_name)
    credential: Credential
    if foreign.asked():
        with _noted(state):
            credential = read_foreign(state.options, credential_id, foreign)
        cid = credential.id
    else:
        cid = CredentialId(credential_id)
        credential = _run(state, lambda p: p.get(cid))
    if field is not None:
        if field not in credential.fields:
            present = ", ".join(credential.fields)
            raise UsageError(f"credential {cid!r} has no field {field!r}; it has: {present}")
        print_field(credential, field, sys.stdout, reveal=reveal, note=_say)
        return
    print_one(credential, state.output, sys.stdout, reveal=reveal)


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
    state = _state(ctx, output)
    if descendants and scope is None:
        raise UsageError("--descendants needs --scope")
    if scope is not None:
        CredentialScope(scope)
    tags = parse_pairs(tag or [], "--tag")

    skipped: list[CorruptData] = []

    def skip(error: CorruptData) -> None:
        skipped.append(error)
        _say(f"warning: skipped: {error}")

    def work(provider: SyncCredentialProvider) -> int:
        listing = provider.list(
            scope=scope,
            descendants=descendants,
            kind=kind,
            tags=tags,
            on_skip=None if strict else skip,
        )
        return print_many(list(listing), state.output, sys.stdout, reveal=reveal)

    listed: int = _run(state, work)
    if skipped:
        _say(
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
    state = _state(ctx)
    cid = CredentialId(credential_id)

    async def forced(provider: CredentialProvider) -> str | None:
        force_delete = getattr(provider, "force_delete", None)
        if force_delete is not None:
            what: str | None = await force_delete(cid)
            return what
        return cid if await provider.delete(cid) else None

    deleted: str | None
    if force:
        deleted = _run_async(state, forced)
    else:
        deleted = _run(state, lambda p: cid if p.delete(cid) else None)
    print(f"deleted {deleted}" if deleted else f"{cid} was absent; nothing to delete")


def register(app: typer.Typer) -> None:
    """Add store, get, list and delete to ``app``."""
    app.command()(store)
    app.command()(get)
    app.command("list")(list_)
    app.command()(delete)
