"""The OAuth2 refresh-token grant (RFC 6749 section 6) against one token endpoint.

Authlib builds the request (the grant body, ``client_secret_basic`` / ``client_secret_post``
client authentication) and reads the token; the HTTP call goes through ``httpx2``, the
client the Kubernetes stack already brings, so rotation adds no second HTTP library.
Both load on the first refresh, never at import: the CLI starts without them.

Client authentication: ``client_secret_basic`` first (the RFC's default). When the
endpoint answers 401, or an error ``invalid_client``, the same request is sent once more
with ``client_secret_post``: a server rejects the client before it looks at the grant, so
the refresh token was not spent. A client without ``client_secret`` is public and sends
only its ``client_id`` in the body.

Bounds: one deadline for the whole exchange (``timeout``), answers read up to 64 KiB.
Errors carry the endpoint's ``error`` code, cleaned to the RFC's character set, and the
HTTP status, never the ``error_description`` (servers may echo what they were sent) and
never a token.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from .._hosts import is_loopback
from ..domain import NotRotatable, RotationFailed, TokenEndpointUnreachable

MAX_ANSWER_BYTES: Final = 64 * 1024
DEFAULT_TIMEOUT: Final = 30.0
_UNSAFE_URL: Final = re.compile(r"[\x00-\x20\x7f]")
_ERROR_CODE: Final = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")  # RFC 6749 5.2


@dataclass(frozen=True, slots=True, repr=False)
class TokenGrant:
    """What the endpoint granted; ``repr`` shows no token."""

    access_token: str
    refresh_token: str | None
    expires_in: int | None
    token_type: str | None
    scope: str | None
    auth_method: str

    def __repr__(self) -> str:
        return (
            f"TokenGrant(expires_in={self.expires_in!r}, token_type={self.token_type!r}, "
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


def _code(value: object) -> str:
    """The endpoint's error code as printable RFC 6749 text, or ``unknown_error``."""
    if isinstance(value, str) and _ERROR_CODE.fullmatch(value):
        return value
    return "unknown_error"


def _host(url: str) -> str:
    return urlsplit(url).netloc


async def _post(
    client: Any, url: str, headers: dict[str, str], body: str
) -> tuple[int, bytes, bool]:
    """Status, the answer's bytes, and whether it was refused (over the cap, compressed)."""
    async with client.stream("POST", url, headers=headers, content=body) as answer:
        # Identity was asked for: a compressed answer is not decompressed (no bombs).
        encoding = answer.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            return answer.status_code, b"", True
        chunks: list[bytes] = []
        size = 0
        async for chunk in answer.aiter_raw():
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                return answer.status_code, b"", True
        return answer.status_code, b"".join(chunks), False


def _parse(status: int, raw: bytes) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _grant(data: dict[str, Any], method: str, where: str) -> TokenGrant:
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise RotationFailed(
            f"the token endpoint {where} answered without an access_token",
            error_code="invalid_response",
            status=200,
        )
    refresh = data.get("refresh_token")
    expires = data.get("expires_in")
    if isinstance(expires, str) and expires.isdigit():
        expires = int(expires)  # some servers send a string
    if isinstance(expires, bool) or not isinstance(expires, int) or not 0 <= expires < 10**9:
        expires = None
    token_type = data.get("token_type")
    scope = data.get("scope")
    return TokenGrant(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_in=expires,
        token_type=token_type if isinstance(token_type, str) else None,
        scope=scope if isinstance(scope, str) else None,
        auth_method=method,
    )


def _failure(status: int, data: dict[str, Any] | None, where: str, too_big: bool) -> Exception:
    if too_big:
        return RotationFailed(
            f"the token endpoint {where} answered HTTP {status} with more than "
            f"{MAX_ANSWER_BYTES} bytes, or compressed; it is not a token endpoint",
            error_code="invalid_response",
            status=status,
        )
    code = _code(data.get("error")) if data is not None else None
    if status >= 500:
        return TokenEndpointUnreachable(
            f"the token endpoint {where} failed with HTTP {status}"
            + (f" ({code})" if code else "")
            + "; the credential is unchanged, retry later",
            error_code=code or "server_error",
            status=status,
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


def _rejects_client(status: int, data: dict[str, Any] | None) -> bool:
    return status == 401 or (data is not None and data.get("error") == "invalid_client")


async def refresh(
    request: RefreshRequest, *, limit: float = DEFAULT_TIMEOUT, allow_http: bool = False
) -> TokenGrant:
    """Exchange the refresh token within ``limit`` seconds in all; raises
    :class:`RotationFailed` (or its subclass :class:`TokenEndpointUnreachable`)."""
    import httpx2
    from authlib.oauth2.auth import ClientAuth
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    url = check_token_url(request.token_url, allow_http=allow_http)
    where = _host(url)
    body = prepare_token_request(
        "refresh_token", refresh_token=request.refresh_token, scope=request.scope
    )
    methods = ["client_secret_basic", "client_secret_post"] if request.client_secret else ["none"]
    started = time.monotonic()
    try:
        async with (
            asyncio.timeout(limit),
            httpx2.AsyncClient(timeout=limit, follow_redirects=False) as client,
        ):
            for method in methods:
                auth = ClientAuth(request.client_id or "", request.client_secret, method)
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                    "Accept-Encoding": "identity",
                }
                _, headers, form = auth.prepare("POST", url, headers, body)
                status, raw, too_big = await _post(client, url, headers, form)
                data = None if too_big else _parse(status, raw)
                if status == 200 and data is not None:
                    return _grant(data, method, where)
                if method == "client_secret_basic" and _rejects_client(status, data):
                    continue  # the client was refused before the grant: try the other way
                raise _failure(status, data, where, too_big)
            raise AssertionError("the last method always returns or raises")
    except TimeoutError:
        pass
    except httpx2.InvalidURL:
        raise NotRotatable("token_url is not a valid URL") from None
    except httpx2.HTTPError as exc:
        kind = type(exc).__name__
        failure = TokenEndpointUnreachable(
            f"cannot reach the token endpoint {where} ({kind}); the credential is unchanged",
            error_code="unreachable",
        )
        raise failure from None
    raise TokenEndpointUnreachable(
        f"the token endpoint {where} did not answer within {limit:g}s "
        f"(waited {time.monotonic() - started:.1f}s); the credential is unchanged",
        error_code="timeout",
    )
