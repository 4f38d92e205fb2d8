"""Canary values in a mounted volume never reach a log record, an error or a repr."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from kubelet import KubeletVolume

from nebula_credential import CredentialError
from nebula_credential.readers import MountedCredential, ReloadEvent, add_reload_observer
from nebula_credential.readers._layout import snapshot

CANARY = "canary-7f3a9c"

INVALID_PAYLOADS = [
    {"access_token": CANARY, "not_a_field": CANARY},
    {"refresh_token": CANARY},
    {"access_token": CANARY.encode() + b"\xff\xfe"},
    {"credential.json": '{"id": "x", "kind": "oauth2", "fields": {"access_token": "' + CANARY},
    {"credential.json": json.dumps({"id": CANARY + "!", "kind": "oauth2", "fields": {}})},
    {"access_token": "", "refresh_token": CANARY},
]


def test_no_canary_in_logs_errors_events_or_reprs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="nebula_credential")
    events: list[ReloadEvent] = []
    remove = add_reload_observer(events.append)
    errors: list[CredentialError] = []
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": CANARY, "refresh_token": CANARY})
    seen: list[object] = []
    try:
        mounted = MountedCredential(volume.root, kind="oauth2", on_error=errors.append)
        seen += [mounted.load(), mounted, snapshot(str(volume.root))]
        for payload in INVALID_PAYLOADS:
            volume.swap(payload)
            change = mounted.refresh()
            assert change is not None
            assert change.error is not None
            seen.append(change)
    finally:
        remove()
    assert len(errors) == len(INVALID_PAYLOADS)
    assert mounted.credential.reveal("access_token") == CANARY  # the last good value stays
    texts = [r.getMessage() for r in caplog.records] + [str(e) for e in errors]
    texts += [repr(x) for x in (*seen, *events, *errors)]
    texts += [repr(e.__cause__) + repr(e.__context__) for e in errors]
    assert any("keeping the credential loaded from" in t for t in texts)
    assert any("loaded mounted credential" in t for t in texts)
    leaks = [t for t in texts if CANARY in t]
    assert leaks == []


def test_cli_mounted_debug_output_carries_no_canary(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": CANARY, "unknown_key": CANARY})
    done = cli("--debug", "mounted", str(volume.root), "--kind", "oauth2")
    assert done.returncode != 0
    assert CANARY not in done.stdout + done.stderr
    volume.swap({"access_token": CANARY})
    shown = cli("--debug", "-o", "json", "mounted", str(volume.root), "--kind", "oauth2")
    assert shown.returncode == 0, shown.stderr
    assert "loaded mounted credential" in shown.stderr
    assert CANARY not in shown.stdout + shown.stderr
