"""A Secret volume's files as a typed credential: the foreign-Secret mapping (no I/O)."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Final

from ..domain import (
    Credential,
    CredentialId,
    CredentialKind,
    InvalidCredential,
    InvalidCredentialId,
    NotFound,
)
from ..kubernetes.model.foreign import KIND_KEY, foreign_credential
from ..kubernetes.model.foreign_kinds import fitting_kind, wording
from ..kubernetes.model.hand_edits import HandEdit, pods_view, report
from ..kubernetes.model.mapping import CREDENTIAL_KEY
from ..kubernetes.model.objects import SecretObject
from ._layout import Snapshot

PATH_VARIABLE: Final = "CREDENTIALS_PATH"
DEFAULT_PATH: Final = "/etc/nebula/credentials"


def default_path() -> str:
    """``$CREDENTIALS_PATH``, else ``/etc/nebula/credentials`` (read when called)."""
    return os.environ.get(PATH_VARIABLE) or DEFAULT_PATH


def _default_id(path: str) -> str:
    """The directory's name, as a Secret's name is the id of a foreign Secret."""
    name = os.path.basename(os.path.normpath(path))
    try:
        return CredentialId(name)
    except InvalidCredentialId:
        return "mounted"


def decode(
    found: Snapshot,
    path: str,
    *,
    kind: CredentialKind | str | None = None,
    credential_id: str | None = None,
    field_names: Mapping[str, str] | None = None,
    ignore_unknown: bool = False,
) -> Credential:
    """The credential in a snapshot, through the foreign-Secret mapping; per-field files
    that disagree with ``credential.json`` win and are reported (``model.hand_edits``)."""
    place = f"mounted Secret at {path}"
    if not found.files:
        raise NotFound(f"no credential at {path}: the directory holds no keys")
    if kind is None and CREDENTIAL_KEY not in found.files and KIND_KEY not in found.files:
        fits = fitting_kind(found.files, "Opaque")
        raise InvalidCredential(
            f"{place} has no {CREDENTIAL_KEY} and no {KIND_KEY} key, so its kind is unknown; "
            f"pass it ({wording().pass_kind(fits)}, the kind its keys fit)"
        )
    secret = SecretObject(
        name=_default_id(path),
        data={k: base64.b64encode(v).decode("ascii") for k, v in found.files.items()},
    )
    fix = "fix the Secret this volume mounts"
    credential = foreign_credential(
        secret,
        "",
        prefix=None,
        kind=kind,
        credential_id=credential_id,
        field_names=field_names,
        ignore_unknown=ignore_unknown,
        place=place,
        fix=fix,
    )
    # A key edited by hand wins over credential.json: it is what the pod reads directly.
    seen, edited = pods_view(secret, credential, place, fix)
    if edited:
        revision = found.data_dir or repr(found.token)
        report(HandEdit(credential.id, place, edited, "volume", revision=revision))
    return seen
