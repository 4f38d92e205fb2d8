"""Which token URLs a rotation accepts (no network: refused before any request)."""

from __future__ import annotations

import pytest

from nebula_credential.domain import NotRotatable
from nebula_credential.ops.token_endpoint import check_token_url


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/oauth/token",
        "http://127.0.0.1:8080/token",
        "http://127.8.9.10/token",
        "http://[::1]:9000/token",
        "http://localhost/token",
    ],
)
def test_accepted(url: str) -> None:
    assert check_token_url(url) == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://auth.example.com/token", "plain http"),
        ("http://10.0.0.1/token", "plain http"),
        ("ftp://127.0.0.1/token", "https://"),
        ("https:///token", "https://"),
        ("https://user:pw@auth.example.com/token", "user name or password"),
        ("https://[::1/token", "not a valid URL"),
        ("https://127.0.0.1:99999/", "not a valid URL"),
        ("https://exa mple.com/token", "control"),
        ("https://auth.example.com/\r\nX-Injected: 1", "control"),
        ("https://аuth.example.com/token", "non-ASCII"),
    ],
)
def test_refused(url: str, words: str) -> None:
    with pytest.raises(NotRotatable) as caught:
        check_token_url(url)
    assert words in str(caught.value)
    assert "pw" not in str(caught.value)


def test_plain_http_to_another_host_only_when_asked() -> None:
    url = "http://auth.internal/token"
    assert check_token_url(url, allow_http=True) == url


def test_a_lease_outlives_the_exchange_and_the_write_deadline() -> None:
    from nebula_credential.domain import ConfigurationError
    from nebula_credential.ops import RotateOptions

    assert RotateOptions(timeout=240).lease_seconds == 240 + 330 + 60
    assert RotateOptions(timeout=10, write_deadline=600).lease_seconds == 670
    for timeout, deadline in ((0, 300), (10, -1), (10, float("nan")), (10, 10**9)):
        with pytest.raises(ConfigurationError):
            RotateOptions(timeout=timeout, write_deadline=deadline)
