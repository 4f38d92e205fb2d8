"""The journal of pending grants: sealed files that survive what the store does not."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest

from nebula_credential.domain import CorruptData, CredentialId, utcnow
from nebula_credential.local import FileJournal
from nebula_credential.ops.journal import PendingGrant, digest, load, save
from nebula_credential.ops.token_endpoint import TokenGrant

CANARY = "canary-journal-7d1e"


def _entry(cid: str = "svc", location: str = "local:/x") -> PendingGrant:
    grant = TokenGrant(f"{CANARY}-at", f"{CANARY}-rt", 3600, "Bearer", None, "client_secret_basic")
    return PendingGrant(
        location, CredentialId(cid), "host/1/abc", digest("old"), utcnow(), grant, term=60.0
    )


def test_a_kept_grant_round_trips_sealed_and_private(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "home")
    entry = _entry()
    where = save(journal, entry)
    path = Path(where)
    assert path.parent == tmp_path / "home" / "pending"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert CANARY.encode() not in path.read_bytes()
    assert CANARY not in repr(entry)
    found = load(journal, entry.location, entry.credential_id)
    assert found is not None
    assert found.grant.access_token == entry.grant.access_token
    assert (found.holder, found.spent, found.term) == (entry.holder, entry.spent, 60.0)
    assert found.in_flight(utcnow())
    journal.remove(entry.location, entry.credential_id)
    assert load(journal, entry.location, entry.credential_id) is None
    journal.remove(entry.location, entry.credential_id)  # nothing there: no error


def test_tampered_copied_or_foreign_key_files_do_not_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = FileJournal(tmp_path / "home")
    a = Path(save(journal, _entry("a")))
    b_path = Path(journal.where("local:/x", "b"))
    shutil.copyfile(a, b_path)  # a's grant under b's name: bound to a, refused for b
    with pytest.raises(CorruptData) as copied:
        load(journal, "local:/x", "b")
    assert "does not open" in str(copied.value)
    raw = bytearray(a.read_bytes())
    raw[-1] ^= 1
    a.write_bytes(bytes(raw))
    with pytest.raises(CorruptData):
        load(journal, "local:/x", "a")
    b_path.write_bytes(b"not a grant")
    with pytest.raises(CorruptData) as junk:
        load(journal, "local:/x", "b")
    assert "move it away" in str(junk.value)
    c = _entry("c")
    save(journal, c)
    monkeypatch.setenv("NEBULA_CREDENTIAL_KEY", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(CorruptData) as other_key:
        load(FileJournal(tmp_path / "home"), "local:/x", "c")
    assert "NEBULA_CREDENTIAL_KEY" in str(other_key.value)
    assert CANARY not in str(other_key.value)


def test_an_abandoned_or_old_entry_is_no_longer_in_flight(tmp_path: Path) -> None:
    from dataclasses import replace
    from datetime import timedelta

    entry = _entry()
    assert entry.in_flight(utcnow())
    assert not replace(entry, abandoned=True).in_flight(utcnow())
    assert not entry.in_flight(utcnow() + timedelta(seconds=61))
