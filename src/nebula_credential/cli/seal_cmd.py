"""``seal`` and ``unseal``: SealedSecrets for Git, and offline recovery with the key.

``seal ID`` reads the credential through the configured provider and seals the Secret
nebula-credential would write for it; ``seal --from-secret FILE|-`` seals a plain Secret
manifest. The certificate comes from ``--cert FILE|URL`` or from the controller through
the API server's service proxy, as kubeseal fetches it.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .inputs import UsageError, read_file, read_file_bytes, read_limited
from .output import OutputFormat

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from ..seal import Scope

DEFAULT_CONTROLLER = "sealed-secrets-controller"
DEFAULT_CONTROLLER_NAMESPACE = "kube-system"
CERT_PATH = "/v1/cert.pem"
DEFAULT_PREFIX = "nebula-credentials"  # the Kubernetes provider's default


class ManifestFormat(StrEnum):
    """What a manifest prints as: there is no table form of a Secret."""

    YAML = "yaml"
    JSON = "json"


OutputOverride = Annotated[
    ManifestFormat | None, typer.Option("--output", "-o", help="yaml (default) or json")
]


def _root(ctx: typer.Context) -> Any:
    return ctx.find_root().obj


def _fmt(ctx: typer.Context, output: ManifestFormat | None) -> OutputFormat:
    if output is not None:
        return OutputFormat(output.value)
    chosen = getattr(_root(ctx), "output", OutputFormat.TABLE)
    return OutputFormat.JSON if chosen is OutputFormat.JSON else OutputFormat.YAML


def _emit(doc: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.JSON:
        import json

        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        import yaml

        yaml.safe_dump(doc, sys.stdout, sort_keys=False, default_flow_style=False)


def _read_source(source: str, what: str) -> str:
    if source == "-":
        return read_limited(sys.stdin, f"{what} on standard input")
    return read_file(source, f"{what} {source}")


def _shown(source: str) -> str:
    return "standard input" if source == "-" else source


def _public_key(
    ctx: typer.Context, cert: str | None, controller: str, controller_ns: str
) -> rsa.RSAPublicKey:
    from ..seal import fetch_url, load_certificate

    if cert is not None:
        from ..seal._sources import is_url

        if is_url(cert):
            return load_certificate(fetch_url(cert), source=cert)
        from ..seal._sources import MAX_CERT_BYTES

        data = read_file_bytes(cert, "certificate", MAX_CERT_BYTES)
        return load_certificate(data, source=cert)
    from ..kubernetes.api.service_proxy import fetch_service_path

    options = _root(ctx).options
    body = asyncio.run(
        fetch_service_path(
            namespace=controller_ns,
            service=controller,
            path=CERT_PATH,
            context=options.context,
            kubeconfig=options.kubeconfig,
        )
    )
    return load_certificate(body, source=f"controller {controller_ns}/{controller}")


def _credential_secret(ctx: typer.Context, credential_id: str) -> dict[str, Any]:
    from ..domain import Credential, CredentialId
    from ..kubernetes.model.naming import secret_name
    from ..seal import credential_secret

    options = _root(ctx).options
    cid = CredentialId(credential_id)

    prefix = options.prefix or DEFAULT_PREFIX

    async def read() -> tuple[Credential, str | None, str]:
        provider = options.build()
        try:
            credential = await provider.get(cid)
        finally:
            await provider.close()
        namespace = options.namespace or getattr(provider, "namespace", None)
        name_of = getattr(provider, "secret_name", None)
        name = name_of(cid) if name_of else secret_name(prefix, cid)
        return credential, namespace, name

    credential, namespace, name = asyncio.run(read())
    if not namespace:
        raise UsageError("sealing a credential of the local store needs --namespace NS")
    return credential_secret(credential, name=name, namespace=namespace, prefix=prefix)


def seal(
    ctx: typer.Context,
    credential_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="A stored credential to seal")
    ] = None,
    from_secret: Annotated[
        str | None, typer.Option(metavar="FILE|-", help="Seal a plain Secret manifest instead")
    ] = None,
    cert: Annotated[
        str | None,
        typer.Option(metavar="FILE|URL", help="Controller certificate (default: fetch it)"),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(
            help="strict, namespace-wide or cluster-wide [default: what the Secret's "
            "sealedsecrets.bitnami.com annotations say, else strict]"
        ),
    ] = None,
    controller_name: Annotated[str, typer.Option()] = DEFAULT_CONTROLLER,
    controller_namespace: Annotated[str, typer.Option()] = DEFAULT_CONTROLLER_NAMESPACE,
    output: OutputOverride = None,
) -> None:
    """Print a SealedSecret (bitnami.com/v1alpha1) that is safe to commit to Git."""
    from ..seal import load_document, seal_secret

    if (credential_id is None) == (from_secret is None):
        raise UsageError("give either a credential ID or --from-secret FILE|-")
    chosen = _scope(scope)
    if from_secret is not None:
        text = _read_source(from_secret, "Secret manifest")
        secret = load_document(text, kind="Secret", source=_shown(from_secret))
    else:
        assert credential_id is not None
        secret = _credential_secret(ctx, credential_id)
    key = _public_key(ctx, cert, controller_name, controller_namespace)
    namespace = _root(ctx).options.namespace
    _emit(seal_secret(secret, key, scope=chosen, namespace=namespace), _fmt(ctx, output))


def _scope(text: str | None) -> Scope | None:
    from ..seal import Scope

    if text is None:
        return None
    try:
        return Scope(text)
    except ValueError:
        raise UsageError(
            f"--scope {text[:30]!r} must be strict, namespace-wide or cluster-wide"
        ) from None


def unseal(
    ctx: typer.Context,
    key: Annotated[
        list[Path], typer.Option(help="Controller private key: PEM or exported key Secrets")
    ],
    file: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="A SealedSecret manifest [default: stdin]")
    ] = "-",
    credential: Annotated[
        bool, typer.Option(help="Print the credential it holds instead of the Secret")
    ] = False,
    reveal: Annotated[bool, typer.Option(help="With --credential: show secret values")] = False,
    output: OutputOverride = None,
) -> None:
    """Open a SealedSecret offline (recovery) and print the plain Secret."""
    from ..seal import load_document, load_private_keys
    from ..seal import unseal as open_sealed

    keys = []
    for path in key:
        data = read_file_bytes(path, "key file")
        keys.extend(load_private_keys(data, source=str(path)))
    text = _read_source(file, "SealedSecret")
    sealed = load_document(text, kind="SealedSecret", source=_shown(file))
    secret = open_sealed(sealed, keys)
    if not credential:
        _emit(secret, _fmt(ctx, output))
        return
    from ..kubernetes.model.foreign import foreign_credential
    from ..kubernetes.model.objects import SecretObject
    from .output import print_one

    meta = secret["metadata"]
    obj = SecretObject(
        name=meta["name"],
        labels=meta.get("labels") or {},
        annotations=meta.get("annotations") or {},
        data=secret["data"],
        type=secret["type"],
    )
    place = f"unsealed Secret {meta.get('namespace') or ''}/{meta['name']}"
    found = foreign_credential(obj, meta.get("namespace") or "", prefix=None, place=place)
    # A credential has a table form: the global --output (table by default) applies.
    chosen = OutputFormat(output.value) if output else getattr(_root(ctx), "output", None)
    print_one(found, chosen or OutputFormat.TABLE, sys.stdout, reveal=reveal)


def register(app: typer.Typer) -> None:
    app.command()(seal)
    app.command()(unseal)
