"""Ids, scopes and credentials: validation, matching, wire format and redaction."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from nebula_credential import (
    REDACTED,
    Credential,
    CredentialId,
    CredentialKind,
    CredentialScope,
    InvalidCredential,
    InvalidCredentialId,
    InvalidScope,
    SecretValue,
    fields_of,
)


def test_generated_ids_are_valid_unique_and_time_ordered() -> None:
    ids = [CredentialId.new() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(CredentialId(i) == i for i in ids)
    assert ids[0][:17] <= ids[-1][:17]


@pytest.mark.parametrize("good", ["a", "GitHub_Token.v2-prod", "x" * 255, "0", "_private"])
def test_valid_ids_are_kept_verbatim(good: str) -> None:
    assert str(CredentialId(good)) == good


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("x" * 256, "256 characters"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "start with '.'"),
        (".hidden", "start with '.'"),
        ("tab\there", "control character"),
        ("new\nline", "control character"),
        ("sp ace", "whitespace"),
        ("ünï", "character"),
    ],
)
def test_invalid_ids_say_what_is_wrong(bad: str, reason: str) -> None:
    with pytest.raises(InvalidCredentialId, match=reason):
        CredentialId(bad)


def test_scope_matching_is_hierarchical_not_textual() -> None:
    org = CredentialScope("org:acme")
    assert org.matches("org:acme")
    assert not org.matches("org:acme/team:eng")
    assert org.matches("org:acme/team:eng", descendants=True)
    assert not org.matches("org:acmecorp", descendants=True)
    assert CredentialScope("global").matches("user:alice", descendants=True)
    assert list(CredentialScope("org:acme/team:eng/user:bob").ancestors()) == [
        "org:acme",
        "org:acme/team:eng",
        "org:acme/team:eng/user:bob",
    ]
    assert CredentialScope("org:acme/team:eng").parent == "org:acme"
    assert CredentialScope("org:acme").parent == "global"
    assert CredentialScope.of("user", "alice").child("app", "ci") == "user:alice/app:ci"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("user", "missing ':'"),
        ("user:", "name"),
        (":alice", "type"),
        ("User:alice", "type"),
        ("org:acme/", "empty segment"),
        ("org:acme//team:x", "empty segment"),
        ("/org:acme", "empty segment"),
        ("org:ac me", "whitespace"),
        ("org:a\x00b", "control"),
        ("org:" + "a" * 1100, "limit"),
        ("/".join(["a:b"] * 17), "segments"),
        ("org:acme/../x", "missing ':'"),
    ],
)
def test_invalid_scopes_say_what_is_wrong(bad: str, reason: str) -> None:
    with pytest.raises(InvalidScope, match=reason):
        CredentialScope(bad)


def oauth() -> Credential:
    return Credential(
        "github",
        "oauth2",
        {"access_token": "canary-access", "refresh_token": "canary-refresh", "client_id": "cid"},
        scope="user:alice",
        owner="alice",
        tags={"env": "prod"},
        created_at="2026-01-02T03:04:05.123456Z",
        updated_at="2026-01-02T03:04:05.123456+00:00",
        expires_at="2027-01-01T00:00:00Z",
        version=3,
    )


def test_wire_format_round_trips_exactly() -> None:
    original = oauth()
    text = original.to_json(reveal=True)
    again = Credential.from_json(text)
    assert again == original
    assert again.to_json(reveal=True) == text
    assert json.loads(text)["schema_version"] == 1
    assert again.created_at == original.created_at
    assert again.created_at is not None
    assert again.created_at.microsecond == 123456


def test_secrets_are_redacted_by_default_everywhere() -> None:
    credential = oauth()
    shown = [
        repr(credential),
        str(credential),
        credential.to_json(),
        json.dumps(credential.to_dict()),
        repr(credential.fields),
        f"{credential.fields['access_token']}",
        "%s" % credential.fields["refresh_token"],  # noqa: UP031
    ]
    for text in shown:
        assert "canary" not in text
    assert credential.to_dict()["fields"]["access_token"] == REDACTED
    assert credential.to_dict()["fields"]["client_id"] == "cid"
    assert credential.reveal("access_token") == "canary-access"
    assert credential.secret_field_names == ("access_token", "refresh_token")


def test_secret_values_refuse_to_be_pickled_but_copy_as_immutables() -> None:
    with pytest.raises(TypeError, match="reveal"):
        pickle.dumps(SecretValue("canary"))
    with pytest.raises(TypeError):
        pickle.dumps(oauth())
    credential = oauth()
    assert copy.deepcopy(credential) is credential


def test_each_kind_declares_required_secret_fields() -> None:
    for kind in CredentialKind:
        specs = fields_of(kind)
        if kind is CredentialKind.GENERIC:
            assert specs == ()
            continue
        assert any(s.required and s.secret for s in specs), kind
        empty = {s.name: None for s in specs}
        with pytest.raises(InvalidCredential, match="missing required"):
            Credential("x", kind, empty)


def test_generic_fields_are_all_secret() -> None:
    c = Credential("g", "generic", {"whatever": "canary", "other.key": "v"})
    assert set(c.secret_field_names) == {"whatever", "other.key"}


def test_evolve_merges_fields_and_revalidates() -> None:
    base = oauth()
    changed = base.evolve(fields={"refresh_token": None, "access_token": "new"})
    assert "refresh_token" not in changed.fields
    assert changed.reveal("access_token") == "new"
    assert base.reveal("access_token") == "canary-access"
    with pytest.raises(InvalidCredential):
        base.evolve(fields={"access_token": None})
    with pytest.raises(AttributeError):
        base.version = 4  # type: ignore[misc]


def test_unknown_schema_version_asks_for_an_upgrade() -> None:
    data = oauth().to_dict(reveal=True)
    data["schema_version"] = 2
    with pytest.raises(InvalidCredential, match="upgrade"):
        Credential.from_dict(data)
