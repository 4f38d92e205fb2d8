"""What a token endpoint sent, read without I/O: the grant, the error, ``expires_in``.

The rules are stated in :mod:`.token_endpoint`'s docstring; this module holds the
request and grant values, the URL check and the reading of answers, so they can be
tested and reused without the HTTP client.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from .._hosts import is_loopback
from ..domain import NotRotatable, RotationFailed, TokenEndpointUnreachable
from ..http.urls import shown_origin

MAX_ANSWER_BYTES: Final = 64 * 1024
MAX_EXPIRES_IN: Final = 10**9
_UNSAFE_URL: Final = re.compile(r"[\x00-\x20\x7f]")
_ERROR_CODE: Final = re.compile(r"[a-z0-9_.-]{1,40}")
_RFC_CODES: Final = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
    }
)
_ECHO_RUN: Final = 8  # this many characters of a secret in a code count as an echo


@dataclass(frozen=True, slots=True, repr=False)
class TokenGrant:
    """What the endpoint granted; ``repr`` shows no token.

    ``expires_in_ignored`` is True when the endpoint sent an ``expires_in`` that could not
    be read as seconds (``expires_in`` is then ``None``): keep the old expiry and warn."""

    access_token: str
    refresh_token: str | None
    expires_in: int | None
    token_type: str | None
    scope: str | None
    auth_method: str
    expires_in_ignored: bool = False

    def __repr__(self) -> str:
        return (
            f"TokenGrant(expires_in={self.expires_in!r}, "
            f"expires_in_ignored={self.expires_in_ignored}, token_type={self.token_type!r}, "
            f"new_refresh_token={self.refresh_token is not None}, auth={self.auth_method})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class RefreshRequest:
    """One refresh: where, as which client, with which refresh token (``repr`` hides it)."""

    token_url: str
    client_id: str | None
    client_secret: str | None
    refresh_token: str
    scope: str | None = None

    def __repr__(self) -> str:
        return f"RefreshRequest(token_url={self.token_url!r}, client_id={self.client_id!r})"


def check_token_url(url: str, *, allow_http: bool = False) -> str:
    """``url`` when it is https, or http to a loopback host (or ``allow_http``)."""
    if not isinstance(url, str) or not url.isascii() or _UNSAFE_URL.search(url):
        raise NotRotatable("token_url holds spaces, control or non-ASCII characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise NotRotatable("token_url is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise NotRotatable("token_url must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise NotRotatable("token_url must not hold a user name or password")
    if parts.scheme == "http" and not allow_http and not is_loopback(host):
        raise NotRotatable(
            f"token_url uses plain http to {host}: tokens would cross the network in clear "
            "text; use https (plain http is accepted for loopback hosts, or with --allow-http)"
        )
    return url


def _code(value: object, request: RefreshRequest) -> str:
    """The endpoint's error code as it may be shown, or ``unknown_error``."""
    if not isinstance(value, str) or not _ERROR_CODE.fullmatch(value):
        return "unknown_error"
    for secret in (request.refresh_token, request.client_secret):
        folded = (secret or "").lower()
        if folded and (folded in value or (len(value) >= _ECHO_RUN and value in folded)):
            return "unknown_error"
    client_id = (request.client_id or "").lower()
    if client_id and client_id in value and value not in _RFC_CODES:
        return "unknown_error"
    return value


def _expires_in(value: object) -> tuple[int | None, bool]:
    """``expires_in`` in seconds, and whether a value was sent but could not be used."""
    if value is None:
        return None, False
    if isinstance(value, bool):
        return None, True
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float):
        if not math.isfinite(value) or value > MAX_EXPIRES_IN:
            return None, True
        seconds = round(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        seconds = int(value)  # deliberate leniency: Azure AD v1 sends the number as a string
    else:
        return None, True
    if seconds > MAX_EXPIRES_IN:
        return None, True
    return max(seconds, 0), False


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def parse_answer(raw: bytes) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def grant_of(data: dict[str, Any], method: str, where: str) -> TokenGrant:
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise RotationFailed(
            f"the token endpoint {where} answered without an access_token",
            error_code="invalid_response",
            status=200,
        )
    refresh = data.get("refresh_token")
    expires, ignored = _expires_in(data.get("expires_in"))
    token_type = data.get("token_type")
    scope = data.get("scope")
    return TokenGrant(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_in=expires,
        token_type=token_type if isinstance(token_type, str) else None,
        scope=scope if isinstance(scope, str) else None,
        auth_method=method,
        expires_in_ignored=ignored,
    )


def failure_of(
    status: int, data: dict[str, Any] | None, compressed: bool, where: str, request: RefreshRequest
) -> RotationFailed:
    if compressed:
        return RotationFailed(
            f"the token endpoint {where} answered HTTP {status} compressed although "
            "identity encoding was asked for; the answer was not read",
            error_code="invalid_response",
            status=status,
        )
    code = _code(data.get("error"), request) if data is not None else None
    if status >= 500:
        return TokenEndpointUnreachable(
            f"the token endpoint {where} failed with HTTP {status}"
            + (f" ({code})" if code else "")
            + ": it refused the refresh; the credential is unchanged; retry later",
            error_code=code or "server_error",
            status=status,
            request_sent=True,
        )
    if code is None:
        shape = "a non-JSON answer" if data is None else "JSON without an error code"
        return RotationFailed(
            f"the token endpoint {where} answered HTTP {status} with {shape}",
            error_code="invalid_response",
            status=status,
        )
    hint = {
        "invalid_grant": "the refresh token was revoked or expired: authorize again",
        "invalid_client": "the endpoint does not accept client_id/client_secret",
    }.get(code, "see the authorization server's logs")
    return RotationFailed(
        f"the token endpoint {where} refused the refresh: {code} (HTTP {status}); {hint}",
        error_code=code,
        status=status,
    )


def oversized(where: str) -> RotationFailed:
    return RotationFailed(
        f"the token endpoint {where} answered with more than {MAX_ANSWER_BYTES} bytes; "
        "it is not a token endpoint",
        error_code="invalid_response",
    )


def redirected(status: int, location: str | None, url: str, where: str) -> RotationFailed:
    """A 3xx: not followed (the grant would go where the endpoint says), shown with the
    scheme and host it points to only."""
    to = shown_origin(url, location) if location else None
    target = f" to {to}" if to else ""
    return RotationFailed(
        f"the token endpoint {where} answered HTTP {status}, a redirect{target}; redirects "
        "are not followed: set token_url to the endpoint's final https:// address",
        error_code="invalid_response",
        status=status,
    )


def rejects_client(status: int, data: dict[str, Any] | None, unread: bool) -> bool:
    """The endpoint refused the client before looking at the grant (token not spent)."""
    if unread:
        return False  # not read: it may say invalid_grant
    error = None if data is None else data.get("error")
    return error == "invalid_client" or (status == 401 and error is None)
