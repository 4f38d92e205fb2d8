"""The Kubernetes API core's retry loop (``ApiClient.call``) without a socket.

A scripted driver stands in for the network: it hands back the answers and failures a
test lists, one per attempt, records what was sent and the pauses asked for, and sleeps
for no time. A real server cannot be made to lose a reply, throttle or drop a kept-alive
connection at a chosen attempt in milliseconds; the real drivers are held to the
matching behaviour against real servers on loopback in ``test_http_drivers.py`` and the
transport tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, Callable, Mapping
from pathlib import Path

import pytest

from nebula_credential import (
    AuthenticationError,
    ConfigurationError,
    PayloadTooLarge,
    ProviderUnavailable,
)
from nebula_credential.http import message
from nebula_credential.http.message import NoReply, Request, Response
from nebula_credential.kubernetes.api.errors import Operation
from nebula_credential.kubernetes.api.exchange import ApiClient
from nebula_credential.kubernetes.api.requests import ApiRequest
from nebula_credential.kubernetes.api.retry import RetryPolicy
from nebula_credential.kubernetes.api.secret_calls import HttpTransport
from nebula_credential.kubernetes.config.endpoint import Endpoint
from nebula_credential.kubernetes.config.tokens import TokenFile
from nebula_credential.kubernetes.model.objects import SecretObject

SERVER = "http://api.test:8080"
FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, deadline=30)
Step = Response | NoReply | Callable[[], Response | NoReply]


class ScriptedDriver:
    """The answers of ``script`` in order, one per attempt (see the module docstring)."""

    origin = SERVER
    blocking = False

    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.sent: list[tuple[str, str, str]] = []  # (method, target, Authorization)
        self.slept: list[float] = []

    async def send(self, request: Request, auth: Mapping[str, str]) -> Response:
        self.sent.append((request.method, request.target, auth.get("Authorization", "")))
        assert self.script, f"{request!r} was sent once more than the test expected"
        step = self.script.pop(0)
        if callable(step):
            step = step()
        if isinstance(step, NoReply):
            raise step
        return step

    def lines(
        self, request: Request, auth: Mapping[str, str], max_line: int
    ) -> AsyncGenerator[bytes, None]:
        raise AssertionError("no watch in these tests")

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def close(self) -> None:
        pass


def reply(code: int, body: object = None, **headers: str) -> Response:
    if body is None:
        body = {"kind": "Status", "code": code, "message": f"status {code}"}
    return Response(code, "", {k.replace("_", "-"): v for k, v in headers.items()}, _json(body))


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


def secret(name: str, version: str = "7") -> dict[str, object]:
    meta = {"name": name, "namespace": "ns", "resourceVersion": version, "uid": "u-1"}
    return {"kind": "Secret", "apiVersion": "v1", "metadata": meta, "data": {}}


def not_found() -> Response:
    status = {"kind": "Status", "code": 404, "reason": "NotFound", "details": {"kind": "secrets"}}
    return reply(404, status)


def dropped(*, sent: bool = True, reused: bool = False) -> NoReply:
    return NoReply(message.DROPPED, "RemoteDisconnected: gone", sent=sent, reused=reused)


def endpoint(*, proxy: str | None = None, token_file: TokenFile | None = None) -> Endpoint:
    return Endpoint(
        server=SERVER,
        proxy=proxy,
        server_hostname=None,
        ca=None,
        insecure=False,
        client_cert=None,
        headers={} if token_file else {"Authorization": "Bearer static-token"},
        token_file=token_file,
        plugin=None,
        where="the test's kubeconfig",
    )


def client(driver: ScriptedDriver, policy: RetryPolicy = FAST, **kwargs: object) -> ApiClient:
    return ApiClient(driver, endpoint(**kwargs), policy=policy)  # type: ignore[arg-type]


def transport(
    driver: ScriptedDriver, policy: RetryPolicy = FAST, **kwargs: object
) -> HttpTransport:
    return HttpTransport(client(driver, policy, **kwargs), "ns")


# -- Retry-After, deadline, attempts -----------------------------------------------------


async def test_a_retry_after_past_the_deadline_gives_up_at_once_without_sleeping() -> None:
    driver = ScriptedDriver(reply(429, Retry_After="2"))
    calls = transport(driver, RetryPolicy(attempts=5, base_delay=0.01, deadline=1.0))
    with pytest.raises(ProviderUnavailable, match=r"after 1 attempt\(s\).*HTTP 429"):
        await calls.get("s")
    assert driver.slept == []
    assert len(driver.sent) == 1
    assert (calls.stats.throttled, calls.stats.gave_up, calls.stats.retries) == (1, 1, 0)


async def test_retry_after_is_waited_at_least_then_the_call_succeeds() -> None:
    driver = ScriptedDriver(
        reply(429, Retry_After="0.5"), reply(503, Retry_After="1.5"), reply(200, secret("s"))
    )
    calls = transport(driver)
    found = await calls.get("s")
    assert found is not None
    assert found.name == "s"
    assert len(driver.slept) == 2
    assert 0.5 <= driver.slept[0] <= 0.5 + FAST.base_delay
    assert 1.5 <= driver.slept[1] <= 1.5 + FAST.base_delay
    assert (calls.stats.throttled, calls.stats.server_errors, calls.stats.retries) == (1, 1, 2)


async def test_attempts_are_bounded_and_the_error_says_how_many() -> None:
    driver = ScriptedDriver(*[reply(503) for _ in range(10)])
    calls = transport(driver, RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    with pytest.raises(ProviderUnavailable, match=r"after 3 attempt\(s\).*HTTP 503") as caught:
        await calls.get("s")
    assert len(driver.sent) == 3
    assert len(driver.slept) == 2
    assert all(0 <= pause <= 0.05 for pause in driver.slept)
    assert "kubectl get --raw /readyz" in str(caught.value)


async def test_etcds_request_too_large_is_final() -> None:
    too_large = {"kind": "Status", "code": 500, "message": "etcdserver: request is too large"}
    driver = ScriptedDriver(reply(500, too_large))
    with pytest.raises(PayloadTooLarge, match="too large for it"):
        await transport(driver).create(SecretObject("s", data={"k": "dg=="}))
    assert len(driver.sent) == 1


# -- authentication ----------------------------------------------------------------------


def swap(path: Path, token: str) -> None:
    """Replace the file as the kubelet does: a new file renamed over the old one."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(token + "\n")
    os.replace(fresh, path)


