"""One kube-apiserver audit event (``audit.k8s.io/v1`` ``Event``), read from a JSON line.

Only what an access review needs is kept: who, which verb, on which object, when, and
how the server answered. Audit events at ``Metadata`` level hold no Secret values; at
``Request``/``RequestResponse`` level they would (the seed's mistake), and those bodies
are dropped here, never kept or printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

READ_VERBS: Final = frozenset({"get", "list", "watch"})
UNAUTHENTICATED: Final = "(unauthenticated)"  # a 401 is logged without a user name
_FINAL_STAGES: Final = frozenset({"ResponseComplete", "Panic"})


class Malformed(ValueError):
    """A line that is not an audit event; the reason never quotes the line."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    audit_id: str
    stage: str
    time: datetime
    verb: str
    user: str
    groups: tuple[str, ...]
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int | None
    user_agent: str
    source_ips: tuple[str, ...]

    @property
    def is_read(self) -> bool:
        return self.verb in READ_VERBS

    @property
    def denied(self) -> bool:
        """Refused for the identity (401/403); a 404 is an attempt that found nothing."""
        return self.code in (401, 403)

    @property
    def succeeded(self) -> bool:
        return self.code is None or self.code < 400

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "user": self.user,
            "verb": self.verb,
            "namespace": self.namespace,
            "name": self.name,
            "resource": self.resource + (f"/{self.subresource}" if self.subresource else ""),
            "code": self.code,
            "user_agent": self.user_agent,
            "source_ips": list(self.source_ips),
            "audit_id": self.audit_id,
        }


def _time(event: dict[str, Any]) -> datetime:
    text = event.get("stageTimestamp") or event.get("requestReceivedTimestamp")
    if not isinstance(text, str):
        raise Malformed("no timestamp")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed("unreadable timestamp") from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_line(line: bytes | str) -> AuditEvent:
    """The event on one JSON line; :class:`Malformed` when it is not one."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise Malformed("not JSON") from None
    if not isinstance(event, dict):
        raise Malformed("not a JSON object")
    if event.get("kind") != "Event" or not _str(event.get("apiVersion")).startswith(
        "audit.k8s.io/"
    ):
        raise Malformed("not an audit.k8s.io Event")
    user = event.get("user")
    verb = event.get("verb")
    if not isinstance(user, dict) or not isinstance(verb, str):
        raise Malformed("no user or verb")
    ref = event.get("objectRef")
    ref = ref if isinstance(ref, dict) else {}
    status = event.get("responseStatus")
    code = status.get("code") if isinstance(status, dict) else None
    groups = user.get("groups")
    ips = event.get("sourceIPs")
    return AuditEvent(
        audit_id=_str(event.get("auditID")),
        stage=_str(event.get("stage")),
        time=_time(event),
        verb=verb,
        user=_str(user.get("username")) or UNAUTHENTICATED,
        groups=tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
        resource=_str(ref.get("resource")),
        subresource=_str(ref.get("subresource")),
        namespace=_str(ref.get("namespace")),
        name=_str(ref.get("name")),
        code=code if isinstance(code, int) else None,
        user_agent=_str(event.get("userAgent")),
        source_ips=tuple(i for i in ips if isinstance(i, str)) if isinstance(ips, list) else (),
    )


class Deduplicator:
    """Counts each request once although the server logs it at several stages.

    ``RequestReceived`` is skipped; a watch is counted when its response starts and its
    later ``ResponseComplete`` is skipped; every other request is counted at its final
    stage. Only the ids of watches still open are remembered, so memory stays flat.
    """

    def __init__(self) -> None:
        self._open: set[str] = set()

    def first_sighting(self, event: AuditEvent) -> bool:
        if event.stage == "ResponseStarted":
            if event.audit_id:
                self._open.add(event.audit_id)
            return True
        if event.stage in _FINAL_STAGES:
            if event.audit_id in self._open:
                self._open.discard(event.audit_id)
                return False
            return True
        return event.stage == ""  # an event without stage: count it as is
