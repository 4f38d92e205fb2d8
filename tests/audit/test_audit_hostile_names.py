"""``audit`` on names it must show as text: Rich markup, escape sequences, bidi overrides.

The log is written by hand: the API server rejects such Secret names, and its users come
from our static token file, so no real server run can produce them. A log handed to
``audit`` may come from anywhere, though, and this is what a hostile one looks like.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("nebula-credential"))
HOSTILE_USERS = ["[/bold]x", "alice[red]", "eve\x1b[31mred", "mallory\u202egnp.exe", "[link=x]y"]


def _event(user: str, name: str, verb: str = "get") -> str:
    when = "2024-05-01T12:00:00.123456Z"
    return json.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": f"{user}-{name}-{verb}",
            "stage": "ResponseComplete",
            "verb": verb,
            "user": {"username": user, "groups": ["system:authenticated"]},
            "objectRef": {"resource": "secrets", "namespace": "prod", "name": name},
            "responseStatus": {"code": 200},
            "requestReceivedTimestamp": when,
            "stageTimestamp": when,
        }
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.log"
    lines = [_event("alice", "db")]
    lines += [_event(user, f"s-{i}\x1b]0;title\x07") for i, user in enumerate(HOSTILE_USERS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_")}
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def _no_raw_controls(text: str) -> None:
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text


@pytest.mark.parametrize("fmt", ["table", "json", "yaml"])
def test_hostile_names_never_crash_the_report_nor_reach_the_terminal(log: Path, fmt: str) -> None:
    done = _audit("-o", fmt, "audit", str(log), "--allow", "alice")
    assert done.returncode == 1, done.stderr  # flagged: the other principals read Secrets
    assert "Traceback" not in done.stderr
    _no_raw_controls(done.stdout)
    _no_raw_controls(done.stderr)
    flagged = done.stderr.splitlines()[-1]
    assert flagged.startswith("flagged: 5 principal(s) outside --allow read Secrets: ")
    for shown in (
        "[/bold]x",
        "alice[red]",
        "[link=x]y",
        "eve\\x1b[31mred",
        "mallory\\u202egnp.exe",
    ):
        assert shown in flagged
    if fmt == "table":
        for shown in ("[/bold]x", "alice[red]", "[link=x]y", "eve\\x1b[31mred"):
            assert shown in done.stdout  # the exact text, not swallowed as markup
    else:
        parsed = json.loads(done.stdout) if fmt == "json" else _yaml(done.stdout)
        users = {entry["user"] for entry in parsed["by_user"]}
        assert users == {"alice", *HOSTILE_USERS}  # recoverable exactly


def test_events_lines_show_names_escaped(log: Path) -> None:
    done = _audit("audit", str(log), "--events")
    assert done.returncode == 0, done.stderr
    _no_raw_controls(done.stdout)
    lines = done.stdout.splitlines()
    assert len(lines) == 6
    assert any("eve\\x1b[31mred" in line and "s-2\\x1b]0;title\\x07" in line for line in lines)
    for line in lines:
        assert "\n" not in line


def _yaml(text: str) -> dict[str, object]:
    import yaml

    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def test_events_as_yaml_are_a_stream_of_documents_with_the_exact_names(log: Path) -> None:
    """``-o yaml`` is offered with ``--events``: it must print YAML, not the text lines."""
    import yaml

    done = _audit("-o", "yaml", "audit", str(log), "--events")
    assert done.returncode == 0, done.stderr
    _no_raw_controls(done.stdout)
    events = [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]
    assert [event["user"] for event in events] == ["alice", *HOSTILE_USERS]
    assert events[3]["name"] == "s-2\x1b]0;title\x07"
    assert {event["verb"] for event in events} == {"get"}
