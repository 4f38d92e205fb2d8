"""``seal`` and ``unseal`` through the installed command, with the local store."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from seal_keys import write_pair

CANARY = "canary-seal-cli-4c2a-do-not-print"

SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: nebula-credentials-oauth2
  namespace: nebula-prod
type: Opaque
data:
  access_token: {base64.b64encode(CANARY.encode()).decode()}
stringData:
  refresh_token: refresh456
"""


@pytest.fixture
def pair(tmp_path: Path, controller_key: rsa.RSAPrivateKey) -> tuple[Path, Path]:
    return write_pair(tmp_path, controller_key)


def test_round_trip_through_unseal(cli, tmp_path: Path, pair: tuple[Path, Path]) -> None:
    cert, key = pair
    sealed = cli("seal", "--from-secret", "-", "--cert", str(cert), stdin=SECRET)
    assert sealed.returncode == 0, sealed.stderr
    assert CANARY not in sealed.stdout
    doc = yaml.safe_load(sealed.stdout)
    assert doc["kind"] == "SealedSecret"
    path = tmp_path / "sealed.yaml"
    path.write_text(sealed.stdout)
    opened = cli("unseal", str(path), "--key", str(key))
    assert opened.returncode == 0, opened.stderr
    secret = yaml.safe_load(opened.stdout)
    assert secret["kind"] == "Secret"
    assert base64.b64decode(secret["data"]["access_token"]).decode() == CANARY
    assert base64.b64decode(secret["data"]["refresh_token"]) == b"refresh456"


