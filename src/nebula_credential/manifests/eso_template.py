"""The ``target.template`` that makes External Secrets Operator write our own Secret.

Without a template ESO writes the remote values as flat keys, which ``get`` can only
read when told the kind and ``list`` never finds. With it, ESO writes what the provider
writes: our labels (managed-by, prefix, kind, scope), the id, scope and version
annotations, and a ``credential.json`` built from the remote values; ``mergePolicy:
Merge`` keeps the remote values as keys too, one per field, for ``secretKeyRef``.

ESO renders each template value with Go's ``text/template`` and sprig (engine v2), the
remote values being a map of key to text. Only three actions are used, so what ESO
writes is easy to predict (tests render them the same way):

- ``{{ toJson . }}``: every remote value, as a JSON object (``--data-from``, where the
  keys are only known once synced);
- ``{{ index . "KEY" | toJson }}``: one value as a JSON string (``--data``);
- ``{{ index . "KEY" | atoi }}``: one integer field (a database ``port``); text that is
  no number becomes 0, as sprig's ``atoi`` has it.

Labels and annotations hold no action: ids, prefixes and kinds never contain ``{{``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ..domain import CredentialId, CredentialKind, CredentialScope, fields_of, parse_kind
from ..domain.credential import SCHEMA_VERSION
from ..domain.validation import RESERVED_FIELD_NAMES
from ..kubernetes.model.mapping import ANN_ID, ANN_SCOPE, ANN_VERSION, CREDENTIAL_KEY
from ..kubernetes.model.naming import KIND_LABEL, MANAGED_BY, MANAGER, PREFIX_LABEL, scope_labels
from ._checks import ManifestError

# The version the template writes: ESO refreshes values, never the version.
TEMPLATE_VERSION: Final = 1
ALL_VALUES: Final = "{{ toJson . }}"


def _one_value(key: str, integer: bool) -> str:
    return f'{{{{ index . "{key}" | {"atoi" if integer else "toJson"} }}}}'


def _fields(kind: CredentialKind, keys: Sequence[str], every_value: bool) -> str:
    """The template of the ``fields`` object: the remote keys are the field names."""
    clash = sorted(set(keys) & RESERVED_FIELD_NAMES)
    if clash:
        raise ManifestError(f"secret key {clash[0]!r} is the provider's own; use another")
    specs = {spec.name: spec for spec in fields_of(kind)}
    integers = {name for name, spec in specs.items() if spec.type is int}
    if every_value:
        if integers and kind is not CredentialKind.GENERIC:
            raise ManifestError(
                f"a {kind.value} credential has integer fields ({', '.join(sorted(integers))}), "
                "which --data-from would write as text: name each key with --data instead"
            )
        return ALL_VALUES
    if kind is not CredentialKind.GENERIC:
        unknown = sorted(set(keys) - set(specs))
        if unknown:
            raise ManifestError(
                f"secret key {unknown[0]!r} is not a {kind.value} field; use one of: "
                + ", ".join(specs)
            )
        missing = [name for name, spec in specs.items() if spec.required and name not in keys]
        if missing:
            raise ManifestError(
                f"a {kind.value} credential needs the field {missing[0]!r}: add "
                f"--data {missing[0]}=REMOTE_KEY[#PROPERTY]"
            )
    parts = [f'"{key}":{_one_value(key, key in integers)}' for key in dict.fromkeys(keys)]
    return "{" + ",".join(parts) + "}"


def credential_template(
    credential_id: str,
    kind: CredentialKind | str,
    *,
    prefix: str,
    keys: Sequence[str],
    every_value: bool,
) -> dict[str, Any]:
    """``spec.target.template`` for ``credential_id``'s Secret.

    ``keys`` are the ``--data`` secret keys; ``every_value`` is set when ``--data-from``
    brings keys known only once synced.
    """
    cid = CredentialId(credential_id)
    parsed = parse_kind(kind)
    scope = CredentialScope("global")
    fields = _fields(parsed, keys, every_value)
    # Keys in the order Credential.to_json writes them; ids and kinds need no escaping.
    payload = (
        f'{{"schema_version":{SCHEMA_VERSION},"id":"{cid}","kind":"{parsed.value}",'
        f'"scope":"{scope}","fields":{fields},"version":{TEMPLATE_VERSION}}}'
    )
    labels = {MANAGED_BY: MANAGER, PREFIX_LABEL: prefix, KIND_LABEL: parsed.value}
    labels.update(scope_labels(scope))
    return {
        "engineVersion": "v2",
        "type": "Opaque",
        "mergePolicy": "Merge",
        "metadata": {
            "labels": labels,
            "annotations": {
                ANN_ID: str(cid),
                ANN_SCOPE: str(scope),
                ANN_VERSION: str(TEMPLATE_VERSION),
            },
        },
        "data": {CREDENTIAL_KEY: payload},
    }
