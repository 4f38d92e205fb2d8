"""Holds a local store's database under an exclusive lock (run as a script).

usage: locker_process.py DB_FILE

Prints ``locked`` once the lock is held and keeps it until stdin is closed, like a
backup tool or another program holding ``PRAGMA locking_mode=EXCLUSIVE`` would.
"""

from __future__ import annotations

import sqlite3
import sys


def main() -> None:
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    try:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        sys.stdin.read()
        db.execute("ROLLBACK")
    finally:
        db.close()


if __name__ == "__main__":
    main()
