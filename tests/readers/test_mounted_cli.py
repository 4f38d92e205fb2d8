"""``nebula-credential mounted`` without --follow: a one-shot read, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from kubelet import KubeletVolume


def test_prints_like_get_and_reveals_on_request(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": "tok-1", "client_id": "app"})
    table = cli("mounted", str(volume.root), "--kind", "oauth2")
    assert table.returncode == 0, table.stderr
    assert "fields.access_token (secret)" in table.stdout
    assert "tok-1" not in table.stdout
    record = json.loads(cli("-o", "json", "mounted", str(volume.root), "--kind", "oauth2").stdout)
    assert record["id"] == "credentials"
    assert record["fields"] == {"access_token": "**********", "client_id": "app"}
    shown = cli("mounted", str(volume.root), "--kind", "oauth2", "--reveal", "-o", "yaml")
    assert "access_token: tok-1" in shown.stdout


def test_credentials_path_is_the_default_path(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    volume = KubeletVolume(tmp_path / "mnt")
    volume.swap({"api_key": "k", "credential_type": "api_key"})
    done = cli("-o", "json", "mounted", env={"CREDENTIALS_PATH": str(volume.root)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "api_key"


def test_exit_3_when_the_path_holds_no_credential(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for args in ([str(tmp_path / "absent")], [str(tmp_path)], [str(tmp_path), "--follow"]):
        done = cli("mounted", *args, "--kind", "oauth2")
        assert done.returncode == 3, (args, done.stderr)
        assert done.stdout == ""
        assert done.stderr.startswith("error: no credential at ")
        assert done.stderr.count("\n") == 1


def test_a_kind_that_does_not_fit_exits_2_with_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap({"access_token": "tok-1"})
    done = cli("mounted", str(volume.root))
    assert done.returncode == 2
    assert "its kind is unknown; pass it" in done.stderr
    done = cli("mounted", str(volume.root), "--kind", "api_key")
    assert done.returncode == 2
    assert "not api_key fields: access_token" in done.stderr


def test_a_file_instead_of_a_directory_is_not_found(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "passwd"
    plain.write_text("root:x:0:0::/root:/bin/sh\n")
    done = cli("mounted", str(plain), "--kind", "oauth2")
    assert done.returncode == 3, done.stderr
    assert "it is a file, not a directory" in done.stderr


def test_a_data_link_that_points_out_of_the_volume_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The kubelet only ever points ``..data`` at a ``..<timestamp>`` beside it; a link
    elsewhere (another directory, an absolute path) is not a Secret volume to trust."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "access_token").write_text("not-from-the-secret")
    for target in (str(elsewhere), "../elsewhere", "..2024/../../elsewhere"):
        volume = tmp_path / f"vol-{abs(hash(target))}"
        volume.mkdir()
        (volume / "..data").symlink_to(target)
        done = cli("mounted", str(volume), "--kind", "oauth2", "--reveal")
        assert done.returncode == 1, (target, done.stderr)
        assert "not-from-the-secret" not in done.stdout
        assert "..data" in done.stderr
        assert done.stderr.count("\n") == 1
