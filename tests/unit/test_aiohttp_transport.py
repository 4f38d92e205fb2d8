"""The Secret transport on the aiohttp driver against a real HTTP server on loopback that
answers as a proxy or a misbehaving API server would (replies the real API server cannot
be made to send on demand: a 429 storm, a 401 after a token rotation, a 2 MiB watch
event, a watch stream closed at once, a reply lost after the delete was done)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from nebula_credential import AuthenticationError, PermissionDenied
from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.kubernetes.api.clients import client_on
from nebula_credential.kubernetes.api.secret_calls import HttpTransport
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.kubernetes.model.objects import SecretObject

CANARY = "canary-aiohttp-5e1d"
FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, deadline=20)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[..., Awaitable[HttpTransport]]


def kubeconfig(tmp_path: Path, server: str, token_file: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"tokenFile": str(token_file)}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []
    transports: list[HttpTransport] = []
    token = tmp_path / "token"
    token.write_text("first-token")

    async def start(handler: Handler, policy: RetryPolicy = FAST) -> HttpTransport:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        target = load_cluster_config(
            kubeconfig=kubeconfig(tmp_path, f"http://127.0.0.1:{port}", token),
            namespace="ns",
            environ={},
        )
        transport = HttpTransport(client_on("aiohttp", target, policy=policy, timeout=5), "ns")
        transports.append(transport)
        return transport

    yield start
    for transport in transports:
        await transport.close()
    for runner in runners:
        await runner.cleanup()


def status(code: int, reason: str, message: str) -> dict[str, object]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "code": code,
        "reason": reason,
        "message": message,
    }


def secret(name: str, version: str = "7", value: str = "dmFsdWU=") -> dict[str, object]:
    meta = {"name": name, "resourceVersion": version, "uid": "u-1", "labels": {"a": "b"}}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"k": value}}


async def test_a_429_storm_is_retried_after_retry_after_then_succeeds(serve: Serve) -> None:
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) <= 3:
            body = status(429, "TooManyRequests", "slow down")
            return web.json_response(body, status=429, headers={"Retry-After": "0.2"})
        return web.json_response(secret("s"))

    transport = await serve(handler)
    found = await transport.get("s")
    assert found is not None
    assert found.data == {"k": "dmFsdWU="}
    assert transport.stats.throttled == 3
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(calls))


async def test_a_401_rereads_the_token_file_and_retries_once(serve: Serve, tmp_path: Path) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer second-token":
            (tmp_path / "token").write_text("second-token")  # rotated meanwhile
            return web.json_response(status(401, "Unauthorized", "no"), status=401)
        return web.json_response(secret("s"))

    transport = await serve(handler)
    assert await transport.get("s") is not None
    assert seen == ["Bearer first-token", "Bearer second-token"]


async def test_a_401_that_a_new_token_does_not_cure_is_an_authentication_error(
    serve: Serve,
) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response(status(401, "Unauthorized", "no"), status=401)

    transport = await serve(handler)
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        await transport.get("s")
    assert len(seen) == 1  # the file holds the same token: no pointless retry


async def test_a_refused_write_keeps_no_request_body_in_its_chain(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(status(403, "Forbidden", "no"), status=403)

    transport = await serve(handler)
    with pytest.raises(PermissionDenied) as caught:
        await transport.create(SecretObject("s", data={"k": CANARY}))
    assert caught.value.__context__ is None
    assert CANARY not in "".join(traceback.format_exception(caught.value))


async def test_a_delete_whose_reply_is_lost_reports_the_secret_deleted(serve: Serve) -> None:
    """The server deletes the Secret, then the connection breaks before the reply: the
    repeat finds nothing, and that is the first attempt's doing, not "it was absent"."""
    deletes: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.method == "GET":
            return web.json_response(secret("s"))
        deletes.append(request.method)
        if len(deletes) == 1:
            assert request.transport is not None
            request.transport.close()  # deleted; the reply never leaves
            return web.Response()
        body = {**status(404, "NotFound", "gone"), "details": {"kind": "secrets"}}
        return web.json_response(body, status=404)

    transport = await serve(handler)
    found = await transport.get("s")  # a kept-alive connection for the DELETE
    assert found is not None
    assert await transport.delete(found) is True
    assert deletes == ["DELETE", "DELETE"]
    assert transport.stats.retries == 1


