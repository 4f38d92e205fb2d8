"""A failing exec credential plugin is reported in one line, without its output."""

from __future__ import annotations

from nebula_credential.kubernetes.auth_errors import describe_auth_failure

TOKEN = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_canary"


def test_exec_plugin_output_is_not_passed_on() -> None:
    message = (
        f"Exec /usr/local/bin/aws-iam-authenticator returned 1: debug: token {TOKEN}\n"
        "\x1b[31merror\x1b[0m: could not refresh\nsecond line returned 2: x"
    )
    line = describe_auth_failure(message)
    assert TOKEN not in line
    assert "\n" not in line
    assert "\x1b" not in line
    assert "'aws-iam-authenticator'" in line
    assert "status 1" in line
    assert "run it by hand" in line


def test_other_lightkube_credential_errors_keep_their_first_line() -> None:
    assert describe_auth_failure("Token file /var/run/token not found") == (
        "Token file /var/run/token not found"
    )
    line = describe_auth_failure("auth exec api version v9 not implemented\n\x1b[2Jmore")
    assert line == "auth exec api version v9 not implemented"
    assert describe_auth_failure("") == "no detail"
    assert len(describe_auth_failure("x" * 1000)) <= 123
