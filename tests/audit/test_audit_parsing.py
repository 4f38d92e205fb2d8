"""Audit log parsing: stages counted once, filters, malformed lines, gzip, flat memory."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from nebula_credential.audit import AuditFilter, analyse, open_lines, parse_line
from nebula_credential.audit._events import Malformed


def event(
    verb: str,
    user: str,
    name: str = "nebula-credentials-db",
    *,
    namespace: str = "prod",
    stage: str = "ResponseComplete",
    audit_id: str = "",
    code: int = 200,
    resource: str = "secrets",
    when: str = "2024-05-01T12:00:00.123456Z",
) -> str:
    return json.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": audit_id or f"{user}-{verb}-{name}-{stage}-{when}",
            "stage": stage,
            "verb": verb,
            "user": {"username": user, "groups": ["system:authenticated"]},
            "sourceIPs": ["127.0.0.1"],
            "objectRef": {"resource": resource, "namespace": namespace, "name": name},
            "responseStatus": {"code": code},
            "requestReceivedTimestamp": when,
            "stageTimestamp": when,
        }
    )


def test_one_event_parsed() -> None:
    parsed = parse_line(event("get", "alice", code=403))
    assert (parsed.verb, parsed.user, parsed.namespace, parsed.name) == (
        "get",
        "alice",
        "prod",
        "nebula-credentials-db",
    )
    assert parsed.denied
    assert parsed.time == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    for bad in ("", "{", "[]", '{"kind": "Event"}', json.dumps({"kind": "Pod"})):
        with pytest.raises(Malformed):
            parse_line(bad)


def test_each_request_counted_once_across_stages() -> None:
    lines = [
        event("get", "a", stage="RequestReceived", audit_id="1"),
        event("get", "a", stage="ResponseComplete", audit_id="1"),
        event("watch", "b", name="", stage="RequestReceived", audit_id="2"),
        event("watch", "b", name="", stage="ResponseStarted", audit_id="2"),
        event("watch", "b", name="", stage="ResponseComplete", audit_id="2"),
        event("list", "c", name="", stage="Panic", audit_id="3", code=500),
    ]
    report = analyse(lines, AuditFilter())
    assert report.events == 3
    assert dict(report.by_verb) == {"get": 1, "watch": 1, "list": 1}


def test_filters() -> None:
    lines = [
        event("get", "alice", when="2024-05-01T10:00:00Z"),
        event("get", "bob", name="nebula-credentials-api", when="2024-05-01T11:00:00Z"),
        event("update", "bob", when="2024-05-01T12:00:00Z"),
        event("list", "carol", name="", when="2024-05-01T13:00:00Z"),
        event("get", "alice", namespace="dev", when="2024-05-01T14:00:00Z"),
        event("get", "alice", resource="configmaps", when="2024-05-01T15:00:00Z"),
        event("get", "dave", name="other-secret", when="2024-05-01T16:00:00Z"),
    ]

    def users(**kwargs: Any) -> list[str]:
        report = analyse(lines, AuditFilter(**kwargs))
        return sorted(f"{p.user}:{v}" for p in report.principals.values() for v in p.verbs)

    assert users(namespaces=frozenset({"dev"})) == ["alice:get"]
    assert users(namespaces=frozenset({"prod"}), verbs=frozenset({"get"})) == [
        "alice:get",
        "bob:get",
        "dave:get",
    ]
    # A list reads every name, so it is shown for a named Secret too.
    assert users(names=frozenset({"nebula-credentials-db"}), namespaces=frozenset({"prod"})) == [
        "alice:get",
        "bob:update",
        "carol:list",
    ]
    assert users(prefixes=("nebula-credentials-",), users=frozenset({"bob"})) == [
        "bob:get",
        "bob:update",
    ]
    since = datetime(2024, 5, 1, 11, 30, tzinfo=UTC)
    until = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
    assert users(since=since, until=until) == ["bob:update", "carol:list"]


def test_allow_list_flags_every_other_reader() -> None:
    lines = [
        event("get", "system:serviceaccount:prod:app"),
        event("get", "system:serviceaccount:prod:worker"),
        event("update", "deployer"),  # writes are not reads
        event("get", "mallory", code=403),
        event("watch", "eve", name=""),
        event("get", "trudy", code=404),
    ]
    report = analyse(lines, AuditFilter(), allow=["system:serviceaccount:prod:*"])
    flagged = {p.user: p for p in report.flagged}
    assert sorted(flagged) == ["eve", "mallory", "trudy"]
    assert (flagged["mallory"].reads, flagged["mallory"].denied_reads) == (0, 1)
    assert (flagged["eve"].reads, flagged["eve"].denied_reads) == (1, 0)
    assert analyse(lines, AuditFilter()).flagged == []  # no allow-list: nothing flagged


def test_malformed_lines_are_counted_not_fatal() -> None:
    lines = [event("get", "a"), "not json", "", '{"kind":"Event"}', event("get", "b"), "{"]
    report = analyse(lines, AuditFilter())
    assert report.events == 2
    assert report.malformed == 3
    assert report.malformed_lines == [2, 4, 6]
    assert report.to_dict()["malformed"] == {"count": 3, "lines": [2, 4, 6]}


def test_gzip_and_truncated_gzip() -> None:
    text = "\n".join(event("get", f"user-{i}") for i in range(50)).encode() + b"\n"
    plain = analyse(open_lines(io.BytesIO(text)), AuditFilter())
    packed = gzip.compress(text)
    zipped = analyse(open_lines(io.BytesIO(packed)), AuditFilter())
    assert plain.events == zipped.events == 50
    cut = analyse(open_lines(io.BytesIO(packed[: len(packed) // 2])), AuditFilter())
    assert cut.malformed == 1
    assert cut.events < 50


def test_memory_stays_flat_on_a_large_log() -> None:
    def lines(count: int) -> Iterator[str]:
        for i in range(count):
            yield event("get", f"user-{i % 5}", name=f"s-{i % 7}", audit_id=str(i))

    tracemalloc.start()
    try:
        report = analyse(lines(30_000), AuditFilter(), allow=["user-0"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.events == 30_000
    assert len(report.flagged) == 4
    assert peak < 2 * 1024 * 1024, peak


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_line_over_the_bound_is_skipped_without_being_held(tmp_path, packed: bool) -> None:  # type: ignore[no-untyped-def]
    """A 40 MB line between two events (a log someone wrote into by hand, or garbage):
    counted as malformed, read past in chunks, never held whole."""
    log = tmp_path / ("audit.log.gz" if packed else "audit.log")
    opener = gzip.open if packed else open
    with opener(log, "wb") as out:
        out.write(event("get", "before").encode() + b"\n")
        for _ in range(40):
            out.write(b"x" * (1024 * 1024))
        out.write(b"\n" + event("get", "after").encode() + b"\n")
    tracemalloc.start()
    try:
        with log.open("rb") as stream:
            report = analyse(open_lines(stream), AuditFilter())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.events == 2
    assert report.malformed == 1
    assert report.malformed_lines == [2]
    assert peak < 20 * 1024 * 1024, peak  # the bound (16 MiB) and a little, not 40 MB
