"""A watch across its streams: the pure :class:`WatchState` with a fake clock, and
``HttpTransport.watch`` on a scripted driver.

The scripted driver stands in for the network: each time the watch opens a stream it
plays the next stream a test lists (lines, then the end; or a refusal), records the
request and sleeps for no time, adding the pause to a fake clock instead. So minutes of
backoff run in milliseconds, and a watch that would reopen in a tight loop fails the
test at a fixed bound rather than hanging it. The real aiohttp driver is held to the
same rules against a real server in ``test_aiohttp_transport.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry

from nebula_credential import AuthenticationError, PermissionDenied, ProviderUnavailable, metrics
from nebula_credential.http import message
from nebula_credential.http.message import NoReply, Request, Response, StatusError
from nebula_credential.kubernetes.api.errors import Gone, ServerReply
from nebula_credential.kubernetes.api.exchange import ApiClient
from nebula_credential.kubernetes.api.interpret import Site
from nebula_credential.kubernetes.api.requests import Collection
from nebula_credential.kubernetes.api.retry import RetryPolicy
from nebula_credential.kubernetes.api.secret_calls import HttpTransport
from nebula_credential.kubernetes.api.watch import HEALTHY, REAUTH, STOP, WAIT, WatchState
from nebula_credential.kubernetes.config.endpoint import Endpoint
from nebula_credential.kubernetes.config.tokens import TokenFile

SERVER = "http://api.test:8080"
POLICY = RetryPolicy(attempts=6, base_delay=0.2, max_delay=5.0)
MAX_STREAMS = 100  # a watch that opens more streams than this is in a tight loop
Stream = list[bytes] | Exception


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def status(code: int, reason: str = "", message: str = "") -> bytes:
    doc = {"kind": "Status", "code": code, "reason": reason, "message": message}
    return json.dumps(doc).encode()


def refusal(code: int, **headers: str) -> StatusError:
    found = {k.replace("_", "-"): v for k, v in headers.items()}
    return StatusError(Response(code, "", found, status(code, message=f"status {code}")))


def event(kind: str, name: str, version: str) -> bytes:
    meta = {"name": name, "namespace": "ns", "resourceVersion": version, "uid": "u"}
    secret = {"kind": "Secret", "apiVersion": "v1", "metadata": meta, "data": {}}
    return json.dumps({"type": kind, "object": secret}).encode()


def error_event(code: int) -> bytes:
    return json.dumps({"type": "ERROR", "object": json.loads(status(code))}).encode()


def version_of(target: str) -> str | None:
    found = parse_qs(urlsplit(target).query).get("resourceVersion")
    return found[0] if found else None


# -- WatchState, pure --------------------------------------------------------------------


def state(clock: Clock, *, restart_on_gone: bool = True, version: str | None = "10") -> WatchState:
    return WatchState(
        Collection("/api/v1", "ns", "secrets", "secrets"),
        {"app": "x"},
        version,
        restart_on_gone=restart_on_gone,
        policy=POLICY,
        site=Site(SERVER),
        clock=clock,
    )


def test_watch_metrics_label_only_known_event_types_and_say_why_streams_reopen() -> None:
    """Label values stay a small known set whatever a server sends; restarts name why."""
    registry = CollectorRegistry()
    metrics.enable(registry)
    try:
        clock = Clock()
        watch = state(clock)
        watch.request()
        watch.event("ADDED", "11")
        watch.event("SOMETHING-A-SERVER-MADE-UP", "12")
        watch.ended()  # after events: reopened at once
        watch.request()
        watch.refused(ServerReply(410, "Expired", "", None))
        watch.request()
        watch.finish(None)

        def value(name: str, **labels: str) -> float | None:
            return registry.get_sample_value(name, labels)

        assert value("nebula_k8s_watch_events_total", type="added") == 1
        assert value("nebula_k8s_watch_events_total", type="other") == 1
        assert value("nebula_k8s_watch_restarts_total", reason="ended") == 1
        assert value("nebula_k8s_watch_restarts_total", reason="gone") == 1
        ops = "nebula_k8s_secret_operations_total"
        assert value(ops, operation="watch", status="success") == 2
        assert value(ops, operation="watch", status="gone") == 1
        assert value("nebula_k8s_secret_duration_seconds_count", operation="watch") is None
    finally:
        metrics.disable(registry)


def test_streams_that_end_empty_at_once_back_off_ever_longer_then_stop() -> None:
    clock = Clock()
    watch = state(clock)
    pauses: list[float] = []
    for _ in range(POLICY.attempts):
        watch.request()
        step = watch.ended()
        assert step.kind == WAIT
        pauses.append(step.seconds)
        clock.now += step.seconds
    for n, paused in enumerate(pauses, start=1):
        ceiling = min(POLICY.max_delay, POLICY.base_delay * 2 ** (n - 1))
        assert ceiling / 2 <= paused <= ceiling
    assert pauses[-1] > 4 * pauses[0]
    watch.request()
    final = watch.ended()
    assert final.kind == STOP
    assert isinstance(final.error, ProviderUnavailable)
    assert "ended at once" in str(final.error)


def test_a_stream_open_for_a_healthy_while_is_reopened_at_once() -> None:
    clock = Clock()
    watch = state(clock)
    watch.request()
    assert watch.ended().kind == WAIT
    watch.request()
    clock.now += HEALTHY
    step = watch.ended()
    assert (step.kind, step.seconds, watch.failures) == (WAIT, 0.0, 0)


def test_an_event_resets_the_failures_and_moves_the_resume_point() -> None:
    clock = Clock()
    watch = state(clock)
    for _ in range(3):
        watch.request()
        watch.ended()
    assert watch.failures == 3
    watch.request()
    watch.event("ADDED", "42")
    assert watch.failures == 0
    step = watch.ended()
    assert (step.kind, step.seconds) == (WAIT, 0.0)
    assert version_of(watch.request().target) == "42"


def test_a_429_waits_at_least_its_retry_after() -> None:
    watch = state(Clock())
    watch.request()
    step = watch.answered(429, {"Retry-After": "7"}, status(429))
    assert step.kind == WAIT
    assert 7 <= step.seconds <= 7 + POLICY.base_delay


def test_a_410_starts_over_from_now_or_stops_with_gone() -> None:
    watch = state(Clock())
    assert version_of(watch.request().target) == "10"
    assert watch.answered(410, {}, status(410, "Expired")).kind == WAIT
    assert version_of(watch.request().target) is None

    strict = state(Clock(), restart_on_gone=False)
    strict.request()
    step = strict.answered(410, {}, status(410, "Expired"))
    assert step.kind == STOP
    assert isinstance(step.error, Gone)


def test_a_401_asks_for_one_new_credential_then_stops() -> None:
    watch = state(Clock())
    watch.request()
    assert watch.answered(401, {}, status(401)).kind == REAUTH
    watch.request()
    step = watch.answered(401, {}, status(401))
    assert step.kind == STOP
    assert isinstance(step.error, AuthenticationError)


def test_a_403_stops_at_once_with_permission_denied() -> None:
    watch = state(Clock())
    watch.request()
    step = watch.answered(403, {}, status(403, "Forbidden", "secrets is forbidden"))
    assert step.kind == STOP
    assert isinstance(step.error, PermissionDenied)
    assert "kubectl auth can-i watch secrets -n ns" in str(step.error)


# -- HttpTransport.watch on a scripted driver -------------------------------------------


class ScriptedStreams:
    """Plays one listed stream per watch request (see the module docstring)."""

    origin = SERVER
    blocking = False

    def __init__(self, *streams: Stream, then: Stream | None = None) -> None:
        self.streams = list(streams)
        self.then = then  # played when the list is used up
        self.opened: list[tuple[str, str]] = []  # (target, Authorization)
        self.opened_at: list[float] = []  # fake time of each open
        self.clock = 0.0
        self.slept: list[float] = []
        self.sent: list[str] = []

    async def send(self, request: Request, auth: Mapping[str, str]) -> Response:
        self.sent.append(request.target)
        raise NoReply(message.CONNECT, "no other requests in these tests", sent=False)

    async def lines(
        self, request: Request, auth: Mapping[str, str], max_line: int
    ) -> AsyncGenerator[bytes, None]:
        self.opened.append((request.target, auth.get("Authorization", "")))
        self.opened_at.append(self.clock)
        assert len(self.opened) <= MAX_STREAMS, "the watch reopens in a tight loop"
        stream = self.streams.pop(0) if self.streams else self.then
        assert stream is not None, "the watch opened one stream more than the test expected"
        if isinstance(stream, Exception):
            raise stream
        for line in stream:
            yield line

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock += seconds

    async def close(self) -> None:
        pass


def endpoint(token_file: TokenFile | None = None) -> Endpoint:
    return Endpoint(
        server=SERVER,
        proxy=None,
        server_hostname=None,
        ca=None,
        insecure=False,
        client_cert=None,
        headers={} if token_file else {"Authorization": "Bearer static-token"},
        token_file=token_file,
        plugin=None,
        where="the test's kubeconfig",
    )


def transport(
    driver: ScriptedStreams, policy: RetryPolicy = POLICY, token_file: TokenFile | None = None
) -> HttpTransport:
    api = ApiClient(driver, endpoint(token_file), policy=policy)  # type: ignore[arg-type]
    return HttpTransport(api, "ns")


async def events(
    calls: HttpTransport, version: str | None = "10", **kwargs: bool
) -> tuple[list[tuple[str, str, str | None]], Exception | None]:
    seen: list[tuple[str, str, str | None]] = []
    try:
        async with aclosing(calls.watch({"app": "x"}, version, **kwargs)) as stream:
            async for kind, secret in stream:
                seen.append((kind, secret.name, secret.resource_version))
    except Exception as exc:  # the watch's final error is part of what is checked
        return seen, exc
    return seen, None


async def test_streams_closed_at_once_are_reopened_a_few_times_then_the_watch_stops() -> None:
    driver = ScriptedStreams(then=[])
    seen, error = await events(transport(driver))
    assert seen == []
    assert isinstance(error, ProviderUnavailable)
    assert "check the API server and any proxy" in str(error)
    assert len(driver.opened) == POLICY.attempts + 1
    assert driver.sent == []  # no LIST in between


async def test_streams_closed_at_once_are_reopened_ever_more_slowly() -> None:
    """Counted in fake time: the pauses the watch asked for, not the test's wall clock."""
    driver = ScriptedStreams(then=[])
    await events(transport(driver, RetryPolicy(attempts=50, base_delay=0.2, max_delay=5.0)))
    assert len(driver.opened) == 51
    assert len([t for t in driver.opened_at if t < 10.0]) <= 8  # not ~1300 a second
    assert len([t for t in driver.opened_at if t < 60.0]) <= 28  # pauses of 2.5-5 s by then