def test_strict_refuses_a_rename_namespace_wide_accepts_it(
    cli, tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    cert, key = pair
    for scope, renamed_ok in (("strict", False), ("namespace-wide", True)):
        out = cli("seal", "--from-secret", "-", "--cert", str(cert), "--scope", scope, stdin=SECRET)
        assert out.returncode == 0, out.stderr
        for field, value, ok in (("name", "renamed", renamed_ok), ("namespace", "moved", False)):
            doc = yaml.safe_load(out.stdout)
            doc["metadata"][field] = value
            path = tmp_path / f"{scope}-{field}.yaml"
            path.write_text(yaml.safe_dump(doc))
            opened = cli("unseal", str(path), "--key", str(key))
            assert (opened.returncode == 0) is ok, (scope, field, opened.stderr)
            if not ok:
                assert opened.returncode == 1
                lines = opened.stderr.strip().splitlines()
                assert len(lines) == 1
                assert f"{scope} scope" in lines[0]
                assert CANARY not in opened.stderr


def test_seal_a_stored_credential_and_recover_it(
    cli, tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    cert, key = pair
    stored = cli(
        "store", "github.token", "--kind", "oauth2", "--field", "access_token=-", stdin=CANARY
    )
    assert stored.returncode == 0, stored.stderr
    missing_ns = cli("seal", "github.token", "--cert", str(cert))
    assert missing_ns.returncode == 2
    assert "--namespace" in missing_ns.stderr
    sealed = cli("--namespace", "team-a", "-o", "json", "seal", "github.token", "--cert", str(cert))
    assert sealed.returncode == 0, sealed.stderr
    doc = json.loads(sealed.stdout)
    assert doc["metadata"]["namespace"] == "team-a"
    assert doc["metadata"]["name"].startswith("nebula-credentials-github-token")
    assert {"credential.json", "access_token"} <= set(doc["spec"]["encryptedData"])
    labels = doc["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "nebula-credential"
    # The prefix label, as the provider writes it: reads of that prefix claim the Secret.
    assert labels["nebula-credential/prefix"] == "nebula-credentials"
    assert CANARY not in sealed.stdout
    path = tmp_path / "sealed.json"
    path.write_text(sealed.stdout)
    shown = cli("-o", "json", "unseal", str(path), "--key", str(key), "--credential")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["id"] == "github.token"
    assert record["fields"]["access_token"] == "**********"
    revealed = cli("-o", "json", "unseal", str(path), "--key", str(key), "--credential", "--reveal")
    assert json.loads(revealed.stdout)["fields"]["access_token"] == CANARY


def test_bad_inputs_are_one_line_errors(cli, tmp_path: Path, pair: tuple[Path, Path]) -> None:
    cert, key = pair
    cases = [
        (("seal", "--cert", str(cert)), 2, "either a credential ID"),
        (("seal", "x", "--from-secret", "-", "--cert", str(cert)), 2, "either"),
        (("seal", "--from-secret", "-", "--cert", str(cert), "--scope", "wide"), 2, "strict"),
        (("seal", "--from-secret", "-", "--cert", str(tmp_path / "nope")), 2, "cannot read"),
        (("seal", "--from-secret", "-", "--cert", str(key)), 2, "not an X.509"),
        (("unseal", "-", "--key", str(cert)), 2, "no PEM private key"),
    ]
    for args, code, text in cases:
        done = cli(*args, stdin=SECRET)
        assert done.returncode == code, (args, done.stderr)
        assert text in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert CANARY not in done.stderr
    not_secret = cli("seal", "--from-secret", "-", "--cert", str(cert), stdin="kind: ConfigMap\n")
    assert not_secret.returncode == 2
    assert "not a Secret" in not_secret.stderr


class _CertHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path != "/v1/cert.pem":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-pem-file")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def cert_server(pair: tuple[Path, Path]) -> Iterator[str]:
    handler = type("Handler", (_CertHandler,), {"body": pair[0].read_bytes()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_cert_from_a_url(cli, tmp_path: Path, pair: tuple[Path, Path], cert_server: str) -> None:
    sealed = cli("seal", "--from-secret", "-", "--cert", f"{cert_server}/v1/cert.pem", stdin=SECRET)
    assert sealed.returncode == 0, sealed.stderr
    path = tmp_path / "sealed.yaml"
    path.write_text(sealed.stdout)
    assert cli("unseal", str(path), "--key", str(pair[1])).returncode == 0
    missing = cli("seal", "--from-secret", "-", "--cert", f"{cert_server}/nope", stdin=SECRET)
    assert missing.returncode == 6
    assert "HTTP 404" in missing.stderr
    remote = cli("seal", "--from-secret", "-", "--cert", "http://192.0.2.1/cert.pem", stdin=SECRET)
    assert remote.returncode == 2
    assert "plain http" in remote.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_certificate_and_key_files_are_read_within_a_bound(
    cli, tmp_path: Path, pair: tuple[Path, Path], device: str
) -> None:
    """A certificate or key path that never ends (a device, a huge file) is refused at
    the bound with exit 2, instead of being read whole into memory."""
    cert, _ = pair
    sealed_path = tmp_path / "sealed.yaml"
    sealed = cli("seal", "--from-secret", "-", "--cert", str(cert), stdin=SECRET)
    assert sealed.returncode == 0, sealed.stderr
    sealed_path.write_text(sealed.stdout)
    big = cli("seal", "--from-secret", "-", "--cert", device, stdin=SECRET)
    assert big.returncode == 2, big.stderr
    assert f"certificate {device} is larger than 65536 bytes" in big.stderr
    assert len(big.stderr.splitlines()) == 1
    endless_key = cli("unseal", str(sealed_path), "--key", device)
    assert endless_key.returncode == 2, endless_key.stderr
    assert f"key file {device} is larger than" in endless_key.stderr
    missing = cli("unseal", str(sealed_path), "--key", str(tmp_path / "nope.pem"))
    assert missing.returncode == 2
    assert "cannot read key file" in missing.stderr


def test_unseal_reads_standard_input_by_default_and_offers_only_manifest_formats(
    cli, pair: tuple[Path, Path]
) -> None:
    cert, key = pair
    sealed = cli("seal", "--from-secret", "-", "--cert", str(cert), stdin=SECRET)
    assert sealed.returncode == 0, sealed.stderr
    opened = cli("-o", "json", "unseal", "--key", str(key), stdin=sealed.stdout)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["kind"] == "Secret"
    for command in (
        ["seal", "--from-secret", "-", "--cert", str(cert)],
        ["unseal", "--key", str(key)],
    ):
        table = cli(*command, "-o", "table", stdin=SECRET)
        assert table.returncode == 2  # a manifest has no table form: not offered
    shown = cli("seal", "--help")
    assert "strict (default)" not in shown.stdout


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("name: nebula-credentials-oauth2", "name: Nebula_Credentials"), "the Secret's name"),
        (("name: nebula-credentials-oauth2", f"name: {'n' * 254}"), "the Secret's name"),
        (("namespace: nebula-prod", "namespace: prod.eu"), "namespace"),
        (("namespace: nebula-prod", "namespace: Prod"), "namespace"),
        (("  refresh_token: refresh456", "  refresh token: refresh456"), "data key"),
        (("  refresh_token: refresh456", "  '..': refresh456"), "data key"),
    ],
)
def test_names_and_keys_the_api_server_refuses_are_not_sealed(
    cli, pair: tuple[Path, Path], change: tuple[str, str], named: str
) -> None:
    """Sealed silently, such a Secret fails only when the controller writes it."""
    cert, _ = pair
    done = cli("seal", "--from-secret", "-", "--cert", str(cert), stdin=SECRET.replace(*change))
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert done.stdout == ""
    assert CANARY not in done.stderr