async def test_a_watch_event_larger_than_aiohttps_line_limit_arrives(serve: Serve) -> None:
    big = "A" * (2 * 1024 * 1024)
    done = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(2):
            event = {"type": "ADDED", "object": secret(f"s{i}", str(i + 1), big)}
            await response.write(json.dumps(event).encode() + b"\n")
        with contextlib.suppress(TimeoutError):  # the server keeps the watch open
            await asyncio.wait_for(done.wait(), 30)
        return response

    transport = await serve(handler)
    seen: list[tuple[str, str, int]] = []
    try:
        async with asyncio.timeout(10):
            async for kind, found in transport.watch({"a": "b"}):
                seen.append((kind, found.name, len(found.data["k"])))
                if len(seen) == 2:
                    break
    finally:
        done.set()
    assert seen == [("ADDED", "s0", len(big)), ("ADDED", "s1", len(big))]


async def test_requests_reuse_one_keep_alive_connection(serve: Serve) -> None:
    peers: set[object] = set()

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return web.json_response(secret(request.path.rsplit("/", 1)[-1]))

    transport = await serve(handler)
    for i in range(20):
        assert await transport.get(f"s{i}") is not None
    assert len(peers) == 1


# -- the watch on the real driver ----------------------------------------------------------


async def drain(transport: HttpTransport, version: str | None = None) -> None:
    """Follow a watch that must end (or be cut short) without an event."""
    async for _ in transport.watch({"a": "b"}, version):
        raise AssertionError("no event was sent")


class Watches:
    """What a watch handler saw: the time and query of each request."""

    def __init__(self) -> None:
        self.opened: list[float] = []
        self.queries: list[dict[str, list[str]]] = []

    def record(self, request: web.Request) -> None:
        self.opened.append(time.monotonic())
        self.queries.append(parse_qs(request.query_string))


async def test_a_watch_closed_at_once_is_reopened_a_few_times_a_second_not_in_a_loop(
    serve: Serve,
) -> None:
    seen = Watches()

    async def closed_at_once(request: web.Request) -> web.StreamResponse:
        seen.record(request)
        response = web.StreamResponse()
        await response.prepare(request)
        return response  # the stream ends with no event, as some proxies end it

    policy = RetryPolicy(attempts=50, base_delay=0.1, max_delay=1.0)
    transport = await serve(closed_at_once, policy)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(drain(transport), 2)
    assert 2 <= len(seen.opened) < 20  # not ~1300 a second
    assert all("watch" in query for query in seen.queries)


async def test_a_throttled_watch_is_not_reopened_before_retry_after(serve: Serve) -> None:
    seen = Watches()

    async def throttled_then_forbidden(request: web.Request) -> web.Response:
        seen.record(request)
        if len(seen.opened) == 1:
            body = status(429, "TooManyRequests", "slow down")
            return web.json_response(body, status=429, headers={"Retry-After": "1"})
        return web.json_response(status(403, "Forbidden", "no"), status=403)

    transport = await serve(throttled_then_forbidden)
    with pytest.raises(PermissionDenied):
        await drain(transport)
    assert len(seen.opened) == 2
    assert seen.opened[1] - seen.opened[0] >= 1.0


async def test_a_forbidden_watch_is_not_retried_nor_followed_by_a_list(serve: Serve) -> None:
    seen = Watches()

    async def forbidden(request: web.Request) -> web.Response:
        seen.record(request)
        return web.json_response(status(403, "Forbidden", "secrets is forbidden"), status=403)

    transport = await serve(forbidden)
    with pytest.raises(PermissionDenied, match="cannot watch secrets"):
        await drain(transport, "12")
    assert len(seen.queries) == 1
    assert seen.queries[0]["watch"] == ["true"]
    assert seen.queries[0]["resourceVersion"] == ["12"]