async def test_a_throttled_watch_waits_for_retry_after_before_reopening() -> None:
    driver = ScriptedStreams(refusal(429, Retry_After="2"), [event("ADDED", "a", "11")], then=[])
    seen, _ = await events(transport(driver, RetryPolicy(attempts=1, base_delay=0.2)))
    assert seen == [("ADDED", "a", "11")]
    assert driver.opened_at[1] - driver.opened_at[0] >= 2.0


async def test_a_forbidden_watch_stops_at_once_without_reopening_or_listing() -> None:
    driver = ScriptedStreams(refusal(403))
    seen, error = await events(transport(driver))
    assert seen == []
    assert isinstance(error, PermissionDenied)
    assert len(driver.opened) == 1
    assert driver.sent == []
    assert driver.slept == []


async def test_a_410_restarts_without_a_resource_version() -> None:
    driver = ScriptedStreams(refusal(410), [event("ADDED", "a", "50"), error_event(410)])
    driver.then = refusal(403)  # ends the test
    seen, error = await events(transport(driver))
    assert seen == [("ADDED", "a", "50")]
    assert [version_of(target) for target, _ in driver.opened] == ["10", None, None]
    assert isinstance(error, PermissionDenied)


async def test_a_410_raises_gone_when_the_caller_resyncs_itself() -> None:
    driver = ScriptedStreams(refusal(410))
    _, error = await events(transport(driver), restart_on_gone=False)
    assert isinstance(error, Gone)
    assert len(driver.opened) == 1