def token_file(tmp_path: Path) -> TokenFile:
    path = tmp_path / "token"
    path.write_text("first-token\n")
    return TokenFile(str(path), "tokenFile of the test's kubeconfig")


async def test_a_401_reads_the_rotated_token_file_and_retries_once_with_it(
    tmp_path: Path,
) -> None:
    tokens = token_file(tmp_path)

    def rotated_then_refused() -> Response:
        swap(tmp_path / "token", "second-token")
        return reply(401)

    driver = ScriptedDriver(rotated_then_refused, reply(200, secret("s")))
    calls = transport(driver, token_file=tokens)
    assert await calls.get("s") is not None
    assert [auth for _, _, auth in driver.sent] == ["Bearer first-token", "Bearer second-token"]
    assert driver.slept == []
    assert calls.stats.reauthentications == 1


async def test_a_second_401_is_an_authentication_error_after_exactly_one_retry(
    tmp_path: Path,
) -> None:
    tokens = token_file(tmp_path)

    def rotated_then_refused() -> Response:
        swap(tmp_path / "token", "second-token")
        return reply(401)

    driver = ScriptedDriver(rotated_then_refused, reply(401), reply(200, secret("s")))
    with pytest.raises(AuthenticationError, match="HTTP 401") as caught:
        await transport(driver, token_file=tokens).get("s")
    assert len(driver.sent) == 2
    assert "second-token" not in str(caught.value)


async def test_a_401_that_no_new_credential_can_cure_is_not_retried() -> None:
    driver = ScriptedDriver(reply(401), reply(200, secret("s")))
    with pytest.raises(AuthenticationError, match="rejected our credentials"):
        await transport(driver).get("s")
    assert len(driver.sent) == 1


async def test_a_token_file_missing_at_the_401_keeps_the_last_good_token(
    tmp_path: Path,
) -> None:
    """The kubelet's swap caught half way: the file is gone when the 401 makes us read it
    again. The 401 is reported as what it is, and the next call still authenticates with
    the last good token instead of failing on the missing file."""
    tokens = token_file(tmp_path)

    def refused_mid_swap() -> Response:
        (tmp_path / "token").unlink()
        return reply(401)

    driver = ScriptedDriver(refused_mid_swap, reply(200, secret("s")))
    calls = transport(driver, token_file=tokens)
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        await calls.get("s")
    assert await calls.get("s") is not None
    assert [auth for _, _, auth in driver.sent] == ["Bearer first-token", "Bearer first-token"]


def test_a_token_file_read_again_after_a_401_falls_back_to_the_last_good_token(
    tmp_path: Path,
) -> None:
    tokens = token_file(tmp_path)
    assert tokens.token() == "first-token"
    tokens.forget()  # a 401
    (tmp_path / "token").unlink()
    assert tokens.token() == "first-token"  # the retry: mid-swap, the last good one
    (tmp_path / "token").write_text("")
    assert tokens.token() == "first-token"
    swap(tmp_path / "token", "second-token")
    assert tokens.token() == "second-token"  # looked at again at once, not in a second


def test_a_token_file_replaced_before_the_retry_gives_the_new_token(tmp_path: Path) -> None:
    tokens = token_file(tmp_path)
    assert tokens.token() == "first-token"
    swap(tmp_path / "token", "second-token")
    assert tokens.token() == "first-token"  # within the check interval: not looked at
    tokens.forget()
    assert tokens.token() == "second-token"


def test_a_token_file_never_read_names_the_file(tmp_path: Path) -> None:
    tokens = TokenFile(str(tmp_path / "absent"), "tokenFile of the test's kubeconfig")
    tokens.forget()
    with pytest.raises(ConfigurationError, match=r"token file .*absent .* cannot be read"):
        tokens.token()


# -- lost replies and how a request may be repeated ----------------------------------------


