"""Credentials for rotation tests; every token value carries a canary."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from oauth_server import AuthServer

from nebula_credential import Credential
from nebula_credential.domain import format_timestamp, utcnow

CANARY = "canary-rot-4f2a"
ACCESS = f"{CANARY}-access-old"


def oauth2(
    cid: str,
    auth: AuthServer,
    refresh_token: str | None,
    *,
    client: str = "app",
    path: str = "/token",
    expires_in: timedelta | None = timedelta(minutes=5),
    scope: str = "org:acme",
    **fields: Any,
) -> Credential:
    values: dict[str, Any] = {
        "access_token": ACCESS,
        "client_id": client,
        "client_secret": auth.clients[client].client_secret if client in auth.clients else "x",
        "token_url": auth.token_url(path),
        "token_type": "Bearer",
        "scopes": "read",
    }
    if refresh_token is not None:
        values["refresh_token"] = refresh_token
    if expires_in is not None:
        values["access_token_expires_at"] = format_timestamp(utcnow() + expires_in)
    values.update(fields)
    return Credential(
        cid, "oauth2", values, scope=scope, owner="platform", tags={"env": "prod", "team": "id"}
    )


def secrets_in(credential: Credential) -> list[str]:
    return [str(credential.reveal(n)) for n in credential.secret_field_names]
