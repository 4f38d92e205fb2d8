"""The KMS plugin's cost: calls per second on its socket, and the latency it adds to a
Secret create on the real 1.20 API server, beside ``identity`` and ``aescbc`` in one run.

    python bench/kms.py [--calls 2000] [--creates 300] [--rounds 3] [--pkcs11]

1. ``nebula-credential kms serve`` (a key-file KEK, or with ``--pkcs11`` a key in a
   SoftHSM2 token) in its own process; KMS v1 Encrypt and Decrypt of a 32-byte DEK, one
   caller at a time (p50 latency and calls/s) and from 8 threads (calls/s).
2. One plane (the envtest kit), its EncryptionConfiguration switched between identity,
   aescbc and our plugin (each switch restarts the API server), in ``--rounds`` turns;
   ``--creates`` Secrets in all created one after another through the API for each;
   p50/p90 per create, what each adds over identity, and the ratios. The issue's
   target: the plugin adds no more than 1 ms per create at p50.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from nebula_credential.kms._proto.v1beta1 import api_pb2 as v1
from nebula_credential.kms._proto.v1beta1 import api_pb2_grpc as v1_grpc
from nebula_credential.testing.envtest import ControlPlane
from nebula_credential.testing.envtest.kms import KmsPlugin

EXE = str(Path(sys.executable).with_name("nebula-credential"))
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def kek_source(work: Path, pkcs11: bool) -> str:
    """A new KEK made by ``kms new-kek``: a key file, or a key in a fresh SoftHSM2 token."""
    if not pkcs11:
        source = f"file:{work / 'kek'}"
    else:
        conf = work / "softhsm2.conf"
        (work / "tokens").mkdir()
        conf.write_text(f"directories.tokendir = {work / 'tokens'}\nobjectstore.backend = file\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        init = ["softhsm2-util", "--init-token", "--free", "--label", "bench"]
        subprocess.run(
            [*init, "--so-pin", "so-bench", "--pin", "bench"], check=True, capture_output=True
        )
        pin = work / "pin"
        pin.write_text("bench")
        pin.chmod(0o600)
        source = f"pkcs11:token=bench;object=kek?module-path={SOFTHSM_MODULE}&pin-source=file:{pin}"
    subprocess.run([EXE, "kms", "new-kek", source], check=True, capture_output=True)
    return source


def socket_calls(endpoint: str, calls: int) -> dict[str, float]:
    """p50 and calls/s of Encrypt and Decrypt, sequential, and both from 8 threads."""
    figures: dict[str, float] = {}
    with grpc.insecure_channel(endpoint) as channel:
        client = v1_grpc.KeyManagementServiceStub(channel)
        dek = os.urandom(32)
        cipher = client.Encrypt(v1.EncryptRequest(version="v1beta1", plain=dek)).cipher
        for name, call in (
            ("encrypt", lambda: client.Encrypt(v1.EncryptRequest(version="v1beta1", plain=dek))),
            (
                "decrypt",
                lambda: client.Decrypt(v1.DecryptRequest(version="v1beta1", cipher=cipher)),
            ),
        ):
            for _ in range(50):
                call()
            times = []
            began = time.perf_counter()
            for _ in range(calls):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            figures[f"{name}_p50_ms"] = statistics.median(times) * 1e3
            figures[f"{name}_per_s"] = calls / (time.perf_counter() - began)
            with ThreadPoolExecutor(8) as pool:
                began = time.perf_counter()
                list(pool.map(lambda _, c=call: c(), range(calls)))
                figures[f"{name}_per_s_8_threads"] = calls / (time.perf_counter() - began)
    return figures


def encryption_config(writer: str, endpoint: str, aescbc_key: bytes) -> str:
    """``writer`` encrypts new Secrets; the other two still read what they wrote."""
    key = base64.b64encode(aescbc_key).decode()
    blocks = {
        "identity": "      - identity: {}\n",
        "aescbc": "      - aescbc:\n          keys:\n            - name: k1\n"
        f"              secret: {key}\n",
        "kms": f"      - kms:\n          name: bench\n          endpoint: {endpoint}\n"
        "          cachesize: 1000\n          timeout: 3s\n",
    }
    head = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
    head += "resources:\n  - resources: [secrets]\n    providers:\n"
    order = [writer, *(name for name in blocks if name != writer)]
    return head + "".join(blocks[name] for name in order)


def creates(plane: ControlPlane, count: int) -> list[float]:
    """Seconds per Secret create, ``count`` of them one after another."""
    namespace = f"bench-{secrets.token_hex(3)}"
    plane.ensure_namespace(namespace)
    data = {"token": base64.b64encode(os.urandom(48)).decode()}
    times = []
    for i in range(count + 20):
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"s{i}"}, "data": data}
        start = time.perf_counter()
        plane.request("POST", f"/api/v1/namespaces/{namespace}/secrets", body).raise_for_status(
            "create"
        )
        if i >= 20:  # the first ones warm connections and caches
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pkcs11", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-kms-") as tmp:
        work = Path(tmp)
        source = kek_source(work, args.pkcs11)
        kek = "SoftHSM2 token" if args.pkcs11 else "key file"
        with KmsPlugin([EXE, "kms", "serve", "--kek", source], work / "kms") as kms:
            calls = socket_calls(kms.endpoint, args.calls)
            print(f"# KMS v1 calls on the socket ({kek} KEK, {args.calls} each)")
            for name, value in calls.items():
                print(f"{name:28s} {value:10.3f}")
            p50: dict[str, float] = {}
            aescbc_key = os.urandom(32)
            with ControlPlane("bench-kms", work / "plane", identity_pool=1) as plane:
                pooled: dict[str, list[float]] = {"identity": [], "aescbc": [], "kms": []}
                for _ in range(args.rounds):  # rounds in turn: load drifting on a shared
                    for provider, times in pooled.items():  # machine hits all three alike
                        config = encryption_config(provider, kms.endpoint, aescbc_key)
                        plane.set_encryption_config(config)
                        times += creates(plane, args.creates // args.rounds)
                for provider, times in pooled.items():
                    times.sort()
                    p50[provider] = statistics.median(times) * 1e3
                    p90 = times[int(len(times) * 0.9)] * 1e3
                    print(f"create {provider:9s} p50 {p50[provider]:7.3f} ms  p90 {p90:7.3f} ms")
        for provider in ("aescbc", "kms"):
            added = p50[provider] - p50["identity"]
            ratio = p50[provider] / p50["identity"]
            print(f"{provider:9s} adds {added:6.3f} ms per create at p50 ({ratio:.2f}x identity)")
        print(f"kms vs aescbc at p50: {p50['kms'] / p50['aescbc']:.2f}x")


if __name__ == "__main__":
    main()
