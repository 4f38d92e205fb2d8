"""Several real processes on one local store: no lost update, no torn write on SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from nebula_credential import LocalStorageProvider, SyncCredentialProvider

WRITER = Path(__file__).with_name("writer_process.py")


class Writer:
    """A writer process whose stdout and stderr are drained while it runs.

    A full pipe would block the writer inside ``print``, so a kill would land on a
    process waiting for us instead of one in the middle of a write.
    """

    def __init__(self, data_dir: Path, rounds: int, ids: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(data_dir), str(rounds), *ids],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.acks: dict[str, int] = {}
        self.ack_count = 0
        self.stderr: list[str] = []
        self.first_ack = threading.Event()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_acks, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_errors, args=(self.proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_acks(self, stream: IO[str]) -> None:
        for line in stream:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "ack":
                self.acks[parts[1]] = max(self.acks.get(parts[1], 0), int(parts[2]))
                self.ack_count += 1
                self.first_ack.set()

    def _read_errors(self, stream: IO[str]) -> None:
        self.stderr.extend(stream)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    def errors(self) -> str:
        return "".join(self.stderr)[-2000:]


def read_all(data_dir: Path, context: str) -> dict[str, int]:
    with SyncCredentialProvider(LocalStorageProvider(data_dir)) as store:
        found = {}
        for credential in store.list_all():
            # The writer keeps value == version; anything else is a torn or mixed write.
            value = credential.reveal("api_key")
            assert value == str(credential.version), f"{credential.id}: {value} ({context})"
            found[credential.id] = credential.version
        return found


@pytest.mark.slow
def test_eight_processes_lose_no_update(tmp_path: Path) -> None:
    ids = ["shared-a", "shared-b", "shared-c"]
    rounds = 15
    writers = [Writer(tmp_path, rounds, ids) for _ in range(8)]
    for writer in writers:
        code = writer.wait(timeout=240)
        assert code == 0, writer.errors()
        assert writer.ack_count == rounds * len(ids), writer.errors()
    assert read_all(tmp_path, "after all writers") == dict.fromkeys(ids, 8 * rounds)


@pytest.mark.slow
def test_sigkill_at_random_moments_keeps_every_credential_whole(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    ids = [f"cred-{n}" for n in range(6)]
    acknowledged: dict[str, int] = {}
    kills = 0
    deadline = time.monotonic() + 120
    for attempt in range(12):
        if time.monotonic() > deadline:
            break
        context = f"seed {seed}, attempt {attempt}"
        writers = [Writer(tmp_path, 10_000, ids) for _ in range(3)]
        for writer in writers:  # kills land inside writes, not in interpreter start-up
            assert writer.first_ack.wait(timeout=60), f"no write ({context}): {writer.errors()}"
        time.sleep(rng.uniform(0.0, 0.3))
        for writer in writers:
            time.sleep(rng.uniform(0.0, 0.05))
            writer.proc.send_signal(signal.SIGKILL)
        for writer in writers:
            code = writer.wait(timeout=30)
            assert code == -signal.SIGKILL, f"exit {code} ({context}): {writer.errors()}"
            kills += 1
            for cid, version in writer.acks.items():
                acknowledged[cid] = max(acknowledged.get(cid, 0), version)
        found = read_all(tmp_path, context)
        for cid, version in acknowledged.items():
            assert found.get(cid, 0) >= version, (
                f"{cid}: acknowledged {version}, found {found.get(cid)} ({context})"
            )
    assert kills >= 6, f"seed {seed}"
    assert sum(acknowledged.values()) > 0, f"seed {seed}"
