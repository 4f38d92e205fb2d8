"""The OAuth2 refresh-token grant (RFC 6749 section 6) against one token endpoint.

Authlib prepares the request (the grant body, ``client_secret_basic`` /
``client_secret_post`` client authentication); the product's asyncio HTTP driver
(:mod:`nebula_credential.http.aio`) sends it and reads the answer, and
:mod:`.token_answers` reads the token. Both load on the first refresh, never at import:
the CLI starts without them. The environment's ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``NO_PROXY`` apply as curl and kubectl read them; a proxy that cannot be reached or
refuses the tunnel is reported as a proxy failure, naming the proxy.

Client authentication: ``client_secret_basic`` first (the RFC's default). The same
request is sent once more with ``client_secret_post`` only when the endpoint refused the
client itself: the error ``invalid_client``, or HTTP 401 with no error code at all. Such
a server rejects the client before it looks at the grant, so the refresh token was not
spent. Any other answer, ``invalid_grant`` with 401 included, is final: it may mean the
refresh token was spent. A client without ``client_secret`` is public and sends only its
``client_id`` in the body. Each attempt goes out once (``ONCE``: the driver never repeats
it) on a connection of its own.

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
whether the request may have reached the endpoint. The driver tells: a failure while
connecting (connection refused, DNS, the proxy, the TLS handshake or an untrusted
certificate, no connection before the deadline) leaves the refresh token certainly
unspent, and the message says the retry is safe. After the connection is up (no answer
in time, connection dropped) the endpoint may have spent the refresh token, and the
message says so. A 5xx is an answer: ``request_sent`` is True and the message says the
endpoint refused and the credential is unchanged.

Bounds: one deadline for the whole exchange, both attempts included (``limit``). Each
attempt waits for its connection and for each read of the answer at most the time left;
an answer still trickling in at the deadline is cut (``asyncio.timeout``) a moment later,
the moment the driver's connect timeout may round up by, so that a connection cut at the
deadline is still reported as not sent. Answers are read up to 64 KiB and only with
identity encoding (a compressed answer is refused, not decompressed); a redirect is not
followed but reported with where it points; ``token_url`` passes
:func:`check_token_url`. Tokens never appear in a message or a ``repr``.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any, Final
from urllib.parse import urlsplit

from ..domain import RotationFailed, TokenEndpointUnreachable
from ..http import message
from ..http.message import NoReply, Request, Response
from ..http.proxy import choose_proxy
from ..http.urls import origin_and_path, shown_url
from .token_answers import (
    MAX_ANSWER_BYTES,
    RefreshRequest,
    TokenGrant,
    check_token_url,
    failure_of,
    grant_of,
    host_of,
    oversized,
    parse_answer,
    redirected,
    rejects_client,
)

DEFAULT_TIMEOUT: Final = 30.0
# aiohttp rounds a connect timeout above 5 s up to the next whole second: the cut of a
# trickling answer waits that long past the deadline, so the driver's own connect timeout
# always comes first and says the request was not sent.
_GRACE: Final = 1.5
_USER_AGENT: Final = "nebula-credential/0.1 (aiohttp)"
_SENT_PROMISE: Final = (
    "the endpoint may have spent the refresh token; the credential is unchanged; "
    "if the next refresh is refused with invalid_grant, authorize again"
)
_NOT_SENT_PROMISE: Final = "the request was not sent; the credential is unchanged; safe to retry"
_WHY_NOT_CONNECTED: Final = {
    message.UNTRUSTED: "its TLS certificate is not trusted",
    message.TLS: "the TLS handshake failed",
}


class _Endpoint:
    """Where the attempts go: origin, proxy, TLS context, and the deadline."""

    __slots__ = ("context", "deadline", "origin", "proxy")

    def __init__(self, url: str, proxy: str | None, limit: float) -> None:
        self.origin, _ = origin_and_path(url)
        self.proxy = proxy
        self.context = ssl.create_default_context()
        # Starts after the CA certificates are loaded: the deadline counts the wire only.
        self.deadline = asyncio.get_running_loop().time() + limit


async def _post(endpoint: _Endpoint, request: Request) -> Response:
    """One attempt on a driver of its own, waiting at most until the deadline."""
    from ..http.aio import AioDriver

    left = endpoint.deadline - asyncio.get_running_loop().time()
    if left <= 0:
        raise NoReply(message.TIMEOUT, "no time left to connect", sent=False)
    context = endpoint.context
    driver = AioDriver(
        endpoint.origin,
        context=lambda: context,
        user_agent=_USER_AGENT,
        timeout=left,
        proxy=endpoint.proxy,
        decompress=False,
        connections=1,
    )
    try:
        async with asyncio.timeout_at(endpoint.deadline + _GRACE):
            return await driver.send(request, {})
    finally:
        # Outside the deadline: once an answer is read, closing the connection cannot
        # turn a granted token into a timeout.
        await driver.close()


def _compressed(answer: Response) -> bool:
    # Identity was asked for: a compressed answer is not decompressed (no bombs).
    encoding = (answer.headers.get("Content-Encoding") or "identity").strip().lower()
    return encoding not in ("", "identity")


def _attempts(url: str, request: RefreshRequest) -> list[tuple[str, Request]]:
    """Each client authentication to try, in order, as the request to send."""
    from authlib.oauth2.auth import ClientAuth
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    body = prepare_token_request(
        "refresh_token", refresh_token=request.refresh_token, scope=request.scope
    )
    methods = ["client_secret_basic", "client_secret_post"] if request.client_secret else ["none"]
    _, target = origin_and_path(url)
    attempts = []
    for method in methods:
        auth = ClientAuth(request.client_id or "", request.client_secret, method)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }
        _, headers, form = auth.prepare("POST", url, headers, body)
        content_type = headers.pop("Content-Type")
        attempts.append(
            (
                method,
                Request(
                    "POST",
                    target,
                    body=form.encode(),
                    content_type=content_type,
                    headers=headers,
                    resend=message.ONCE,
                    max_body=MAX_ANSWER_BYTES,
                ),
            )
        )
    return attempts


async def _exchange(
    endpoint: _Endpoint, attempts: list[tuple[str, Request]]
) -> tuple[str, Response, dict[str, Any] | None, bool]:
    """The client authentication used and the final answer, its JSON, and whether it was
    refused unread (compressed)."""
    for method, request in attempts:
        answer = await _post(endpoint, request)
        unread = _compressed(answer)
        data = None if unread else parse_answer(answer.body)
        granted = answer.status == 200 and data is not None
        if (
            method == "client_secret_basic"
            and not granted
            and not 300 <= answer.status < 400
            and rejects_client(answer.status, data, unread)
        ):
            continue  # the client was refused before the grant: try the other way
        return method, answer, data, unread
    raise AssertionError("the last attempt always returns")


def _unreachable(
    where: str, limit: float, *, sent: bool, timeout: bool, kind: str = ""
) -> TokenEndpointUnreachable:
    if not sent:
        why = f"within {limit:g}s" if timeout else f"({kind})"
        text = f"cannot connect to the token endpoint {where} {why}: {_NOT_SENT_PROMISE}"
    elif timeout:
        text = (
            f"the token endpoint {where} gave no answer within {limit:g}s after the "
            f"request was sent: {_SENT_PROMISE}"
        )
    else:
        text = (
            f"the connection to the token endpoint {where} broke after the request was "
            f"sent ({kind}): {_SENT_PROMISE}"
        )
    return TokenEndpointUnreachable(
        text, error_code="timeout" if timeout else "unreachable", request_sent=sent
    )


def _no_reply(
    exc: NoReply, url: str, where: str, limit: float, proxy: str | None
) -> RotationFailed:
    """What the driver's missing reply means for the refresh token."""
    if exc.kind == message.TOO_LARGE:
        return oversized(where)
    if exc.kind == message.PROXY and proxy is not None:
        variable = f"{urlsplit(url).scheme.upper()}_PROXY"
        return TokenEndpointUnreachable(
            f"cannot reach the token endpoint {where}: the proxy {shown_url(proxy)} (from "
            f"{variable}) failed ({exc.detail}); check the proxy, or exempt the host in "
            f"NO_PROXY: {_NOT_SENT_PROMISE}",
            error_code="unreachable",
            request_sent=False,
        )
    timeout = exc.kind == message.TIMEOUT
    why = _WHY_NOT_CONNECTED.get(exc.kind)
    return _unreachable(
        where,
        limit,
        sent=exc.sent,
        timeout=timeout,
        kind=f"{why}: {exc.detail}" if why else exc.detail,
    )


