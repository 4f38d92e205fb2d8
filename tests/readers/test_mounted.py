"""MountedCredential on real directories: the kubelet's layout (see kubelet.py; the
kubelet itself cannot run here) and plain directories."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest
from kubelet import KubeletVolume

from nebula_credential import (
    CorruptData,
    Credential,
    InvalidCredential,
    NotFound,
    ProviderUnavailable,
)
from nebula_credential.readers import (
    MountedChange,
    MountedCredential,
    ReloadEvent,
    add_reload_observer,
    read_mounted,
)


def oauth(n: int) -> dict[str, str]:
    return {"access_token": f"tok-{n}", "refresh_token": f"ref-{n}"}


def wait_for(predicate: object, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_per_key_files_map_onto_the_given_kind(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "nebula-oauth2")
    volume.swap({**oauth(1), "client_id": "app", "token_type": "Bearer"})
    credential = read_mounted(volume.root, kind="oauth2")
    assert credential.id == "nebula-oauth2"  # the directory's name, as for a Secret's name
    assert credential.revealed_fields() == {
        "access_token": "tok-1",
        "client_id": "app",
        "refresh_token": "ref-1",
        "token_type": "Bearer",
    }


def test_credential_json_wins_and_carries_id_scope_and_tags(tmp_path: Path) -> None:
    stored = Credential(
        "payments.stripe", "api_key", {"api_key": "sk-1"}, scope="org:acme", tags={"env": "prod"}
    )
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"credential.json": stored.to_json(reveal=True), "api_key": "sk-1"})
    credential = read_mounted(volume.root)  # no kind needed
    assert credential == stored
    with pytest.raises(InvalidCredential, match="holds a api_key credential, not oauth2"):
        read_mounted(volume.root, kind="oauth2")


def test_kind_from_a_credential_type_key_and_id_from_credential_id(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "credential_type").write_text("basic_auth\n")
    (root / "credential_id").write_text("db-admin")
    (root / "username").write_text("admin")
    (root / "password").write_text("pw")
    credential = read_mounted(root)
    assert (credential.id, credential.kind.value) == ("db-admin", "basic_auth")


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (None, "its kind is unknown; pass it"),
        ("oauth3", "unknown kind 'oauth3'; use one of: oauth2, api_key"),
        ("api_key", "has keys that are not api_key fields: access_token, refresh_token"),
    ],
)
def test_unknown_or_missing_kinds_are_typed_errors(
    tmp_path: Path, kind: str | None, message: str
) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    with pytest.raises(InvalidCredential, match=message) as caught:
        read_mounted(volume.root, kind=kind)
    assert f"mounted Secret at {volume.root}" in str(caught.value)


def test_missing_or_empty_directories_are_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist; mount the Secret there"):
        read_mounted(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound, match="holds no keys"):
        read_mounted(tmp_path / "empty", kind="oauth2")


def test_credentials_path_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    volume = KubeletVolume(tmp_path / "mnt")
    volume.swap(oauth(3))
    monkeypatch.setenv("CREDENTIALS_PATH", str(volume.root))
    assert MountedCredential(kind="oauth2").credential.reveal("access_token") == "tok-3"
    monkeypatch.delenv("CREDENTIALS_PATH")
    assert MountedCredential().path == "/etc/nebula/credentials"


def test_a_new_key_is_read_through_data_before_its_link_exists(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    old = volume.data_dir()
    volume.point_data_at(volume.write_data_dir({**oauth(2), "client_id": "new"}))
    assert not (volume.root / "client_id").exists()  # the kubelet has not linked it yet
    credential = read_mounted(volume.root, kind="oauth2")
    assert credential.fields["client_id"] == "new"
    volume.relink({*oauth(2), "client_id"}, old)


def test_reads_racing_hundreds_of_swaps_are_never_torn(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(0))
    done = threading.Event()

    def writer() -> None:
        for n in range(1, 301):
            volume.swap({**oauth(n), **({"client_id": f"c-{n}"} if n % 2 else {})})
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while not done.is_set():
        fields = read_mounted(volume.root, kind="oauth2").revealed_fields()
        n = str(fields["access_token"]).removeprefix("tok-")
        assert fields["refresh_token"] == f"ref-{n}"
        assert fields.get("client_id", f"c-{n}") == f"c-{n}"
        assert ("client_id" in fields) == (int(n) % 2 == 1)
        reads += 1
    thread.join()
    assert reads > 10


async def test_changes_yields_each_swap_and_errors_keep_the_last_good_value(
    tmp_path: Path,
) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    seen: list[MountedChange] = []
    async with MountedCredential(volume.root, kind="oauth2", interval=0.05) as mounted:
        stream = mounted.changes()
        seen.append(await anext(stream))
        volume.swap(oauth(2))
        seen.append(await asyncio.wait_for(anext(stream), 1.0))
        volume.swap({"refresh_token": "ref-3"})  # no access_token: invalid
        seen.append(await asyncio.wait_for(anext(stream), 1.0))
        assert mounted.credential.reveal("access_token") == "tok-2"
        volume.swap(oauth(4))
        seen.append(await asyncio.wait_for(anext(stream), 1.0))
        await mounted.aclose()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(stream), 1.0)
    tokens = [c.credential.reveal("access_token") for c in seen]
    assert tokens == ["tok-1", "tok-2", "tok-2", "tok-4"]
    assert [c.error is None for c in seen] == [True, True, False, True]
    assert isinstance(seen[2].error, InvalidCredential)
    assert "missing required secret field 'access_token'" in str(seen[2].error)
    assert seen[2].data_dir == seen[1].data_dir  # still serving the previous directory


def test_callbacks_from_the_background_thread(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    changes: list[str] = []
    errors: list[Exception] = []
    with MountedCredential(
        volume.root,
        kind="oauth2",
        interval=0.05,
        on_change=lambda c: changes.append(str(c.reveal("access_token"))),
        on_error=errors.append,
    ) as mounted:
        assert changes == ["tok-1"]
        volume.swap(oauth(2))
        wait_for(lambda: changes[-1] == "tok-2")
        volume.swap({"access_token": "tok-3", "scope_of_work": "x"})
        wait_for(lambda: errors)
        volume.swap(oauth(4))
        wait_for(lambda: changes[-1] == "tok-4")
        assert mounted.credential.reveal("refresh_token") == "ref-4"
    assert changes == ["tok-1", "tok-2", "tok-4"]
    assert len(errors) == 1  # reported once, not on every check
    assert "not oauth2 fields: scope_of_work" in str(errors[0])


def test_credential_property_checks_when_due_without_a_thread(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    mounted = MountedCredential(volume.root, kind="oauth2", interval=0.05)
    assert mounted.credential.reveal("access_token") == "tok-1"
    volume.swap(oauth(2))
    time.sleep(0.06)
    assert mounted.credential.reveal("access_token") == "tok-2"
    assert mounted.data_dir == volume.data_dir()


def test_a_plain_directory_is_followed_by_mtime_size_and_inode(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "access_token").write_text("tok-1")
    (root / ".access_token.swp").write_text("editor junk")  # dotfiles are not keys
    mounted = MountedCredential(root, kind="oauth2", interval=0.05)
    assert mounted.credential.fields.keys() == {"access_token"}
    assert mounted.data_dir is None
    (root / "access_token").write_text("tok-2")  # rewritten in place
    os.utime(root / "access_token", ns=(1, 1))  # even with an older mtime
    assert mounted.refresh() is not None
    assert mounted.credential.reveal("access_token") == "tok-2"
    (root / "refresh_token").write_text("ref-2")  # a key added
    assert mounted.refresh() is not None
    assert set(mounted.credential.fields) == {"access_token", "refresh_token"}
    assert mounted.refresh() is None  # nothing changed
    (root / "refresh_token").write_text("ref-2")  # rewritten with the same value
    assert mounted.refresh() is None  # nothing to announce
    (root / "refresh_token").write_text("ref-3")
    change = mounted.refresh()
    assert change is not None
    assert change.credential.reveal("refresh_token") == "ref-3"


def test_a_vanished_directory_is_an_error_and_the_value_stays(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    mounted = MountedCredential(volume.root, kind="oauth2")
    mounted.load()
    moved = tmp_path / "moved"
    volume.root.rename(moved)
    change = mounted.refresh()
    assert change is not None
    assert isinstance(change.error, NotFound)
    assert mounted.refresh() is None  # reported once
    assert mounted.credential.reveal("access_token") == "tok-1"
    moved.rename(volume.root)
    assert mounted.refresh() is None  # the same content as before: nothing new


def test_reload_observers_see_outcomes_never_values(tmp_path: Path) -> None:
    events: list[ReloadEvent] = []
    remove = add_reload_observer(events.append)
    try:
        volume = KubeletVolume(tmp_path / "credentials")
        volume.swap(oauth(1))
        mounted = MountedCredential(volume.root, kind="oauth2")
        mounted.load()
        volume.swap({"refresh_token": "ref-2"})
        mounted.refresh()
        volume.swap(oauth(3))
        mounted.refresh()
    finally:
        remove()
    assert [(e.ok, e.initial, e.error) for e in events] == [
        (True, True, None),
        (False, False, "InvalidCredential"),
        (True, False, None),
    ]
    assert all(e.reader == "mounted" and e.path == str(volume.root) for e in events)
    assert "tok-" not in repr(events)


def test_a_directory_rewritten_continuously_is_a_typed_error(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    stop = threading.Event()

    def flap() -> None:  # retargets ..data between every two syscalls of a reader
        names = [volume.write_data_dir(oauth(n)) for n in range(2)]
        while not stop.is_set():
            for name in names:
                volume.point_data_at(name)

    thread = threading.Thread(target=flap)
    thread.start()
    outcomes: set[str] = set()
    try:
        for _ in range(200):
            try:
                fields = read_mounted(volume.root, kind="oauth2").revealed_fields()
            except CorruptData as exc:  # any other error fails the test
                outcomes.add(str(exc).partition(" changed ")[2])
                continue
            assert fields["refresh_token"] == str(fields["access_token"]).replace("tok", "ref")
            outcomes.add("read")
    finally:
        stop.set()
        thread.join()
    assert outcomes <= {
        "read",
        "10 times while being read; something rewrites it continuously, "
        "or not the way the kubelet does (a new ..data target per update)",
    }


def test_unreadable_content_is_a_typed_error_while_following(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(oauth(1))
    mounted = MountedCredential(volume.root, kind="oauth2")
    mounted.load()
    os.symlink("..loop", volume.root / "..loop")  # a link to itself: ELOOP on every read
    volume.point_data_at("..loop")
    change = mounted.refresh()
    assert change is not None
    assert isinstance(change.error, ProviderUnavailable)
    assert "cannot read" in str(change.error)
    assert mounted.credential.reveal("access_token") == "tok-1"


def test_a_fifo_in_a_plain_directory_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "api_key").write_text("k")
    os.mkfifo(root / "pipe")  # opening it would block forever
    assert read_mounted(root, kind="api_key").fields.keys() == {"api_key"}
