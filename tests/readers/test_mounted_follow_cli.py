"""``nebula-credential mounted --follow -o json`` across 20 kubelet-style swaps.

The kubelet cannot run here (no node, no container runtime): ``kubelet.KubeletVolume``
repeats its atomic-writer steps on real files, and the CLI runs as a real process.
Every payload carries its swap number in ``access_token``, ``refresh_token`` and (when
present) ``client_id``: a printed line mixing two versions would show two numbers.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
from kubelet import KubeletVolume

DEADLINE = 1.0  # seconds from the atomic rename to the printed line


def _payload(n: int) -> dict[str, str]:
    payload = {"access_token": f"tok-{n}", "refresh_token": f"ref-{n}"}
    if n % 2 == 0:
        payload["client_id"] = f"client-{n}"
    if n % 3 == 0:
        payload["token_type"] = "Bearer"
    return payload


def _pump(stream: IO[str], lines: queue.Queue[tuple[float, str]]) -> None:
    for line in stream:
        lines.put((time.monotonic(), line))
    lines.put((time.monotonic(), ""))


def _next(lines: queue.Queue[tuple[float, str]], timeout: float) -> tuple[float, str] | None:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


def _swap_number(line: str) -> int:
    record = json.loads(line)  # a complete object, or this fails
    fields = record["fields"]
    number = int(fields["access_token"].removeprefix("tok-"))
    assert fields["refresh_token"] == f"ref-{number}", line
    assert set(fields) == set(_payload(number)), line  # no key from another version
    if "client_id" in fields:
        assert fields["client_id"] == f"client-{number}", line
    assert record["kind"] == "oauth2"
    return number


def _exe() -> str:
    beside = Path(sys.executable).with_name("nebula-credential")
    found = str(beside) if beside.exists() else shutil.which("nebula-credential")
    assert found is not None
    return found


@pytest.mark.slow
def test_twenty_kubelet_swaps_are_each_printed_whole_within_a_second(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(_payload(0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEBULA_CREDENTIAL_")}
    args = [_exe(), "mounted", str(volume.root), "--kind", "oauth2", "--follow", "-o", "json"]
    proc = subprocess.Popen(
        [*args, "--reveal"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    out: queue.Queue[tuple[float, str]] = queue.Queue()
    err: queue.Queue[tuple[float, str]] = queue.Queue()
    assert proc.stdout is not None
    assert proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(stream, sink), daemon=True)
        for stream, sink in ((proc.stdout, out), (proc.stderr, err))
    ]
    for pump in pumps:
        pump.start()
    try:
        first = _next(out, 15)  # process start-up is not what is measured
        assert first is not None
        assert _swap_number(first[1]) == 0
        delays = []
        for n in range(1, 21):
            if n == 11:  # an invalid payload: no access_token
                swapped = volume.swap({"refresh_token": "ref-invalid"})
                error = _next(err, DEADLINE * 3)
                assert error is not None, "no error line for the invalid payload"
                assert error[1].startswith("error: ")
                assert "access_token" in error[1]
                assert "ref-invalid" not in error[1]
                assert _next(out, 0.5) is None, "printed something for the invalid payload"
            swapped = volume.swap(_payload(n))
            got = _next(out, 5)
            assert got is not None, f"swap {n} never printed"
            assert _swap_number(got[1]) == n  # the new value, whole; never the invalid one
            delays.append(got[0] - swapped)
        assert max(delays) < DEADLINE, delays
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pump in pumps:
            pump.join(10)
        proc.stdout.close()
        proc.stderr.close()
    end = _next(out, 2)
    assert end is not None
    assert end[1] == ""
    rest = []
    while (item := _next(err, 2)) is not None and item[1]:
        rest.append(item[1])
    assert rest == [], rest  # exactly one error line in the whole run
    print(
        f"delays after the atomic rename: max {max(delays):.3f} s, "
        f"mean {sum(delays) / len(delays):.3f} s"
    )


def test_follow_exits_cleanly_on_sigint(tmp_path: Path) -> None:
    volume = KubeletVolume(tmp_path / "credentials")
    volume.swap(_payload(2))
    proc = subprocess.Popen(
        [_exe(), "-o", "json", "mounted", str(volume.root), "--kind", "oauth2", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert json.loads(line)["fields"]["access_token"] == "**********"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert stdout == ""
    assert stderr == ""
