"""replicate as a library call: named ids, a target that refuses writes (403)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from k8s_support import new_namespace, provider_for
from ops_support import CANARY, digests, sample, sample_id

from nebula_credential import LocalStorageProvider
from nebula_credential.ops import Outcome, replicate
from nebula_credential.testing.envtest import ControlPlane

pytestmark = pytest.mark.kubernetes


async def test_a_forbidden_target_fails_alone(
    control_plane: ControlPlane, second_control_plane: ControlPlane, tmp_path: Path
) -> None:
    live_ns = new_namespace(second_control_plane, "repl-live")
    forbidden_ns = new_namespace(control_plane, "repl-403")
    reader = control_plane.identity(forbidden_ns, verbs=["get", "list", "watch"])
    ids = [sample_id(i) for i in range(4)]
    async with asyncio.timeout(180):
        async with (
            LocalStorageProvider(tmp_path / "laptop") as laptop,
            provider_for(second_control_plane, live_ns) as live,
            provider_for(control_plane, kubeconfig=reader.kubeconfig) as forbidden,
        ):
            for i in range(6):
                await laptop.store(sample(i))
            report = await replicate(
                laptop, {"live": live, "forbidden": forbidden}, ids=[*ids, "no-such-id"]
            )
            assert set(await digests(live)) == set(ids)
            wanted = {k: v for k, v in (await digests(laptop)).items() if k in ids}
            assert await digests(live) == wanted
            assert await digests(forbidden) == {}
            again = await replicate(laptop, {"live": live}, ids=ids)
    assert report["live"].count(Outcome.CREATED) == 4
    assert [r.credential_id for r in report["live"].failures] == ["no-such-id"]
    refused = report["forbidden"]
    assert refused.count(Outcome.FAILED) == 5
    assert any("forbidden" in (r.reason or "").lower() for r in refused.failures)
    assert again["live"].count(Outcome.UNCHANGED) == 4
    assert again["live"].ok
    assert CANARY not in repr(report) + repr(again)
