"""One watch stream driver for every resource: the loop around :class:`.watch.WatchState`.

The state says when to reopen a stream, wait, re-authenticate or stop; this loop sends
each request, reads the stream line by line within :data:`.watch.MAX_LINE`, hands each
event to the caller's decoder and counts requests, retries and re-authentications. The
Secret transport decodes typed structs; the controller's workload watch, plain JSON
documents.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ...domain import CredentialError
from ...http.message import NoReply, StatusError
from .errors import server_reply
from .watch import MAX_LINE, REAUTH, STOP, WatchState

if TYPE_CHECKING:
    from .exchange import ApiClient

T = TypeVar("T")


class Refusal(NamedTuple):
    """An ERROR event: the server ends the stream with this Status (or None)."""

    status: Any


class Event(NamedTuple):
    type: str
    value: Any
    resource_version: str | None


async def stream(
    api: ApiClient,
    state: WatchState,
    decode: Callable[[bytes], Event | Refusal],
    undecodable: tuple[type[Exception], ...],
) -> AsyncGenerator[tuple[str, Any], None]:
    """(type, value) for each event, across reconnections, until the state says stop
    (then its error is raised); ``undecodable`` are the errors ``decode`` raises for a
    line that is not an event."""
    failure: Exception | None = None
    try:
        while failure is None:
            request = state.request()
            auth = await api.auth(request)
            api.stats.requests += 1
            try:
                async with aclosing(api.driver.lines(request, auth, MAX_LINE)) as lines:
                    async for line in lines:
                        event = decode(line)
                        if isinstance(event, Refusal):
                            step = state.refused(server_reply(0, "", None, event.status))
                            break
                        state.event(event.type, event.resource_version)
                        yield event.type, event.value
                    else:
                        step = state.ended()
            except StatusError as exc:
                answer = exc.response
                step = state.answered(answer.status, answer.headers, answer.body)
            except undecodable:
                step = state.undecodable()
            except NoReply as exc:
                step = state.lost(exc)
            if step.kind is STOP:
                failure = step.error
            elif step.kind is REAUTH:
                if not await api.endpoint.unauthorized():
                    failure = state.refused(server_reply(401, "", None, None)).error
                else:
                    api.stats.reauthentications += 1
            elif step.seconds > 0:
                api.stats.retries += 1
                await api.driver.sleep(step.seconds)
    except CredentialError as exc:  # credentials that could not be obtained
        failure = exc
    finally:
        state.finish(failure)  # each stream was counted: the watch is not one request
    if failure is not None:
        raise failure  # outside the handler
