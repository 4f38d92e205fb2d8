"""The OAuth2 refresh-token grant (RFC 6749 section 6) against one token endpoint.

Authlib builds the request (the grant body, ``client_secret_basic`` / ``client_secret_post``
client authentication) and reads the token; the HTTP call goes through ``httpx2``, the
client the Kubernetes stack already brings, so rotation adds no second HTTP library.
Both load on the first refresh, never at import: the CLI starts without them.

Client authentication: ``client_secret_basic`` first (the RFC's default). The same
request is sent once more with ``client_secret_post`` only when the endpoint refused the
client itself: the error ``invalid_client``, or HTTP 401 with no error code at all. Such
a server rejects the client before it looks at the grant, so the refresh token was not
spent. Any other answer, ``invalid_grant`` with 401 included, is final: it may mean the
refresh token was spent. A client without ``client_secret`` is public and sends only its
``client_id`` in the body.

The endpoint's words: the ``error`` code shown in messages and ``error_code`` is one of
RFC 6749's codes (sections 5.2 and 4.1.2.1) or matches ``[a-z0-9_.-]{1,40}``; anything
else is ``unknown_error``. So is a code that holds the refresh token, client secret or
client id that was sent, or is a run of 8 or more characters of the refresh token or
client secret (a server that echoes its input, whole or clipped; compared ignoring case).
The RFC's own codes are exempt from the client id rule, which only guards against echoes:
a client called ``client`` still sees ``invalid_client``. ``error_description`` is never
shown: servers put what they were sent there.

``expires_in``: a JSON integer is kept, a float rounded; zero or negative becomes 0
(already expired). A string of ASCII digits is read as a number, leniency on purpose:
Azure AD v1 sends strings. Absent or null is ``None``. Anything else (other strings, NaN,
infinities, booleans, lists, more than 10**9 seconds) is ``None`` with
``TokenGrant.expires_in_ignored`` set, so the caller keeps the old expiry and warns.

Sent or not sent: every :class:`TokenEndpointUnreachable` says in ``request_sent``
whether the request may have reached the endpoint. The phase is tracked with httpcore's
``trace`` extension: the request counts as sent once its headers start going out.
Before that (connection refused, DNS or TLS handshake failure, connect timeout, the
deadline during connect) the refresh token is certainly unspent and the message says the
retry is safe. After it (no answer in time, connection dropped) the endpoint may have
spent the refresh token, and the message says so. A 5xx is an answer: ``request_sent``
is True and the message says the endpoint refused and the credential is unchanged.

Bounds: one deadline for the whole exchange, both attempts included (``limit``); answers
read up to 64 KiB and only with identity encoding (no decompression); redirects are not
followed; ``token_url`` passes :func:`check_token_url`. Tokens never appear in a message
or a ``repr``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from ..domain import NotRotatable, TokenEndpointUnreachable
from .token_answers import (
    MAX_ANSWER_BYTES,
    RefreshRequest,
    TokenGrant,
    check_token_url,
    failure_of,
    grant_of,
    host_of,
    parse_answer,
    rejects_client,
)

DEFAULT_TIMEOUT: Final = 30.0
_SENT_PROMISE: Final = (
    "the endpoint may have spent the refresh token; the credential is unchanged; "
    "if the next refresh is refused with invalid_grant, authorize again"
)
_NOT_SENT_PROMISE: Final = "the request was not sent; the credential is unchanged; safe to retry"


class _Phase:
    """Where the current attempt is, from httpcore's ``trace`` events: whether its
    request may have left (set as its headers start going out), and the TCP stream of a
    TLS handshake under way."""

    __slots__ = ("_handshaking", "_tcp", "sent")

    def __init__(self) -> None:
        self.sent = False
        self._tcp: Any = None
        self._handshaking = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        # httpcore calls this inline, before the bytes go out. A proxy's CONNECT is only
        # the tunnel being set up, not our request.
        if event.endswith(".send_request_headers.started"):
            if getattr(info.get("request"), "method", None) != b"CONNECT":
                self.sent = True
        elif event == "connection.connect_tcp.complete":
            self._tcp = info.get("return_value")
        elif event == "connection.start_tls.started":
            self._handshaking = True
        elif event == "connection.start_tls.complete":
            self._tcp, self._handshaking = None, False  # the connection owns it now

    async def close_handshake(self) -> None:
        """Close the TCP stream of a TLS handshake the deadline cut short: httpcore closes
        it when the handshake fails, not when it is cancelled, and it would leak."""
        tcp, self._tcp = self._tcp, None
        if self._handshaking and tcp is not None:
            await tcp.aclose()


async def _post(
    client: Any, url: str, headers: dict[str, str], body: str, phase: _Phase
) -> tuple[int, bytes, bool]:
    """Status, the answer's bytes, and whether it was refused (over the cap, compressed)."""
    extensions = {"trace": phase.trace}
    async with client.stream(
        "POST", url, headers=headers, content=body, extensions=extensions
    ) as answer:
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


