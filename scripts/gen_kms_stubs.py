"""Regenerate the KMS plugin's protobuf and gRPC stubs from the Kubernetes protos.

    python scripts/gen_kms_stubs.py [--kubernetes-src DIR ...] [--out DIR]

Each ``--kubernetes-src`` is a Kubernetes source tree (Debian's 1.20 tree by default, the
one kube-apiserver is built from by scripts/install-control-plane.sh); the first tree
holding a version's proto wins. v1beta1 lives in the 1.20 tree; v2 only in trees from
1.27 on (staging/src/k8s.io/kms/apis/v2). The stubs land in
src/nebula_credential/kms/_proto/<version>/ as api_pb2.py, api_pb2.pyi and
api_pb2_grpc.py; the gRPC module's absolute import of its messages is made relative so
the stubs live inside our package. tests/kms/test_stubs.py regenerates into a temporary
directory and compares, for every proto found on the machine.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "nebula_credential" / "kms" / "_proto"
DEBIAN_TREE = Path.home() / ".cache" / "nebula-credential" / "build"

# Where each API version's proto sits in a Kubernetes tree, newest layout first.
LOCATIONS: dict[str, tuple[str, ...]] = {
    "v1beta1": (
        "staging/src/k8s.io/apiserver/pkg/storage/value/encrypt/envelope/v1beta1/service.proto",
        "staging/src/k8s.io/kms/apis/v1beta1/api.proto",
    ),
    "v2": ("staging/src/k8s.io/kms/apis/v2/api.proto",),
}
# Lines naming the generator's own version: they differ between grpcio-tools releases
# without any change to the API, so the check ignores them.
VERSION_LINE = re.compile(r"Protobuf Python Version|_runtime_version\.|GRPC_GENERATED_VERSION")


def default_trees() -> list[Path]:
    """Debian's Kubernetes source trees in the control-plane build cache."""
    return sorted(DEBIAN_TREE.glob("kubernetes-*")) if DEBIAN_TREE.is_dir() else []


def find_protos(trees: list[Path]) -> dict[str, Path]:
    """The proto file of each API version found in ``trees``."""
    found: dict[str, Path] = {}
    for version, relatives in LOCATIONS.items():
        for tree in trees:
            hit = next((tree / r for r in relatives if (tree / r).is_file()), None)
            if hit is not None:
                found[version] = hit
                break
    return found


def generate(protos: dict[str, Path], out: Path) -> list[Path]:
    """Write the stubs of each version in ``protos`` under ``out``; returns the files."""
    from grpc_tools import protoc  # the dev extra has grpcio-tools

    written: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    (out / "__init__.py").write_text('"""Generated KMS stubs (scripts/gen_kms_stubs.py)."""\n')
    with tempfile.TemporaryDirectory() as tmp:
        include = Path(tmp)
        for version, proto in protos.items():
            (include / version).mkdir()
            shutil.copyfile(proto, include / version / "api.proto")
            target = out / version
            target.mkdir(parents=True, exist_ok=True)
            args = ["protoc", f"-I{include}", f"--python_out={out}", f"--pyi_out={out}"]
            args += [f"--grpc_python_out={out}", f"{version}/api.proto"]
            if protoc.main(args) != 0:
                raise SystemExit(f"protoc failed on {proto}")
            grpc_module = target / "api_pb2_grpc.py"
            text = grpc_module.read_text()
            text = text.replace(f"from {version} import api_pb2", "from . import api_pb2")
            grpc_module.write_text(text)
            (target / "__init__.py").write_text(f'"""Generated KMS {version} stubs."""\n')
            written += sorted(target.glob("*.py*"))
    return written


def comparable(path: Path) -> list[str]:
    """The file's lines without those naming generator versions."""
    return [line for line in path.read_text().splitlines() if not VERSION_LINE.search(line)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-src", action="append", type=Path, default=[])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    protos = find_protos(args.kubernetes_src or default_trees())
    if not protos:
        print("no KMS proto found; pass --kubernetes-src DIR", file=sys.stderr)
        return 1
    for path in generate(protos, args.out):
        print(path.relative_to(args.out.parent) if args.out == OUT else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
