"""The migrate and replicate commands between local stores, and their usage errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

RunCli = Callable[..., subprocess.CompletedProcess[str]]  # the ``cli`` fixture

SECRET = "canary-77ab-ops-cli"


def test_migrate_between_local_stores_then_rerun(cli: RunCli, tmp_path: Path) -> None:
    for name in ("a", "b"):
        stored = cli("store", name, "--kind", "api_key", "--field", "api_key=-", stdin=SECRET)
        assert stored.returncode == 0, stored.stderr
    other = str(tmp_path / "other")
    first = cli("migrate", "--to-provider", "local", "--to-data-dir", other)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "local: 2 created, 0 updated, 0 unchanged, 0 skipped, 0 failed"
    lines = first.stderr.splitlines()
    assert [line[:6] for line in lines] == ["[1/2] ", "[2/2] "]
    assert sorted(line[6:] for line in lines) == ["created a", "created b"]
    changed = cli(
        "--data-dir", other, "store", "b", "--kind", "api_key", "--field", "api_key=-", stdin="x"
    )
    assert changed.returncode == 0
    again = cli("-o", "json", "migrate", "--to-provider", "local", "--to-data-dir", other)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["unchanged"], summary["skipped"]) == (1, 1)
    assert summary["problems"][0]["id"] == "b"
    assert SECRET not in first.stdout + first.stderr + again.stdout + again.stderr


def test_a_dry_run_says_would_on_every_line(cli: RunCli, tmp_path: Path) -> None:
    for name in ("a", "b"):
        stored = cli("store", name, "--kind", "api_key", "--field", "api_key=-", stdin=SECRET)
        assert stored.returncode == 0, stored.stderr
    other = str(tmp_path / "other")
    dry = cli("migrate", "--to-provider", "local", "--to-data-dir", other, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert sorted(line[6:] for line in dry.stderr.splitlines()) == [
        "would be created a",
        "would be created b",
    ]
    assert dry.stdout.startswith("local: would be: 2 created")
    listed = cli("--data-dir", other, "-o", "json", "list")
    assert json.loads(listed.stdout or "[]") == []  # nothing was written


def test_usage_errors_exit_2(cli: RunCli, tmp_path: Path) -> None:
    same = cli("migrate", "--to-provider", "local")
    assert same.returncode == 2
    assert "destination is the source" in same.stderr
    no_target = cli("replicate", "--all")
    assert no_target.returncode == 2
    assert "--to-context" in no_target.stderr
    nothing = cli("replicate", "--to-context", "x")
    assert nothing.returncode == 2
    assert "--all" in nothing.stderr
    loose = cli("migrate", "--to-provider", "local", "--to-data-dir", str(tmp_path), "--tag", "x")
    assert loose.returncode == 2
