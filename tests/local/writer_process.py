"""A writer process for the concurrency and crash tests (run as a script).

usage: writer_process.py DATA_DIR ROUNDS ID [ID ...]

Each round increments every id once with a compare-and-set loop: the value of
``api_key`` is always the decimal version, so a torn write would show as a mismatch.
After each successful write it prints ``ack ID VERSION``.
"""

from __future__ import annotations

import sys

from nebula_credential import Conflict, Credential, LocalStorageProvider, SyncCredentialProvider


def main() -> None:
    data_dir, rounds, ids = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    with SyncCredentialProvider(LocalStorageProvider(data_dir)) as store:
        for _ in range(rounds):
            for cid in ids:
                for _attempt in range(10_000):
                    current = store.retrieve(cid)
                    version = 0 if current is None else current.version
                    draft = Credential(cid, "api_key", {"api_key": str(version + 1)})
                    try:
                        stored = store.store(draft, expected_version=version)
                    except Conflict:
                        continue
                    print(f"ack {cid} {stored.version}", flush=True)
                    break
                else:
                    raise SystemExit(f"no progress on {cid}")


if __name__ == "__main__":
    main()
