"""Pending grants: tokens the endpoint issued that are not in the store yet.

Once a token endpoint answers, the refresh token that was sent is spent: the new
tokens are the only way back in. Rotation files them here *before* it writes them to
the store, and removes them once they landed, so a store that stays locked, an API
server that restarts, or a process that is killed between the two cannot lose them.
``rotate ID --resume`` (and any later ``rotate ID``) lands a pending grant without
calling the endpoint again.

:class:`GrantJournal` is what rotation needs; ``local.journal.FileJournal`` keeps each
grant AES-256-GCM-sealed in a file of its own under the data directory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..domain import CorruptData, CredentialId, format_timestamp, parse_timestamp
from .token_endpoint import TokenGrant


def digest(token: str) -> str:
    """What a journal keeps of the spent refresh token: enough to recognise it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, repr=False)
class PendingGrant:
    """Tokens issued for ``credential_id`` at ``location``, waiting to be stored.

    ``spent`` is the SHA-256 of the refresh token that bought them; ``holder`` the
    rotation lease's holder, so the same rotation's lease can be taken again.
    ``abandoned``: the rotation that filed it gave up (it failed and said so). Until
    then, and until its lease ``term`` has passed, it belongs to a rotation that may
    still be writing it: nobody else touches it.
    """

    location: str
    credential_id: CredentialId
    holder: str
    spent: str
    received_at: datetime
    grant: TokenGrant
    term: float = 0.0
    abandoned: bool = False

    def in_flight(self, now: datetime) -> bool:
        """Whether the rotation that filed it may still be writing it."""
        return not self.abandoned and now < self.received_at + timedelta(seconds=self.term)

    def __repr__(self) -> str:
        return (
            f"PendingGrant(credential_id={self.credential_id!r}, location={self.location!r}, "
            f"received_at={format_timestamp(self.received_at)})"
        )

    def to_bytes(self) -> bytes:
        """The plaintext the journal seals (holds tokens: never log it)."""
        grant = {f.name: getattr(self.grant, f.name) for f in fields(TokenGrant)}
        record = {
            "v": 1,
            "location": self.location,
            "credential_id": str(self.credential_id),
            "holder": self.holder,
            "spent": self.spent,
            "received_at": format_timestamp(self.received_at),
            "term": self.term,
            "abandoned": self.abandoned,
            "grant": grant,
        }
        return json.dumps(record, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, plain: bytes, where: str) -> PendingGrant:
        try:
            record: dict[str, Any] = json.loads(plain)
            names = {f.name for f in fields(TokenGrant)}
            grant = TokenGrant(**{k: v for k, v in record["grant"].items() if k in names})
            if record.get("v") != 1 or not isinstance(grant.access_token, str):
                raise ValueError("unknown format")
            return cls(
                location=str(record["location"]),
                credential_id=CredentialId(record["credential_id"]),
                holder=str(record["holder"]),
                spent=str(record["spent"]),
                received_at=parse_timestamp(record["received_at"], "received_at"),
                grant=grant,
                term=float(record.get("term", 0.0)),
                abandoned=record.get("abandoned") is True,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CorruptData(f"the pending grant {where} does not decode") from None


class GrantJournal(Protocol):
    """Where pending grants wait, as bytes to keep secret (each holds tokens), one per
    (location, credential id). Methods block briefly: a small local file."""

    def save(self, location: str, credential_id: str, plain: bytes) -> str:
        """Keep ``plain`` durably, replacing what was kept for that credential; says where."""
        ...

    def load(self, location: str, credential_id: str) -> bytes | None:
        """What was kept for that credential, or None."""
        ...

    def remove(self, location: str, credential_id: str) -> None:
        """Forget it (after it landed); nothing happens when there is none."""
        ...

    def where(self, location: str, credential_id: str) -> str:
        """Where that credential's pending grant is (or would be) kept, for messages."""
        ...


def save(journal: GrantJournal, entry: PendingGrant) -> str:
    return journal.save(entry.location, entry.credential_id, entry.to_bytes())


def load(journal: GrantJournal, location: str, credential_id: str) -> PendingGrant | None:
    plain = journal.load(location, credential_id)
    if plain is None:
        return None
    where = journal.where(location, credential_id)
    entry = PendingGrant.from_bytes(plain, where)
    if entry.location != location or entry.credential_id != credential_id:
        raise CorruptData(f"the pending grant {where} belongs to another credential")
    return entry
