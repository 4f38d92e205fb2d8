"""What an answer from the API server means, or a missing one: pure functions.

:func:`interpret` reads a status, headers and body; :func:`no_reply` a failure that left
no answer. Both return a :class:`Verdict`; neither sleeps, sends or counts (that is
``exchange``'s loop). The rules:

- 2xx is done. 401 asks for one new authentication (a rotated token file, an expired
  exec credential); a second 401 is an :class:`AuthenticationError`.
- 429 and 500/502/503/504 are retried, not before the ``Retry-After`` the server asked
  for; etcd's "request is too large" (a 500) is final.
- A request may be sent again after a dropped connection when it is idempotent or guarded
  by a precondition (see ``requests``); a request sent only once is then an error that
  says it may have been applied. A kept-alive connection the server had closed is
  retried at once: the server was idle, not down.
- After an attempt that may have been applied (no reply, or a 5xx, to a guarded write),
  a DELETE that finds nothing deleted it; a create or replace that finds a conflict is
  confirmed by the store (``writes.landed``).
- Answers over the request's cap are refused, never read whole.
"""

from __future__ import annotations

from typing import Final

from ...domain import ConfigurationError, ProviderUnavailable
from ...http import message
from ...http.message import Headers, NoReply
from ..model.wire_secret import read_status
from .errors import RETRY_STATUSES, PatchRefused, error_for, server_reply, too_large
from .requests import JSON_PATCH, ApiRequest

DONE: Final = "done"
RETRY: Final = "retry"
REAUTH: Final = "reauth"
FAIL: Final = "fail"


class Site:
    """Where requests go, for messages: the server and proxy as shown, the context."""

    __slots__ = ("context", "proxy", "server")

    def __init__(self, server: str, *, proxy: str | None = None, context: str | None = None):
        self.server = server
        self.proxy = proxy
        self.context = context


class Verdict:
    """What to do next: ``kind`` is DONE, RETRY, REAUTH or FAIL.

    RETRY: ``after`` is the server's Retry-After (None: our backoff), ``at_once`` skips
    the pause, ``counter`` names the stats counter and metric status, ``why`` is shown,
    ``maybe_applied`` says the attempt may have changed something. FAIL: ``error``.
    """

    __slots__ = ("after", "at_once", "counter", "error", "kind", "maybe_applied", "why")

    def __init__(
        self,
        kind: str,
        *,
        after: float | None = None,
        at_once: bool = False,
        counter: str = "",
        why: str = "",
        maybe_applied: bool = False,
        error: Exception | None = None,
    ) -> None:
        self.kind = kind
        self.after = after
        self.at_once = at_once
        self.counter = counter
        self.why = why
        self.maybe_applied = maybe_applied
        self.error = error

    def __repr__(self) -> str:
        return f"Verdict({self.kind}, counter={self.counter!r}, after={self.after!r})"


_DONE: Final = Verdict(DONE)
_REAUTH: Final = Verdict(REAUTH)


def interpret(
    request: ApiRequest,
    status: int,
    headers: Headers,
    body: bytes,
    *,
    reason: str = "",
    reauthed: bool = False,
    maybe_applied: bool = False,
    site: Site,
) -> Verdict:
    """The verdict on an answer with ``status`` to ``request``."""
    if status < 300:
        return _DONE
    if status == 401 and not reauthed:
        return _REAUTH
    if status == 404 and maybe_applied and request.method == "DELETE":
        return _DONE  # our first attempt deleted it; its reply was lost
    reply = server_reply(status, reason, headers.get("Retry-After"), read_status(body))
    if reply.status in RETRY_STATUSES and not too_large(reply):
        throttled = reply.status == 429
        return Verdict(
            RETRY,
            after=reply.retry_after,
            counter="throttled" if throttled else "server_error",
            why=f"HTTP {reply.status} {reply.message}".strip(),
            maybe_applied=not throttled and request.method != "GET",
        )
    if reply.status == 422 and request.content_type == JSON_PATCH and reply.kind is None:
        # A failed ``test`` comes back as a bare 422 that names no object and no field.
        return Verdict(FAIL, error=PatchRefused(request.op.describe()))
    error = error_for(reply, request.op, server=site.server, context=site.context)
    return Verdict(FAIL, error=error)


def no_reply(request: ApiRequest, failure: NoReply, *, site: Site) -> Verdict:
    """The verdict when ``request`` got no (complete) answer."""
    op = request.op
    if failure.kind == message.UNTRUSTED:
        return Verdict(
            FAIL,
            counter="untrusted_certificate",
            error=ConfigurationError(
                f"the TLS certificate of {site.server} is not trusted, so could not "
                f"{op.describe()}; check certificate-authority in the kubeconfig"
            ),
        )
    if failure.kind == message.TOO_LARGE:
        return Verdict(
            FAIL,
            counter="connection_error",
            error=ProviderUnavailable(
                f"the server at {site.server} answered {op.describe()} with {failure.detail}; "
                "check that the kubeconfig points at an API server"
            ),
        )
    if failure.sent and request.resend == message.ONCE:
        return Verdict(
            FAIL,
            counter="connection_error",
            error=ProviderUnavailable(
                f"lost the connection to {site.server} after sending {op.describe()} "
                f"({failure.detail}); it may have been applied: check before retrying"
            ),
        )
    return Verdict(
        RETRY,
        at_once=failure.stale,
        counter="proxy_error" if failure.kind == message.PROXY else "connection_error",
        why=failure.detail,
        maybe_applied=failure.sent and request.method != "GET",
    )


def gave_up(
    request: ApiRequest, last: Verdict, *, site: Site, attempts: int, elapsed: float
) -> ProviderUnavailable:
    """The error after the last retry, naming the proxy when it was the proxy that failed."""
    op = request.op
    if last.counter == "proxy_error" and site.proxy is not None:
        return ProviderUnavailable(
            f"the proxy {site.proxy} did not let us {op.describe()} at {site.server} after "
            f"{attempts} attempt(s) over {elapsed:.1f}s (last: {last.why}); check the proxy "
            "(the cluster's proxy-url, or HTTPS_PROXY / HTTP_PROXY and NO_PROXY)"
        )
    return ProviderUnavailable(
        f"the Kubernetes API server at {site.server} did not {op.describe()} after {attempts} "
        f"attempt(s) over {elapsed:.1f}s (last: {last.why}); check that the cluster is up "
        "with: kubectl get --raw /readyz"
    )
