"""One test per lightkube internal that ``kubernetes/_lightkube_compat.py`` relies on.

These pin lightkube's behaviour, not the API server's: an in-memory httpx2 transport
(passed through lightkube's public ``transport`` argument) answers, so each test shows
exactly which request lightkube sends and how it surfaces the reply. When a lightkube
upgrade fails one of them, fix the matching function in the compat module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Secret

from nebula_credential.kubernetes._lightkube_compat import (
    list_page,
    set_auth,
    set_user_agent,
    status_error,
)
from nebula_credential.kubernetes.client import USER_AGENT

Handler = Callable[[httpx2.Request], httpx2.Response]


def secret_json(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7"},
        "data": {},
        "type": "Opaque",
    }


def client_answering(handler: Handler, **kwargs: Any) -> AsyncClient:
    config = KubeConfig.from_dict(
        {
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )
    return AsyncClient(config, namespace="ns", transport=httpx2.MockTransport(handler), **kwargs)


async def test_user_agent_header_of_the_private_httpx_client_reaches_the_wire() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=secret_json("a"))

    client = client_answering(handler)
    set_user_agent(client, USER_AGENT)
    await client.get(Secret, "a", namespace="ns")
    await client.close()
    assert seen[0].headers["User-Agent"] == USER_AGENT


async def test_auth_of_the_private_httpx_client_replaces_the_kubeconfig_user() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=secret_json("a"))

    client = client_answering(handler)
    set_auth(client, httpx2.BasicAuth("ops", "pw"))
    await client.get(Secret, "a", namespace="ns")
    await client.close()
    assert seen[0].headers["Authorization"] == "Basic b3BzOnB3"  # not "Bearer t"


async def test_field_manager_argument_names_us_on_writes() -> None:
    # Public API, pinned all the same: managedFields must say nebula-credential.
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(201, json=secret_json("a"))

    client = client_answering(handler, field_manager="nebula-credential")
    await client.create(Secret(metadata=ObjectMeta(name="a", namespace="ns"), data={}))
    await client.close()
    assert seen[0].url.params["fieldManager"] == "nebula-credential"


async def test_generic_client_sends_one_list_page_with_its_token_and_version() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        last = "continue" in request.url.params
        body = {
            "apiVersion": "v1",
            "kind": "SecretList",
            "metadata": {"resourceVersion": "9", **({} if last else {"continue": "tok-1"})},
            "items": [secret_json("b" if last else "a")],
        }
        return httpx2.Response(200, json=body)

    client = client_answering(handler)
    params = {"limit": 1, "labelSelector": "k=v"}
    token, version, items = await list_page(client, "ns", params)
    assert token == "tok-1"
    assert version == "9"
    assert [item.metadata.name for item in items] == ["a"]
    token, _, items = await list_page(client, "ns", {**params, "continue": token})
    await client.close()
    assert token is None
    assert [item.metadata.name for item in items] == ["b"]
    assert [dict(r.url.params) for r in seen] == [
        {"limit": "1", "labelSelector": "k=v"},
        {"limit": "1", "labelSelector": "k=v", "continue": "tok-1"},
    ]
    assert seen[0].url.path == "/api/v1/namespaces/ns/secrets"


async def test_error_reply_without_content_type_surfaces_as_key_error() -> None:
    client = client_answering(lambda _: httpx2.Response(502, content=b"bad gateway"))
    with pytest.raises(KeyError) as caught:
        await client.get(Secret, "a", namespace="ns")
    await client.close()
    reply = status_error(caught.value)
    assert reply is not None
    assert reply.response.status_code == 502


async def test_json_error_reply_surfaces_as_api_error_with_its_status() -> None:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'namespaces "gone" not found',
        "reason": "NotFound",
        "details": {"name": "gone", "kind": "namespaces"},
        "code": 404,
    }
    client = client_answering(
        lambda _: httpx2.Response(
            404, content=json.dumps(status).encode(), headers={"Content-Type": "application/json"}
        )
    )
    with pytest.raises(httpx2.HTTPStatusError) as caught:
        await client.get(Secret, "a", namespace="ns")
    await client.close()
    assert status_error(caught.value) is caught.value
    assert caught.value.status.details.kind == "namespaces"  # type: ignore[attr-defined]


def test_other_errors_are_not_http_replies() -> None:
    assert status_error(KeyError("Content-Type")) is None
    assert status_error(ValueError("x")) is None


async def test_http_client_is_the_one_lightkube_sends_with() -> None:
    # doctor's probe sends /version and discovery through it: base URL and auth included.
    from nebula_credential.kubernetes._lightkube_compat import http_client

    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"gitVersion": "v1.20.2"})

    client = client_answering(handler)
    reply = await http_client(client).get("/version")
    await client.close()
    assert reply.json() == {"gitVersion": "v1.20.2"}
    assert str(seen[0].url) == "https://127.0.0.1:1/version"
    assert seen[0].headers["Authorization"] == "Bearer t"
