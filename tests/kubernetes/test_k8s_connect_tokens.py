"""Bearer tokens, token files re-read when they change, and user name/password, against
the real API server (the token pool of the test plane, tokens.csv)."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import pytest
from aiohttp import web
from connect_support import b64, endpoint_from, list_secrets, write_kubeconfig

from nebula_credential.domain import ConfigurationError
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes


def _cluster(plane: ControlPlane) -> dict[str, str]:
    return {"server": plane.server, "certificate-authority-data": b64(plane.ca_pem)}


def _rewrite(path: Path, token: str) -> None:
    """Swap the file as the kubelet does: write beside it, then rename over it."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(token + "\n")
    os.replace(fresh, path)


async def test_static_token_is_the_users_identity(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"tok-{secrets.token_hex(3)}"
    reader = control_plane.identity(namespace, ["list"])
    path = write_kubeconfig(
        tmp_path / "k.yaml", _cluster(control_plane), {"token": reader.token}, namespace
    )
    endpoint = endpoint_from(path)
    assert await list_secrets(endpoint, namespace) == (200, "")
    assert reader.token not in repr(endpoint)
    assert (await list_secrets(endpoint, "default"))[0] == 403


async def test_token_file_rewritten_while_open_takes_effect_without_a_401(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"tokf-{secrets.token_hex(3)}"
    reader = control_plane.identity(namespace, ["list"])
    stranger = control_plane.identity(f"other-{secrets.token_hex(3)}", ["list"])
    token_file = tmp_path / "token"
    token_file.write_text(reader.token)
    path = write_kubeconfig(
        tmp_path / "k.yaml", _cluster(control_plane), {"tokenFile": "token"}, namespace
    )
    endpoint = endpoint_from(path)
    assert await list_secrets(endpoint, namespace) == (200, "")
    _rewrite(token_file, stranger.token)
    await asyncio.sleep(1.1)  # the file is looked at once a second at most
    status, message = await list_secrets(endpoint, namespace)
    assert status == 403  # a valid token of someone else: no 401 was needed to notice
    assert stranger.username in message
    _rewrite(token_file, reader.token)
    await asyncio.sleep(1.1)
    assert await list_secrets(endpoint, namespace) == (200, "")


async def test_token_file_emptied_or_deleted_keeps_the_last_token_through_a_401(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = f"tokd-{secrets.token_hex(3)}"
    reader = control_plane.identity(namespace, ["list"])
    token_file = tmp_path / "token"
    token_file.write_text(reader.token)
    path = write_kubeconfig(
        tmp_path / "k.yaml", _cluster(control_plane), {"tokenFile": str(token_file)}, namespace
    )
    endpoint = endpoint_from(path)
    assert await list_secrets(endpoint, namespace) == (200, "")
    token_file.write_text("")
    await asyncio.sleep(1.1)
    assert await list_secrets(endpoint, namespace) == (200, "")
    token_file.unlink()
    await asyncio.sleep(1.1)
    assert await list_secrets(endpoint, namespace) == (200, "")
    # After a 401 the file is read again, but while it is missing the last good token is
    # what there is: no retry with the same token, and no failure of the next request.
    assert await endpoint.unauthorized() is False
    assert await endpoint.headers() == {"Authorization": f"Bearer {reader.token}"}
    assert await list_secrets(endpoint, namespace) == (200, "")
    token_file.write_text("not-a-token-the-server-knows")
    assert await endpoint.headers() == {"Authorization": "Bearer not-a-token-the-server-knows"}


async def test_token_file_missing_at_first_use_names_the_file(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "k.yaml",
        {"server": "https://127.0.0.1:1"},
        {"tokenFile": "absent"},
        "default",
    )
    endpoint = endpoint_from(path)  # no file is read for tokens until a request
    with pytest.raises(ConfigurationError, match=r"token file .*absent \(tokenFile of"):
        await endpoint.headers()


async def test_username_and_password_are_sent_as_basic_auth(tmp_path: Path) -> None:
    """kube-apiserver 1.19+ dropped --basic-auth-file, so a real aiohttp server on loopback
    stands in to see the header; kubectl still sends it (for authenticating proxies)."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"kind": "SecretList", "items": []})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/{ns}/secrets", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        path = write_kubeconfig(
            tmp_path / "k.yaml",
            {"server": f"http://127.0.0.1:{port}"},
            {"username": "ops", "password": "pa:ss-canary"},
            "default",
        )
        endpoint = endpoint_from(path)
        assert endpoint.ssl_context() is False
        assert await list_secrets(endpoint, "default") == (200, "")
        assert seen == [f"Basic {b64(b'ops:pa:ss-canary')}"]
        assert "canary" not in repr(endpoint)
    finally:
        await runner.cleanup()


async def test_wrong_token_gets_401_and_no_pointless_retry(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    path = write_kubeconfig(
        tmp_path / "k.yaml", _cluster(control_plane), {"token": "not-a-token"}, "default"
    )
    endpoint = endpoint_from(path)
    assert (await list_secrets(endpoint, "default"))[0] == 401
    assert await endpoint.unauthorized() is False


async def test_tokens_that_would_forge_headers_are_refused_without_being_shown(
    tmp_path: Path,
) -> None:
    cluster = {"server": "https://127.0.0.1:1"}
    forged = "canary-tok\r\nX-Injected: 1"
    path = write_kubeconfig(tmp_path / "k.yaml", cluster, {"token": forged}, "default")
    with pytest.raises(ConfigurationError, match="not one line of printable ASCII") as caught:
        endpoint_from(path)
    assert "canary" not in str(caught.value)
    (tmp_path / "token").write_text("canary-tok\x00X")
    path = write_kubeconfig(tmp_path / "f.yaml", cluster, {"tokenFile": "token"}, "default")
    endpoint = endpoint_from(path)
    with pytest.raises(ConfigurationError, match="does not hold one token") as caught:
        await endpoint.headers()
    assert "canary" not in str(caught.value)
