"""The committed KMS stubs are what scripts/gen_kms_stubs.py makes from the upstream
protos found on this machine (Debian's 1.20 tree holds v1beta1; a tree of 1.27 or later,
named by NEBULA_KUBERNETES_SRC, adds v2)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_kms_stubs", ROOT / "scripts/gen_kms_stubs.py")
assert _spec is not None
assert _spec.loader is not None
gen = importlib.util.module_from_spec(_spec)
sys.modules["gen_kms_stubs"] = gen
_spec.loader.exec_module(gen)


def trees() -> list[Path]:
    extra = os.environ.get("NEBULA_KUBERNETES_SRC")
    return [*([Path(extra)] if extra else []), *gen.default_trees()]


def test_committed_stubs_match_the_protos(tmp_path: Path) -> None:
    protos = gen.find_protos(trees())
    if "v1beta1" not in protos:
        pytest.skip("no Kubernetes source tree here: scripts/install-control-plane.sh fetches it")
    gen.generate(protos, tmp_path)
    for version in protos:
        for fresh in sorted((tmp_path / version).iterdir()):
            committed = gen.OUT / version / fresh.name
            assert committed.exists(), f"{committed} is missing: run scripts/gen_kms_stubs.py"
            assert gen.comparable(fresh) == gen.comparable(committed), (
                f"{committed} differs from {protos[version]}: run scripts/gen_kms_stubs.py"
            )


def test_a_changed_proto_is_caught(tmp_path: Path) -> None:
    """The comparison sees a field renamed upstream (the check can fail)."""
    protos = gen.find_protos(trees())
    if "v1beta1" not in protos:
        pytest.skip("no Kubernetes source tree here")
    changed = tmp_path / "service.proto"
    changed.write_text(
        protos["v1beta1"].read_text().replace("bytes plain = 2;", "bytes clear = 2;")
    )
    gen.generate({"v1beta1": changed}, tmp_path / "out")
    fresh = tmp_path / "out" / "v1beta1" / "api_pb2.py"
    assert gen.comparable(fresh) != gen.comparable(gen.OUT / "v1beta1" / "api_pb2.py")