async def test_a_request_sent_only_once_is_not_resent_after_a_dropped_connection() -> None:
    driver = ScriptedDriver(dropped(), reply(200, {}))
    request = ApiRequest(
        Operation("create", "ns", "grant"), "POST", "/token", body=b"{}", resend=message.ONCE
    )
    with pytest.raises(ProviderUnavailable, match="may have been applied: check before"):
        await client(driver).call(request)
    assert len(driver.sent) == 1
    assert driver.slept == []


async def test_a_request_sent_only_once_is_retried_when_it_never_left() -> None:
    refused = NoReply(message.CONNECT, "ConnectionRefusedError", sent=False)
    driver = ScriptedDriver(refused, reply(200, {}))
    request = ApiRequest(
        Operation("create", "ns", "grant"), "POST", "/token", body=b"{}", resend=message.ONCE
    )
    answer = await client(driver).call(request)
    assert answer.status == 200
    assert len(driver.sent) == 2


async def test_a_guarded_create_is_resent_after_a_dropped_connection_and_counted() -> None:
    driver = ScriptedDriver(dropped(), reply(201, secret("s", version="8")))
    calls = transport(driver)
    version = await calls.create(SecretObject("s", data={"k": "dg=="}))
    assert version == "8"
    assert [method for method, _, _ in driver.sent] == ["POST", "POST"]
    assert len(driver.slept) == 1
    assert (calls.stats.retries, calls.stats.connection_errors, calls.stats.requests) == (1, 1, 2)


@pytest.mark.parametrize(
    ("first", "deleted"),
    [
        (dropped(), True),  # our DELETE may have landed: the 404 is its effect
        (reply(503), True),  # a 5xx to a guarded write may have been applied too
        (NoReply(message.CONNECT, "refused", sent=False), False),  # never left: absent
        (None, False),  # a plain 404: there was nothing to delete
    ],
    ids=["reply-lost", "server-error", "never-sent", "plain-404"],
)
async def test_a_delete_that_finds_nothing_says_whether_it_deleted(
    first: Step | None, deleted: bool
) -> None:
    driver = ScriptedDriver(*([first] if first is not None else []), not_found())
    calls = transport(driver)
    assert await calls.delete(SecretObject("s", uid="u-1", resource_version="7")) is deleted
    assert [method for method, _, _ in driver.sent] == ["DELETE"] * (2 if first else 1)


async def test_a_kept_alive_connection_closed_while_idle_is_resent_at_once() -> None:
    driver = ScriptedDriver(dropped(reused=True), reply(200, secret("s")))
    assert await transport(driver).get("s") is not None
    assert len(driver.sent) == 2
    assert driver.slept == []  # the server was idle, not down: no backoff


async def test_a_fresh_connection_dropped_under_a_request_backs_off() -> None:
    driver = ScriptedDriver(dropped(reused=False), reply(200, secret("s")))
    assert await transport(driver).get("s") is not None
    assert len(driver.slept) == 1  # an outage, maybe: the policy's backoff


async def test_an_oversized_answer_is_refused_with_a_typed_error_and_not_retried() -> None:
    too_large = NoReply(message.TOO_LARGE, "an answer larger than 65536 bytes", sent=True)
    driver = ScriptedDriver(too_large, reply(200, secret("s")))
    calls = transport(driver)
    with pytest.raises(ProviderUnavailable, match=r"larger than 65536 bytes.*API server"):
        await calls.get("s")
    assert len(driver.sent) == 1
    assert driver.slept == []
    assert calls.stats.retries == 0


async def test_an_untrusted_certificate_is_a_configuration_error_not_retried() -> None:
    untrusted = NoReply(message.UNTRUSTED, "SSLCertVerificationError", sent=False)
    driver = ScriptedDriver(untrusted, reply(200, secret("s")))
    with pytest.raises(ConfigurationError, match=r"not trusted.*certificate-authority"):
        await transport(driver).get("s")
    assert len(driver.sent) == 1


async def test_when_the_proxy_fails_the_error_names_the_proxy_not_the_api_server() -> None:
    def proxy_down() -> NoReply:
        return NoReply(message.PROXY, "ClientProxyConnectionError: refused", sent=False)

    driver = ScriptedDriver(proxy_down, proxy_down)
    policy = RetryPolicy(attempts=2, base_delay=0.01)
    calls = transport(driver, policy, proxy="http://user:pass-canary@proxy.test:3128")
    with pytest.raises(ProviderUnavailable) as caught:
        await calls.get("s")
    said = str(caught.value)
    assert "the proxy http://proxy.test:3128 did not let us get secrets" in said
    assert "HTTPS_PROXY" in said
    assert "/readyz" not in said
    assert "pass-canary" not in said


async def test_when_the_server_fails_directly_the_error_names_the_api_server() -> None:
    def refused() -> NoReply:
        return NoReply(message.CONNECT, "ClientConnectorError: refused", sent=False)

    driver = ScriptedDriver(refused, refused)
    calls = transport(driver, RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(ProviderUnavailable, match=r"API server at http://api.test:8080 did not"):
        await calls.get("s")
