"""``audit`` on the audit log the real API server writes while credentials are used."""

from __future__ import annotations

import gzip
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes
CANARY = "canary-audit-3b7d-do-not-print"
EXE = str(Path(sys.executable).with_name("nebula-credential"))


def run(
    *args: str, kubeconfig: Path | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    target = ["--provider", "kubernetes", "--kubeconfig", str(kubeconfig)] if kubeconfig else []
    return subprocess.run(
        [EXE, *target, *args], input=stdin, capture_output=True, env=env, timeout=120, check=False
    )


def audit_json(*args: str, stdin: bytes = b"") -> tuple[int, dict[str, Any], str]:
    done = run("-o", "json", "audit", *args, stdin=stdin)
    return done.returncode, json.loads(done.stdout), done.stderr.decode()


def test_allow_list_flags_an_unexpected_reader(control_plane: ControlPlane, tmp_path: Path) -> None:
    ns = f"audit-{secrets.token_hex(3)}"
    control_plane.ensure_namespace(ns)
    app = control_plane.identity(ns, verbs=["get"])
    intruder = control_plane.identity(ns, verbs=["get", "list"])
    outsider = control_plane.identity(ns, verbs=[])
    admin = control_plane.admin_kubeconfig
    stored = run(
        "--namespace",
        ns,
        "store",
        "db.main",
        "--kind",
        "api_key",
        "--field",
        "api_key=-",
        kubeconfig=admin,
        stdin=CANARY.encode(),
    )
    assert stored.returncode == 0, stored.stderr
    for who in (app, intruder):
        got = run("get", "db.main", "--field", "api_key", "--reveal", kubeconfig=who.kubeconfig)
        assert got.stdout.decode() == CANARY + "\n", got.stderr
    assert run("list", kubeconfig=intruder.kubeconfig).returncode == 0
    assert run("get", "db.main", kubeconfig=outsider.kubeconfig).returncode == 5

    log = str(control_plane.audit_log_path)
    allow = ("--allow", app.username, "--allow", control_plane.admin_username)
    code, report, err = audit_json(log, "--namespace", ns, *allow)
    assert code == 1, err
    flagged = {p["user"]: p for p in report["flagged"]}
    assert sorted(flagged) == sorted([intruder.username, outsider.username])
    assert flagged[intruder.username]["verbs"] == {"get": 1, "list": 1}
    assert flagged[intruder.username]["reads"] == 2
    assert flagged[outsider.username]["denied_reads"] == 1
    assert flagged[intruder.username]["namespaces"] == [ns]
    assert any(n.startswith("nebula-credentials-db") for n in flagged[intruder.username]["names"])
    assert "flagged: 2 principal(s)" in err
    by_user = {u["user"]: u["verbs"] for u in report["by_user"]}
    assert by_user[app.username] == {"get": 1}
    assert "create" in by_user[control_plane.admin_username]
    assert report["malformed"]["count"] == 0

    # Everyone allowed (a pattern for the pool's ServiceAccounts): exit 0.
    pool = "system:serviceaccount:nebula-identities:*"
    code, report, err = audit_json(log, "--namespace", ns, "--allow", pool, *allow)
    assert (code, report["flagged"]) == (0, []), err

    # Filters: by verb, by user, by name prefix, by time.
    _, by_verb, _ = audit_json(log, "--namespace", ns, "--verb", "list")
    assert [u["user"] for u in by_verb["by_user"]] == [intruder.username]
    _, by_user, _ = audit_json(log, "--namespace", ns, "--user", app.username)
    assert by_user["matched"] == 1
    _, named, _ = audit_json(log, "--namespace", ns, "--prefix", "nothing-like-this")
    assert {u["user"] for u in named["by_user"]} == {intruder.username}  # its list reads all
    _, future, _ = audit_json(log, "--namespace", ns, "--since", "2999-01-01T00:00:00Z")
    assert future["matched"] == 0
    _, recent, _ = audit_json(log, "--namespace", ns, "--since", "1h")
    assert recent["matched"] == report["matched"]

    # The same log gzip-compressed, on stdin, with malformed lines mixed in.
    raw = control_plane.audit_log_path.read_bytes()
    mixed = b"garbage\n" + raw + b'{"kind": "Event"}\n'
    code, zipped, err = audit_json("-", "--namespace", ns, *allow, stdin=gzip.compress(mixed))
    assert code == 1
    assert zipped["malformed"]["count"] == 2
    assert zipped["malformed"]["lines"][0] == 1
    assert zipped["flagged"] == report["flagged"] or len(zipped["flagged"]) == 2
    assert "2 malformed line(s)" in err
    assert CANARY.encode() not in raw  # Metadata level: no Secret value in the audit log

    table = run("audit", log, "--namespace", ns, *allow)
    assert table.returncode == 1
    assert intruder.username in table.stdout.decode()
    events = run("audit", log, "--namespace", ns, "--events", "--verb", "get", "-o", "json")
    rows = [json.loads(line) for line in events.stdout.decode().splitlines()]
    assert {r["user"] for r in rows} >= {app.username, intruder.username, outsider.username}


def test_bad_audit_input(tmp_path: Path) -> None:
    missing = run("audit", str(tmp_path / "nope.log"))
    assert missing.returncode == 2
    assert b"cannot read audit log" in missing.stderr
    since = run("audit", "-", "--since", "yesterday", stdin=b"")
    assert since.returncode == 2
    assert b"RFC 3339" in since.stderr
    # A span past what dates can hold is a usage error, not an unexpected OverflowError.
    huge = run("audit", "-", "--since", "999999d", stdin=b"")
    assert huge.returncode == 2
    assert (
        huge.stderr.strip()
        == b"error: --since '999999d' is longer than a century; give a shorter span"
    )
