"""A credential from environment variables set with ``secretKeyRef``.

The seed's Deployment sets ``OAUTH2_ACCESS_TOKEN`` and ``OAUTH2_REFRESH_TOKEN``; with
prefix ``OAUTH2_`` and kind ``oauth2`` they become the fields ``access_token`` and
``refresh_token``. Variables map onto fields as a foreign Secret's keys do
(``kubernetes.foreign``): ``<PREFIX>CREDENTIAL_TYPE`` may give the kind and
``<PREFIX>CREDENTIAL_ID`` the id.

Prefer a mounted Secret (``readers.mounted``): environment variables are fixed when
the process starts, so a rotated Secret never reaches a running pod, and they leak
more easily than files — ``/proc/<pid>/environ``, crash dumps, child processes,
``kubectl describe`` of a pod that sets them by value.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from ..domain import (
    Credential,
    CredentialKind,
    InvalidCredential,
    NotFound,
    fields_of,
    parse_kind,
)
from ..kubernetes.model.foreign import ID_KEY, KIND_KEY, foreign_credential
from ..kubernetes.model.foreign_kinds import fitting_kind, wording
from ..kubernetes.model.objects import SecretObject
from ._events import logger


def _name(prefix: str) -> str:
    stem = prefix.rstrip("_").lower().replace("_", "-")
    return stem or "env"


def credential_from_env(
    prefix: str,
    kind: CredentialKind | str | None = None,
    *,
    credential_id: str | None = None,
    environ: Mapping[str, str] | None = None,
    ignore_unknown: bool = False,
) -> Credential:
    """The credential in the variables named ``<prefix><FIELD>`` (field names upper-cased).

    The id is ``credential_id``, else ``<PREFIX>CREDENTIAL_ID``, else the prefix
    (``OAUTH2_`` -> ``oauth2``). Raises NotFound when no variable has the prefix and
    InvalidCredential naming the variable (never its value) when one is missing or wrong.
    Read once: the environment of a running process does not change with the Secret.
    """
    env = os.environ if environ is None else environ
    found = {name: value for name, value in env.items() if name.startswith(prefix) and name}
    place = f"environment variables {prefix}*"
    if not found or set(found) == {prefix}:
        raise NotFound(
            f"no environment variable starts with {prefix!r}; set them with "
            "env[].valueFrom.secretKeyRef, or use the mounted Secret (CREDENTIALS_PATH)"
        )
    # Sorted as a Secret's keys are, whatever order the environment has.
    keys = {name[len(prefix) :].lower(): name for name in sorted(found) if name != prefix}
    if kind is None and KIND_KEY not in keys:
        fits = wording().pass_kind(fitting_kind(keys, "Opaque"))
        raise InvalidCredential(
            f"{place}: the kind is unknown; pass it ({fits}, the kind its variables fit) "
            f"or set {prefix}{KIND_KEY.upper()}"
        )
    if kind is not None:
        parsed = parse_kind(kind, where=f"{place}: ")
        for spec in fields_of(parsed):
            if spec.required and not found.get(f"{prefix}{spec.name.upper()}"):
                raise InvalidCredential(
                    f"environment variable {prefix}{spec.name.upper()} is not set or empty; "
                    f"{parsed.value} credentials need {spec.name!r}"
                )
    data = {
        key: base64.b64encode(found[name].encode("utf-8", "surrogateescape")).decode("ascii")
        for key, name in keys.items()
    }
    credential = foreign_credential(
        SecretObject(name=_name(prefix), data=data),
        "",
        prefix=None,
        kind=kind,
        credential_id=credential_id,
        ignore_unknown=ignore_unknown,
        place=place,
        fix=f"fix the variables {prefix}* of the container (env[].valueFrom.secretKeyRef)",
    )
    logger.debug(
        "read credential %s (%s) from environment variables %s",
        credential.id,
        credential.kind.value,
        sorted(name for name in found if name[len(prefix) :].lower() not in (ID_KEY,)),
        extra={"operation": "read-env", "prefix": prefix},
    )
    return credential
