"""The Secret as the mapping and the provider see it: plain values, no HTTP stack."""

from __future__ import annotations

from datetime import datetime

import msgspec


# msgspec structs: a dataclass costs about a millisecond to define at start-up.
class SecretObject(msgspec.Struct):
    """A Secret as the provider sees it; ``data`` holds base64 values as on the wire."""

    name: str
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    data: dict[str, str] = msgspec.field(default_factory=dict)
    type: str = "Opaque"
    resource_version: str | None = None
    uid: str | None = None
    created_at: datetime | None = None

    def __repr__(self) -> str:  # data values are secrets, even base64-encoded
        return (
            f"SecretObject(name={self.name!r}, keys={sorted(self.data)!r}, "
            f"resource_version={self.resource_version!r})"
        )
