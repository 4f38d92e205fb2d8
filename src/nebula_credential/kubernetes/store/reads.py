"""Reading credentials from Secrets: by id (new or legacy name), by Secret name, by list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing

from ...domain import CorruptData, Credential, CredentialId, CredentialKind
from ...providers import ListFilter
from ..api.transport import SecretTransport
from ..model.api_names import dns_subdomain
from ..model.foreign import foreign_credential
from ..model.hand_edits import HandEdit, apply_edits, edited_keys, report
from ..model.mapping import ANN_ID, decode, is_managed, list_labels, where
from ..model.naming import candidate_names
from ..model.objects import SecretObject
from ..model.ownership import Listed, belongs, classify, suspect_error


async def locate(transport: SecretTransport, prefix: str, cid: CredentialId) -> SecretObject | None:
    """``cid``'s Secret under its name or legacy name; one of another id is absent.

    A Secret we did not write (no id annotation) is read as a foreign credential.
    """
    for name in candidate_names(prefix, cid):
        found = await transport.get(name)
        if found is None:
            continue
        if ANN_ID not in found.annotations or belongs(found, prefix, cid):
            return found
    return None


def as_pods_read(found: SecretObject, namespace: str, credential: Credential) -> Credential:
    """``credential`` (from ``found``'s ``credential.json``) with the values of per-field
    keys edited by hand, which is what pods read; a disagreement is reported."""
    changed = edited_keys(found, credential)
    if not changed:  # the keys are as written: no message to make
        return credential
    place = where(found, namespace)
    fix = f"fix the key (kubectl edit secret {found.name} -n {namespace}) or store it again"
    seen, edited = apply_edits(credential, changed, place, fix)
    revision = found.resource_version
    report(HandEdit(credential.id, place, edited, "secret", namespace, revision))
    return seen


def read_found(
    found: SecretObject, namespace: str, prefix: str, cid: CredentialId | None
) -> Credential:
    """The credential in ``found``: ours from ``credential.json`` (with per-field keys
    edited by hand, see ``model.hand_edits``), else its flat keys."""
    if is_managed(found) and ANN_ID in found.annotations:
        credential = decode(found, namespace, cid)
        if cid is not None and credential.id != cid:
            raise CorruptData(
                f"{where(found, namespace)} holds credential {credential.id!r}, not "
                f"{cid!r}; it was edited by hand"
            )
        return as_pods_read(found, namespace, credential)
    credential = foreign_credential(found, namespace, prefix=prefix, credential_id=cid)
    return as_pods_read(found, namespace, credential)


async def read_secret(
    transport: SecretTransport,
    name: str,
    prefix: str,
    *,
    kind: CredentialKind | str | None,
    field_names: Mapping[str, str] | None,
    ignore_unknown: bool,
) -> Credential | None:
    """Any Secret by name as a typed credential, or None when absent (see
    ``KubernetesSecretsProvider.read_secret``)."""
    dns_subdomain(name, "Secret name")
    found = await transport.get(name)
    if found is None:
        return None
    namespace = transport.namespace
    if kind is None and field_names is None and not ignore_unknown:
        return read_found(found, namespace, prefix, None)
    credential = foreign_credential(
        found,
        namespace,
        prefix=prefix,
        kind=kind,
        field_names=field_names,
        ignore_unknown=ignore_unknown,
    )
    return as_pods_read(found, namespace, credential)


async def listed_credentials(
    transport: SecretTransport,
    prefix: str,
    namespace: str,
    selection: ListFilter,
    page_size: int,
) -> AsyncIterator[Credential]:
    """The credentials of ``prefix`` matching ``selection``, page by page; a Secret that
    does not decode goes to ``selection.skip`` (which raises unless asked to skip)."""
    labels = list_labels(selection)
    # aclosing: a caller that stops early closes the page stream now, not at GC time.
    async with aclosing(transport.list_pages(labels, page_size)) as pages:
        async for page in pages:
            for found in page:
                status = classify(found, prefix)
                if status is Listed.OTHER:
                    continue  # another prefix's world
                failure: CorruptData | None = None
                if status is Listed.SUSPECT:
                    failure = suspect_error(found, prefix, namespace)
                else:
                    try:
                        credential = as_pods_read(found, namespace, decode(found, namespace))
                    except CorruptData as exc:
                        failure = exc
                if failure is not None:
                    claimed = found.annotations.get(ANN_ID)
                    failure.credential_id = failure.credential_id or claimed
                    selection.skip(failure)
                    continue
                # Label values may be hashes; the credential itself has the last word.
                if selection.matches(credential):
                    yield credential
