"""Opens a local store at a signal, for the store-opening race test (run as a script).

usage: opener_process.py DATA_DIR ID

Imports everything, prints ``ready``, waits for one line on stdin (the barrier), then
opens the store and writes one credential. Prints ``ok`` or the error's type and text.
"""

from __future__ import annotations

import sys

from nebula_credential import (
    Credential,
    CredentialError,
    LocalStorageProvider,
    SyncCredentialProvider,
)


def main() -> int:
    data_dir, cid = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        with SyncCredentialProvider(LocalStorageProvider(data_dir)) as store:
            store.store(Credential(cid, "api_key", {"api_key": f"value-of-{cid}"}))
    except CredentialError as exc:
        print(f"{type(exc).__name__}: {exc}", flush=True)
        return 1
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