async def test_events_reset_the_failure_count_and_the_watch_resumes_after_them() -> None:
    policy = RetryPolicy(attempts=2, base_delay=0.2)
    driver = ScriptedStreams(
        [], [], [event("ADDED", "a", "21"), event("MODIFIED", "a", "22")], then=[]
    )
    seen, error = await events(transport(driver, policy))
    assert seen == [("ADDED", "a", "21"), ("MODIFIED", "a", "22")]
    assert isinstance(error, ProviderUnavailable)
    # 2 empty, 1 with events (the count starts again), then 3 empty: the third stops it.
    assert len(driver.opened) == 6
    assert [version_of(target) for target, _ in driver.opened] == ["10"] * 3 + ["22"] * 3


async def test_a_broken_stream_stops_the_watch_with_where_to_resume() -> None:
    broken = NoReply(message.DROPPED, "ServerDisconnectedError: gone", sent=True)
    driver = ScriptedStreams([event("ADDED", "a", "30")], broken)
    seen, error = await events(transport(driver))
    assert seen == [("ADDED", "a", "30")]
    assert isinstance(error, ProviderUnavailable)
    assert "start it again from the last resource version" in str(error)
    assert [version_of(target) for target, _ in driver.opened] == ["10", "30"]


async def test_a_401_on_a_watch_reads_the_rotated_token_once(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("first-token")
    tokens = TokenFile(str(path), "tokenFile of the test's kubeconfig")
    tokens.token()

    class Rotating(ScriptedStreams):
        async def lines(
            self, request: Request, auth: Mapping[str, str], max_line: int
        ) -> AsyncGenerator[bytes, None]:
            if len(self.opened) == 0:
                path.write_text("second-token")
            async for line in super().lines(request, auth, max_line):
                yield line

    # The events after the new token reset the one new authentication a watch may ask
    # for; the next 401, with a token file that holds nothing newer, is final.
    driver = Rotating(refusal(401), [event("ADDED", "a", "40")], refusal(401))
    seen, error = await events(transport(driver, token_file=tokens))
    assert seen == [("ADDED", "a", "40")]
    assert [auth for _, auth in driver.opened] == [
        "Bearer first-token",
        "Bearer second-token",
        "Bearer second-token",
    ]
    assert isinstance(error, AuthenticationError)
