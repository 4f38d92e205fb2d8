"""Several real processes on one local store: no lost update, no torn write on SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nebula_credential import LocalStorageProvider, SyncCredentialProvider

WRITER = Path(__file__).with_name("writer_process.py")


def spawn(data_dir: Path, rounds: int, ids: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(data_dir), str(rounds), *ids],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_all(data_dir: Path) -> dict[str, int]:
    with SyncCredentialProvider(LocalStorageProvider(data_dir)) as store:
        found = {}
        for credential in store.list_all():
            # The writer keeps value == version; anything else is a torn or mixed write.
            assert credential.reveal("api_key") == str(credential.version), credential.id
            found[credential.id] = credential.version
        return found


@pytest.mark.slow
def test_eight_processes_lose_no_update(tmp_path: Path) -> None:
    ids = ["shared-a", "shared-b", "shared-c"]
    rounds = 15
    procs = [spawn(tmp_path, rounds, ids) for _ in range(8)]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-2000:]
        assert out.count("ack ") == rounds * len(ids)
    assert read_all(tmp_path) == dict.fromkeys(ids, 8 * rounds)


@pytest.mark.slow
def test_sigkill_at_random_moments_keeps_every_credential_whole(tmp_path: Path) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    ids = [f"cred-{n}" for n in range(6)]
    acknowledged: dict[str, int] = {}
    kills = 0
    deadline = time.monotonic() + 120
    for _ in range(12):
        if time.monotonic() > deadline:
            break
        procs = [spawn(tmp_path, 10_000, ids) for _ in range(3)]
        time.sleep(rng.uniform(0.3, 0.9))  # let them start and write a while
        for proc in procs:
            time.sleep(rng.uniform(0.0, 0.05))
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            kills += 1
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "ack":
                    acknowledged[parts[1]] = max(acknowledged.get(parts[1], 0), int(parts[2]))
        found = read_all(tmp_path)
        for cid, version in acknowledged.items():
            assert found[cid] >= version, f"{cid}: acknowledged {version}, found {found[cid]}"
    assert kills >= 6
    assert sum(acknowledged.values()) > 0
