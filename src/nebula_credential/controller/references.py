"""What an opted-in workload uses: the credentials it names and the Secret keys its pods see.

No I/O. A workload opts in with the annotation ``nebula-credential.io/reload``: a
comma-separated list of credential ids, or ``auto`` for every credential whose Secret its
pod template references (``secretKeyRef``, ``envFrom.secretRef``, a ``secret`` volume).
For each referenced Secret the keys the pods see are noted: one key for a
``secretKeyRef``, the listed ``items`` of a volume, else every key (:data:`ALL_KEYS`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from ..domain import CredentialError, CredentialId

RELOAD: Final = "nebula-credential.io/reload"
DIGEST: Final = "nebula-credential.io/credentials-digest"
AUTO: Final = "auto"
ALL_KEYS: Final = "*"
MAX_IDS: Final = 64


class BadAnnotation(ValueError):
    """The reload annotation says something the controller cannot act on."""


@dataclass(slots=True)
class Wanted:
    """One workload's wish: ``ids`` named (empty with ``auto``) and the keys its pods
    see per referenced Secret name."""

    auto: bool
    ids: tuple[str, ...]
    keys: dict[str, set[str]] = field(default_factory=dict)


def parse_reload(value: str) -> tuple[bool, tuple[str, ...]]:
    """``(auto, ids)`` from the annotation's value; BadAnnotation when it is not usable."""
    text = value.strip()
    if text == AUTO:
        return True, ()
    entries = [part.strip() for part in text.split(",")]
    if not text or any(not part for part in entries):
        raise BadAnnotation(
            f'{RELOAD} must be "auto" or a comma-separated list of credential ids '
            "without empty entries"
        )
    parts = list(dict.fromkeys(entries))  # a repeated id is one credential
    if len(parts) > MAX_IDS:
        raise BadAnnotation(f"{RELOAD} names {len(parts)} credentials; at most {MAX_IDS}")
    for part in parts:
        try:
            CredentialId(part)
        except CredentialError as exc:  # the domain's rules, not a second copy of them
            raise BadAnnotation(
                f"{RELOAD} holds an entry that is not a credential id: {exc}"
            ) from None
    return False, tuple(parts)


def wanted(workload: dict[str, Any]) -> Wanted | None:
    """What ``workload`` opted into, None when it did not; BadAnnotation when malformed."""
    notes = (workload.get("metadata") or {}).get("annotations") or {}
    value = notes.get(RELOAD)
    if not isinstance(value, str):
        return None
    auto, ids = parse_reload(value)
    keys: dict[str, set[str]] = {}
    for name, key in _references(pod_spec(workload)):
        keys.setdefault(name, set()).add(key)
    return Wanted(auto, ids, keys)


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    return spec if isinstance(spec, dict) else {}


def template_digest(workload: dict[str, Any]) -> str | None:
    """The digest annotation the pod template carries now."""
    template = (workload.get("spec") or {}).get("template") or {}
    notes = (template.get("metadata") or {}).get("annotations") or {}
    found = notes.get(DIGEST)
    return found if isinstance(found, str) else None


def _references(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(Secret name, key or ALL_KEYS) for every Secret the pod spec uses."""
    containers = [
        *(spec.get("initContainers") or ()),
        *(spec.get("containers") or ()),
        *(spec.get("ephemeralContainers") or ()),
    ]
    for container in containers:
        if not isinstance(container, dict):
            continue
        for env in container.get("env") or ():
            ref = ((env or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") and ref.get("key"):
                yield str(ref["name"]), str(ref["key"])
        for source in container.get("envFrom") or ():
            ref = (source or {}).get("secretRef") or {}
            if ref.get("name"):
                yield str(ref["name"]), ALL_KEYS
    for volume in spec.get("volumes") or ():
        yield from _volume(volume or {})


def _volume(volume: dict[str, Any]) -> Iterator[tuple[str, str]]:
    secret = volume.get("secret") or {}
    if secret.get("secretName"):
        yield from _items(str(secret["secretName"]), secret.get("items"))
    for source in (volume.get("projected") or {}).get("sources") or ():
        projected = (source or {}).get("secret") or {}
        if projected.get("name"):
            yield from _items(str(projected["name"]), projected.get("items"))


def _items(name: str, items: Any) -> Iterator[tuple[str, str]]:
    keys = [str(item["key"]) for item in items or () if isinstance(item, dict) and "key" in item]
    if not keys:
        yield name, ALL_KEYS
    for key in keys:
        yield name, key
