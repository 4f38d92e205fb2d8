"""N concurrent ``nebula-credential store`` processes on one id, without --expected-version.

Every one of them should succeed: a writer that does not pin a version must win
eventually. Prints how many exited 0, the exit codes seen, and the final version.
Each process loads the CLI, says it is ready and waits for a go on stdin, so the writes
really overlap instead of being spread out by interpreter start-up on a busy machine.

    KUBECONFIG=... python bench/cli_contention.py --writers 40 --namespace contention
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=40)
    parser.add_argument("--namespace", default="contention")
    parser.add_argument("--id", default=f"contended-{os.getpid()}")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    barrier = (
        "import sys; from nebula_credential.cli import main; "
        "import nebula_credential.kubernetes.store.provider; "
        "print('ready', flush=True); sys.stdin.readline(); sys.exit(main())"
    )
    base = [
        args.python,
        "-c",
        barrier,
        "--provider",
        "kubernetes",
        "--namespace",
        args.namespace,
    ]
    values = tempfile.TemporaryDirectory()
    for n in range(args.writers):
        Path(values.name, str(n)).write_text(f"value-{n}")
    procs = [
        subprocess.Popen(
            [
                *base,
                "store",
                args.id,
                "--kind",
                "api_key",
                "--field",
                f"api_key=@{values.name}/{n}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(args.writers)
    ]
    codes: collections.Counter[int] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    for proc in procs:
        assert proc.stdout is not None
        proc.stdout.readline()  # loaded and waiting
    started = time.monotonic()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
    for proc in procs:
        assert proc.stderr is not None
        proc.wait(timeout=300)
        err = proc.stderr.read()
        codes[proc.returncode] += 1
        if proc.returncode:
            errors[err.strip().split(";")[0][:100]] += 1
    elapsed = time.monotonic() - started
    shown = subprocess.run(
        [
            *base[:2],
            "from nebula_credential.cli import run; run()",
            *base[3:],
            "--output",
            "json",
            "get",
            args.id,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    version = json.loads(shown.stdout)["version"] if shown.returncode == 0 else None
    print(
        f"{codes[0]}/{args.writers} succeeded in {elapsed:.1f}s; exit codes {dict(codes)}; "
        f"final version {version}"
    )
    values.cleanup()
    for message, count in errors.most_common(3):
        print(f"  {count} x {message}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