def _unreachable(
    where: str, limit: float, *, sent: bool, timeout: bool, kind: str = ""
) -> TokenEndpointUnreachable:
    if not sent:
        why = f"within {limit:g}s" if timeout else f"({kind})"
        message = f"cannot connect to the token endpoint {where} {why}: {_NOT_SENT_PROMISE}"
    elif timeout:
        message = (
            f"the token endpoint {where} gave no answer within {limit:g}s after the "
            f"request was sent: {_SENT_PROMISE}"
        )
    else:
        message = (
            f"the connection to the token endpoint {where} broke after the request was "
            f"sent ({kind}): {_SENT_PROMISE}"
        )
    return TokenEndpointUnreachable(
        message, error_code="timeout" if timeout else "unreachable", request_sent=sent
    )


def _attempts(url: str, request: RefreshRequest) -> list[tuple[str, dict[str, str], str]]:
    """Each client authentication to try, in order, with its headers and body."""
    from authlib.oauth2.auth import ClientAuth
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    body = prepare_token_request(
        "refresh_token", refresh_token=request.refresh_token, scope=request.scope
    )
    methods = ["client_secret_basic", "client_secret_post"] if request.client_secret else ["none"]
    attempts = []
    for method in methods:
        auth = ClientAuth(request.client_id or "", request.client_secret, method)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }
        _, headers, form = auth.prepare("POST", url, headers, body)
        attempts.append((method, headers, form))
    return attempts


async def _exchange(
    client: Any, url: str, attempts: list[tuple[str, dict[str, str], str]], phase: _Phase
) -> tuple[str, int, dict[str, Any] | None, bool]:
    """The client authentication used, and the final answer: status, JSON, refused."""
    for method, headers, form in attempts:
        phase.sent = False  # a previous attempt was refused with the token unspent
        status, raw, too_big = await _post(client, url, headers, form, phase)
        data = None if too_big else parse_answer(raw)
        granted = status == 200 and data is not None
        if (
            method == "client_secret_basic"
            and not granted
            and rejects_client(status, data, too_big)
        ):
            continue  # the client was refused before the grant: try the other way
        return method, status, data, too_big
    raise AssertionError("the last attempt always returns")


async def refresh(
    request: RefreshRequest, *, limit: float = DEFAULT_TIMEOUT, allow_http: bool = False
) -> TokenGrant:
    """Exchange the refresh token within ``limit`` seconds in all; raises
    :class:`RotationFailed`, or its subclass :class:`TokenEndpointUnreachable` whose
    ``request_sent`` says whether the endpoint may have spent the refresh token."""
    import httpx2

    url = check_token_url(request.token_url, allow_http=allow_http)
    where = host_of(url)
    # Built (and Authlib imported) before the deadline starts: it counts the wire only.
    attempts = _attempts(url, request)
    phase = _Phase()
    # These come before the request is on the wire: it never left.
    not_sent = (
        httpx2.ConnectError,
        httpx2.ConnectTimeout,
        httpx2.PoolTimeout,
        httpx2.ProxyError,
        httpx2.UnsupportedProtocol,
    )
    try:
        async with httpx2.AsyncClient(timeout=limit, follow_redirects=False) as client:
            # The deadline covers the exchange only: once an answer is read, closing the
            # client cannot turn a granted token into a timeout.
            async with asyncio.timeout(limit):
                method, status, data, too_big = await _exchange(client, url, attempts, phase)
    except TimeoutError:
        await phase.close_handshake()
        raise _unreachable(where, limit, sent=phase.sent, timeout=True) from None
    except httpx2.InvalidURL:
        raise NotRotatable("token_url is not a valid URL") from None
    except httpx2.HTTPError as exc:
        raise _unreachable(
            where,
            limit,
            sent=phase.sent or not isinstance(exc, not_sent),
            timeout=isinstance(exc, httpx2.TimeoutException),
            kind=type(exc).__name__,
        ) from None
    if status == 200 and data is not None:
        return grant_of(data, method, where)
    raise failure_of(status, data, too_big, where, request)


__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES",
    "RefreshRequest",
    "TokenGrant",
    "check_token_url",
    "refresh",
]
