"""credential_from_env and ``nebula-credential env``: variables set by secretKeyRef."""

from __future__ import annotations

import json

import pytest

from nebula_credential import InvalidCredential, NotFound
from nebula_credential.readers import credential_from_env

SEED = {"OAUTH2_ACCESS_TOKEN": "at-canary-1", "OAUTH2_REFRESH_TOKEN": "rt-canary-2", "HOME": "/"}


def test_the_seeds_variables_become_an_oauth2_credential() -> None:
    credential = credential_from_env("OAUTH2_", "oauth2", environ=SEED)
    assert (credential.id, credential.kind.value) == ("oauth2", "oauth2")
    assert credential.revealed_fields() == {
        "access_token": "at-canary-1",
        "refresh_token": "rt-canary-2",
    }
    assert "canary" not in repr(credential)


def test_kind_and_id_may_come_from_variables() -> None:
    env = {
        "DB_CREDENTIAL_TYPE": "database",
        "DB_CREDENTIAL_ID": "orders-db",
        "DB_HOST": "db.internal",
        "DB_PORT": "5432",
        "DB_USERNAME": "app",
        "DB_PASSWORD": "pw-canary",
    }
    credential = credential_from_env("DB_", environ=env)
    assert (credential.id, credential.kind.value) == ("orders-db", "database")
    assert credential.fields["port"] == 5432
    assert credential_from_env("DB_", environ=env, credential_id="x").id == "x"


def test_a_missing_required_field_names_the_variable_not_a_value() -> None:
    env = {"OAUTH2_REFRESH_TOKEN": "rt-canary-2"}
    with pytest.raises(InvalidCredential) as caught:
        credential_from_env("OAUTH2_", "oauth2", environ=env)
    message = str(caught.value)
    assert "environment variable OAUTH2_ACCESS_TOKEN is not set or empty" in message
    assert "canary" not in message


def test_wrong_values_and_unknown_variables_are_typed_errors_without_values() -> None:
    env = {"DB_HOST": "h", "DB_USERNAME": "u", "DB_PASSWORD": "pw-canary", "DB_PORT": "canary"}
    with pytest.raises(
        InvalidCredential, match="key 'port': field 'port' must hold an integer"
    ) as c:
        credential_from_env("DB_", "database", environ=env)
    assert "canary" not in str(c.value)
    with pytest.raises(InvalidCredential, match="not oauth2 fields: proxy_url") as c:
        credential_from_env("OAUTH2_", "oauth2", environ={**SEED, "OAUTH2_PROXY_URL": "canary"})
    assert "canary" not in str(c.value)
    relaxed = {**SEED, "OAUTH2_PROXY_URL": "x"}
    assert (
        "proxy_url"
        not in credential_from_env("OAUTH2_", "oauth2", environ=relaxed, ignore_unknown=True).fields
    )


def test_no_variable_with_the_prefix_is_not_found_and_no_kind_is_invalid() -> None:
    with pytest.raises(NotFound, match="no environment variable starts with 'API_'"):
        credential_from_env("API_", "api_key", environ=SEED)
    with pytest.raises(
        InvalidCredential, match=r"kind is unknown; pass it .* OAUTH2_CREDENTIAL_TYPE"
    ):
        credential_from_env("OAUTH2_", environ=SEED)


def test_cli_env_prints_like_get(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("env", "--prefix", "OAUTH2_", "--kind", "oauth2", "-o", "json", env=SEED)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["fields"] == {"access_token": "**********", "refresh_token": "**********"}
    assert "canary" not in done.stdout + done.stderr
    revealed = cli(
        "env", "--prefix", "OAUTH2_", "--kind", "oauth2", "--reveal", "-o", "json", env=SEED
    )
    assert json.loads(revealed.stdout)["fields"]["access_token"] == "at-canary-1"


def test_cli_env_errors(cli) -> None:  # type: ignore[no-untyped-def]
    missing = cli(
        "env",
        "--prefix",
        "OAUTH2_",
        "--kind",
        "oauth2",
        env={"OAUTH2_REFRESH_TOKEN": "rt-canary-2"},
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: environment variable OAUTH2_ACCESS_TOKEN is not set")
    assert missing.stderr.count("\n") == 1
    assert "canary" not in missing.stderr
    absent = cli("env", "--prefix", "NOPE_", "--kind", "oauth2")
    assert absent.returncode == 3
