"""What the controller reads from workloads and Secrets, and its command line (no cluster)."""

from __future__ import annotations

import base64
import json

import pytest

from nebula_credential.controller.digests import key_digests, workload_digest
from nebula_credential.controller.references import (
    ALL_KEYS,
    BadAnnotation,
    parse_reload,
    wanted,
)


def _b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(raw).decode()


def _secret(token: str, tags: dict[str, str], version: int, previous: str = "") -> dict[str, str]:
    credential = {"id": "db", "kind": "api_key", "fields": {"api_key": token}, "tags": tags,
                  "version": version, "updated_at": f"2026-12-0{version}T00:00:00Z"}  # fmt: skip
    data = {"credential.json": _b64(credential), "api_key": _b64(token.encode())}
    if previous:
        data["nebula-credential.previous"] = _b64(previous.encode())
    return data


def _digest(data: dict[str, str], keys: set[str]) -> str:
    return workload_digest("Deployment/ns/app", [("db", key_digests(data), keys)])


@pytest.mark.parametrize("keys", [{ALL_KEYS}, {"api_key"}, {"credential.json"}])
def test_tags_version_and_the_kept_previous_version_change_no_digest(keys: set[str]) -> None:
    before = _digest(_secret("t1", {}, 1), keys)
    assert _digest(_secret("t1", {"team": "x"}, 2, previous="old"), keys) == before
    assert _digest(_secret("t2", {}, 3), keys) != before


def test_the_digest_is_salted_by_workload_and_says_nothing_of_the_value() -> None:
    data = key_digests(_secret("short", {}, 1))
    one = workload_digest("Deployment/ns/a", [("db", data, {ALL_KEYS})])
    two = workload_digest("Deployment/ns/b", [("db", data, {ALL_KEYS})])
    assert one != two
    assert "short" not in one
    assert len(one) == 32


@pytest.mark.parametrize("value", ["", " ", "a,,b", ",a", "a,", "a\nb,c\x00" * 30])
def test_a_malformed_reload_annotation_is_refused_with_a_reason(value: str) -> None:
    with pytest.raises(BadAnnotation, match=r"nebula-credential\.io/reload"):
        parse_reload(value)


def test_reload_lists_ids_once_and_auto_is_auto() -> None:
    assert parse_reload(" a , b,a ") == (False, ("a", "b"))
    assert parse_reload("auto") == (True, ())


def test_auto_finds_every_secret_reference_and_the_keys_pods_see() -> None:
    spec = {
        "initContainers": [{"envFrom": [{"secretRef": {"name": "s-envfrom"}}]}],
        "containers": [
            {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s-env", "key": "k"}}},
                     {"name": "B", "value": "plain"}]},
        ],
        "volumes": [
            {"name": "v1", "secret": {"secretName": "s-vol"}},
            {"name": "v2",
             "secret": {"secretName": "s-items", "items": [{"key": "x", "path": "x"}]}},
            {"name": "v3", "projected": {"sources": [{"secret": {"name": "s-proj"}}]}},
            {"name": "v4", "configMap": {"name": "not-a-secret"}},
        ],
    }  # fmt: skip
    workload = {
        "metadata": {"annotations": {"nebula-credential.io/reload": "auto"}},
        "spec": {"template": {"spec": spec}},
    }
    found = wanted(workload)
    assert found is not None
    assert found.keys == {
        "s-envfrom": {ALL_KEYS},
        "s-env": {"k"},
        "s-vol": {ALL_KEYS},
        "s-items": {"x"},
        "s-proj": {ALL_KEYS},
    }
    assert wanted({"metadata": {"annotations": {}}, "spec": {}}) is None


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--health-addr", "localhost:80"], "--health-addr"),
        (["--health-addr", "127.0.0.1:99999"], "--health-addr"),
        (["--rotate-within", "soon"], "--rotate-within"),
        (["--lease-seconds", "0"], "--lease-seconds"),
        (["--lease-name", "Not_A_Name"], "--lease-name"),
        (["--lease-name", "x" * 254], "--lease-name"),
        (["--lease-name", "a\x1b[2Jb"], "--lease-name"),
    ],
)
def test_bad_options_are_usage_errors(cli, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    done = cli("controller", "--namespace", "ns", *args)
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_namespace_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("controller", "--namespace", "Not_A_Namespace")
    assert done.returncode == 2, done.stderr
    assert "namespace" in done.stderr
    assert "Traceback" not in done.stderr
