"""Hand edits: per-field keys that disagree with ``credential.json``.

A Secret we write holds the whole credential in ``credential.json`` and each secret field
again under its own key, for pods (``secretKeyRef``, mounted files). A person fixing a
token by hand (``kubectl patch`` or ``edit`` of ``access_token``) changes only that key:
pods then use the new value while ``credential.json`` still holds the old one. The rule:
reads return what pods see -- a per-field key's value wins over ``credential.json`` for
the fields that have a key -- and say so (:class:`HandEdit`). The version stays the one
noted in the Secret (a hand edit is no write of ours), and the next write of the
credential sets every key again, so they agree from then on.

:func:`pods_view` is pure; :func:`report` tells the user once per edited revision (a
warning log record), counts every read that found one (the ``observe`` hook behind
the ``nebula_hand_edits_total`` metric) and calls the listeners the CLI registers to
print one line. None of them carries a value: field names, ids and places only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import msgspec

from ... import observe
from ..._log import get_logger
from ...domain import (
    CorruptData,
    Credential,
    CredentialKind,
    ValidationError,
    field_spec,
    value_from_text,
)
from ...domain.kinds import KIND_FIELDS
from .mapping import CREDENTIAL_KEY, from_b64
from .objects import SecretObject

HandEditListener = Callable[["HandEdit"], None]

_listeners: list[HandEditListener] = []
_logged: OrderedDict[tuple[str, str | None, tuple[str, ...]], None] = OrderedDict()
_LOGGED_MAX: Final = 1024
_lock = threading.Lock()


class HandEdit(msgspec.Struct, frozen=True):  # a dataclass takes a millisecond to define
    """Per-field keys of one Secret (or Secret volume) that disagree with its
    ``credential.json``; the read returned the keys' values.

    ``source`` is ``"secret"`` (read through the API) or ``"volume"`` (a mounted Secret);
    ``namespace`` is empty for a volume; ``revision`` is the Secret's resourceVersion or
    the volume's data directory, so one edit is logged once however often it is read.
    """

    credential_id: str
    place: str
    fields: tuple[str, ...]
    source: str
    namespace: str = ""
    revision: str | None = None

    def message(self) -> str:
        """One line for a person: which keys, where, what the read did (no value)."""
        one = len(self.fields) == 1
        keys = ("key " if one else "keys ") + ", ".join(self.fields)
        return (
            f"credential {self.credential_id!r}: {self.place} {keys} "
            f"{'differs' if one else 'differ'} from its {CREDENTIAL_KEY} (edited by hand?); "
            f"using {'its' if one else 'their'} value, which pods read; the next store of "
            "the credential writes both again"
        )


_KEYED: Final = {
    kind: tuple(spec.name for spec in specs if spec.secret) for kind, specs in KIND_FIELDS.items()
}


def _keyed_fields(credential: Credential) -> tuple[str, ...]:
    """The fields that have a key of their own: the kind's secret fields (the declared
    ones, so a key added by hand counts too), a generic credential's secret fields."""
    if credential.kind is CredentialKind.GENERIC:
        return credential.secret_field_names
    return _KEYED[credential.kind]


def edited_keys(secret: SecretObject, credential: Credential) -> dict[str, str | None]:
    """The per-field keys of ``secret`` whose value differs from ``credential`` (decoded
    from its ``credential.json``): their text, or None when a key is no UTF-8 text in
    base64. Empty (the usual answer) when the keys are as written."""
    data = secret.data
    changed: dict[str, str | None] = {}
    if CREDENTIAL_KEY not in data:
        return changed
    fields = credential.fields
    for name in _keyed_fields(credential):
        encoded = data.get(name)
        if encoded is None:
            continue
        # The error is raised by the caller: the decoding error can hold the value.
        try:
            raw = from_b64(encoded)
            if name in fields and raw == str(credential.reveal(name)).encode("utf-8"):
                continue
            changed[name] = raw.decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError
            changed[name] = None
    return changed


def pods_view(
    secret: SecretObject, credential: Credential, place: str, fix: str
) -> tuple[Credential, tuple[str, ...]]:
    """``credential`` (decoded from ``secret``'s ``credential.json``) with the values pods
    read from the per-field keys, and the names of the fields those keys changed.

    A key that is no valid value of its field (not base64, not UTF-8 text, not an
    integer where one is due) is CorruptData: pods read something no credential holds.
    """
    changed = edited_keys(secret, credential)
    return (credential, ()) if not changed else apply_edits(credential, changed, place, fix)


def apply_edits(
    credential: Credential, changed: dict[str, str | None], place: str, fix: str
) -> tuple[Credential, tuple[str, ...]]:
    """``credential`` with the :func:`edited_keys` it was found with, and their names;
    CorruptData when one of them is no valid value of its field."""
    texts: dict[str, str] = {}
    for name, text in changed.items():
        if text is None:
            raise CorruptData(
                f"{place}: key {name!r} is not UTF-8 text, so pods read a value no "
                f"credential field can hold; {fix}",
                credential_id=credential.id,
            )
        texts[name] = text
    try:
        edited = credential.evolve(fields=_typed(credential.kind, texts))
    except ValidationError as exc:
        detail = exc.message
    else:
        return edited, tuple(sorted(texts))
    raise CorruptData(
        f"{place}: keys {', '.join(sorted(texts))} do not fit the credential in "
        f"{CREDENTIAL_KEY} ({detail}); {fix}",
        credential_id=credential.id,
    )


def _typed(kind: CredentialKind, texts: dict[str, str]) -> dict[str, str | int]:
    typed: dict[str, str | int] = {}
    for name, text in texts.items():
        spec = field_spec(kind, name)
        typed[name] = text if spec is None else value_from_text(spec, text, where=f"{name}: ")
    return typed


def add_hand_edit_listener(listener: HandEditListener) -> Callable[[], None]:
    """Call ``listener`` with every :class:`HandEdit` a read finds; returns its remover."""
    _listeners.append(listener)

    def remove() -> None:
        if listener in _listeners:
            _listeners.remove(listener)

    return remove


def report(edit: HandEdit) -> None:
    """Tell the user about ``edit``: count it, log it once per revision, call listeners."""
    observe.hand_edit(edit.source, edit.namespace)
    key = (edit.place, edit.revision, edit.fields)
    with _lock:
        first = key not in _logged
        if first:
            _logged[key] = None
            if len(_logged) > _LOGGED_MAX:
                _logged.popitem(last=False)
    if first:
        get_logger(__name__).warning(
            "%s",
            edit.message(),
            extra={"operation": "read", "hand_edit": edit},
        )
    for listener in tuple(_listeners):
        try:
            listener(edit)
        except Exception as exc:  # a listener must not break reading
            get_logger(__name__).warning(
                "hand-edit listener %r raised %s", listener, type(exc).__name__
            )
