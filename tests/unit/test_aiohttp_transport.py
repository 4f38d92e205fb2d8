"""The aiohttp transport against a real HTTP server on loopback that answers as a proxy
or a misbehaving API server would (replies the real API server cannot be made to send
on demand: a 429 storm, a 401 after a token rotation, a 2 MiB watch event)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx2
import pytest
from aiohttp import web
from lightkube import ApiError
from nebula_credential.kubernetes.aiohttp_transport import AiohttpTransport

from nebula_credential import AuthenticationError, PermissionDenied
from nebula_credential.kubernetes import RetryPolicy
from nebula_credential.kubernetes.api.errors import Operation, error_for, read_reply, reply_of
from nebula_credential.kubernetes.config.cluster import load_cluster_config
from nebula_credential.kubernetes.config.endpoint import endpoint_for
from nebula_credential.kubernetes.model.objects import SecretObject

CANARY = "canary-aiohttp-5e1d"
Handler = Callable[[web.Request], web.StreamResponse]


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
async def serve(tmp_path: Path) -> AsyncIterator[Callable[[Handler], object]]:
    runners: list[web.AppRunner] = []
    token = tmp_path / "token"
    token.write_text("first-token")

    async def start(handler: Handler) -> AiohttpTransport:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        target = load_cluster_config(
            kubeconfig=kubeconfig(tmp_path, f"http://127.0.0.1:{port}", token), namespace="ns"
        )
        policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, deadline=20)
        return AiohttpTransport(endpoint_for(target), "ns", policy=policy, timeout=5)

    yield start
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


async def test_a_429_storm_is_retried_after_retry_after_then_succeeds(serve) -> None:
    calls: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(time.monotonic())
        if len(calls) <= 3:
            body = status(429, "TooManyRequests", "slow down")
            return web.json_response(body, status=429, headers={"Retry-After": "0.2"})
        return web.json_response(secret("s"))

    transport = await serve(handler)
    try:
        found = await transport.get("s")
    finally:
        await transport.close()
    assert found is not None
    assert found.data == {"k": "dmFsdWU="}
    assert transport.stats.throttled == 3
    assert all(b - a >= 0.2 for a, b in itertools.pairwise(calls))


async def test_a_401_rereads_the_token_file_and_retries_once(serve, tmp_path: Path) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != "Bearer second-token":
            (tmp_path / "token").write_text("second-token")  # rotated meanwhile
            return web.json_response(status(401, "Unauthorized", "no"), status=401)
        return web.json_response(secret("s"))

    transport = await serve(handler)
    try:
        assert await transport.get("s") is not None
    finally:
        await transport.close()
    assert seen == ["Bearer first-token", "Bearer second-token"]


async def test_a_401_that_a_new_token_does_not_cure_is_an_authentication_error(
    serve,
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(status(401, "Unauthorized", "no"), status=401)

    transport = await serve(handler)
    try:
        with pytest.raises(AuthenticationError, match="HTTP 401"):
            await transport.get("s")
    finally:
        await transport.close()


async def test_a_refused_write_keeps_no_request_body_in_its_chain(serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(status(403, "Forbidden", "no"), status=403)

    transport = await serve(handler)
    try:
        with pytest.raises(PermissionDenied) as caught:
            await transport.create(SecretObject("s", data={"k": CANARY}))
    finally:
        await transport.close()
    assert caught.value.__context__ is None
    assert CANARY not in "".join(traceback.format_exception(caught.value))


async def test_a_watch_event_larger_than_aiohttps_line_limit_arrives(serve) -> None:
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
        await transport.close()
    assert seen == [("ADDED", "s0", len(big)), ("ADDED", "s1", len(big))]


async def test_requests_reuse_one_keep_alive_connection(serve) -> None:
    peers: set[object] = set()

    async def handler(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return web.json_response(secret(request.path.rsplit("/", 1)[-1]))

    transport = await serve(handler)
    try:
        for i in range(20):
            assert await transport.get(f"s{i}") is not None
    finally:
        await transport.close()
    assert len(peers) == 1


@pytest.mark.parametrize(
    ("code", "body", "headers"),
    [
        (403, status(403, "Forbidden", "secrets is forbidden"), {}),
        (401, status(401, "Unauthorized", "Unauthorized"), {}),
        (404, {**status(404, "NotFound", "ns"), "details": {"kind": "namespaces"}}, {}),
        (409, status(409, "AlreadyExists", "exists"), {}),
        (409, status(409, "Conflict", "modified"), {}),
        (413, status(413, "RequestEntityTooLarge", "too large"), {}),
        (422, status(422, "Invalid", "bad label"), {}),
        (500, status(500, "InternalError", "etcdserver: request is too large"), {}),
        (502, None, {}),
    ],
)
def test_both_transports_map_an_error_reply_alike(
    code: int, body: dict[str, object] | None, headers: dict[str, str]
) -> None:
    raw = b"<html>bad gateway</html>" if body is None else json.dumps(body).encode()
    request = httpx2.Request("POST", "https://127.0.0.1:1/api/v1/namespaces/x/secrets")
    response = httpx2.Response(code, content=raw, headers=headers, request=request)
    lightkube_error: httpx2.HTTPStatusError = (
        httpx2.HTTPStatusError("x", request=request, response=response)
        if body is None
        else ApiError(request=request, response=response)
    )
    op = Operation("create", "x", "s")
    ours = error_for(reply_of(code, response.reason_phrase, {}, raw), op, server="s", context=None)
    theirs = error_for(read_reply(lightkube_error), op, server="s", context=None)
    assert (type(ours), str(ours)) == (type(theirs), str(theirs))