async def refresh(
    request: RefreshRequest, *, limit: float = DEFAULT_TIMEOUT, allow_http: bool = False
) -> TokenGrant:
    """Exchange the refresh token within ``limit`` seconds in all; raises
    :class:`RotationFailed`, or its subclass :class:`TokenEndpointUnreachable` whose
    ``request_sent`` says whether the endpoint may have spent the refresh token;
    :class:`~nebula_credential.domain.ConfigurationError` for an unusable proxy setting
    in the environment."""
    url = check_token_url(request.token_url, allow_http=allow_http)
    where = host_of(url)
    proxy = choose_proxy(url, None, os.environ, "the token endpoint")
    # Built (and Authlib imported) before the deadline starts: it counts the wire only.
    attempts = _attempts(url, request)
    endpoint = _Endpoint(url, proxy, limit)
    try:
        method, answer, data, unread = await _exchange(endpoint, attempts)
    except TimeoutError:
        # The driver times out connecting and waiting by itself: only an answer still
        # trickling in (the request long sent) meets the deadline's cut.
        raise _unreachable(where, limit, sent=True, timeout=True) from None
    except NoReply as exc:
        raise _no_reply(exc, url, where, limit, proxy) from None
    status = answer.status
    if status == 200 and data is not None:
        return grant_of(data, method, where)
    if 300 <= status < 400:
        raise redirected(status, answer.headers.get("Location"), url, where)
    raise failure_of(status, data, unread, where, request)


__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ANSWER_BYTES",
    "RefreshRequest",
    "TokenGrant",
    "check_token_url",
    "refresh",
]
