"""Faults: a target that is down, and an API server stopped in the middle of a migration.

Each test runs on planes of its own and bounds every wait, so a plane that fails to
come back fails one test only.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

import pytest
from k8s_support import new_namespace, provider_for
from ops_support import (
    CANARY,
    EXE,
    cli_env,
    digests,
    merged_kubeconfig,
    run_cli,
    sample,
    secret_count,
    summary_of,
)

from nebula_credential import LocalStorageProvider
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.plugin import PlaneFactory

pytestmark = pytest.mark.kubernetes
FAULT_COUNT = 1000
STOP_AFTER = 200


async def fill(directory: Path, count: int) -> None:
    async with LocalStorageProvider(directory) as store:
        for i in range(count):
            await store.store(sample(i))


def test_replicate_completes_on_the_live_target_when_the_other_is_down(
    control_plane: ControlPlane, control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    laptop = tmp_path / "laptop"
    asyncio.run(asyncio.wait_for(fill(laptop, 5), 60))
    with control_plane_factory("replica-down") as down:
        namespace = new_namespace(control_plane, "repl")
        down.ensure_namespace(namespace)
        config = merged_kubeconfig(tmp_path / "config", {"live": control_plane, "down": down})
        down.stop_apiserver()
        started = time.monotonic()
        done = run_cli(
            tmp_path,
            "--data-dir",
            str(laptop),
            "replicate",
            "--all",
            "--to-context",
            "down",
            "--to-context",
            "live",
            "--to-kubeconfig",
            str(config),
            "--to-namespace",
            namespace,
        )
        took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert CANARY not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(1 for line in lines if line.startswith("live: created ")) == 5
    assert sum(1 for line in lines if line.startswith("down: failed ")) == 5
    assert "live: 5 created, 0 updated, 0 unchanged, 0 skipped, 0 failed" in lines
    assert "down: 0 created, 0 updated, 0 unchanged, 0 skipped, 5 failed" in lines
    assert secret_count(control_plane, namespace) == 5
    assert took < 120


def test_api_server_stopped_mid_migration_then_rerun_completes(
    control_plane_factory: PlaneFactory, tmp_path: Path
) -> None:
    laptop = tmp_path / "laptop"
    asyncio.run(asyncio.wait_for(fill(laptop, FAULT_COUNT), 300))
    with control_plane_factory("migration-fault") as plane:
        namespace = new_namespace(plane, "fault")
        argv = [
            "--data-dir",
            str(laptop),
            "--output",
            "json",
            "migrate",
            "--to-provider",
            "kubernetes",
            "--to-kubeconfig",
            str(plane.admin_kubeconfig),
            "--to-namespace",
            namespace,
            "--concurrency",
            "16",
        ]
        with subprocess.Popen(
            [EXE, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(tmp_path),
        ) as proc:
            assert proc.stderr is not None
            deadline = time.monotonic() + 300
            for line in proc.stderr:  # "[done/total] outcome id": stop the server midway
                found = re.match(r"\[(\d+)/", line)
                if (found and int(found.group(1)) >= STOP_AFTER) or time.monotonic() > deadline:
                    break
            plane.stop_apiserver()
            out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err[-2000:]
        first = summary_of(subprocess.CompletedProcess(argv, 1, out, err))
        # Writes that landed before the stop cannot be read back: failed, not created.
        assert first["failed"] > 0
        assert first["created"] + first["failed"] == FAULT_COUNT
        reasons = {p["reason"].split(":")[0] for p in first["problems"]}
        plane.start_apiserver()
        rerun = run_cli(tmp_path, *argv)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        second = summary_of(rerun)
        assert second["failed"] == 0
        assert second["created"] + second["unchanged"] == FAULT_COUNT
        # What landed before the stop (and writes whose reply was lost) is left alone.
        assert second["unchanged"] >= STOP_AFTER
        assert secret_count(plane, namespace) == FAULT_COUNT

        async def compare() -> tuple[dict[str, str], dict[str, str]]:
            async with (
                LocalStorageProvider(laptop) as source,
                provider_for(plane, namespace) as cluster,
            ):
                return await digests(source), await digests(cluster)

        expected, landed = asyncio.run(asyncio.wait_for(compare(), 120))
    assert len(expected) == FAULT_COUNT
    assert landed == expected
    counts = {k: v for k, v in first.items() if k != "problems"}
    print(f"\nfault run: {counts}; reasons {sorted(reasons)}; rerun {second}")
