"""A Secret volume laid out and updated exactly as the kubelet's atomic writer does.

The kubelet itself cannot run here (no container runtime, no node), so this helper
repeats its steps (``pkg/volume/util/atomic_writer.go``) on real files:

1. write the payload into a new directory made like
   ``mkdtemp(prefix="..YYYY_MM_DD_HH_MM_SS.")`` (UTC), mode 0755, files mode 0400;
2. point a fresh ``..data_tmp`` symlink at it;
3. ``rename`` ``..data_tmp`` over ``..data`` — the one atomic step;
4. create the ``<key> -> ..data/<key>`` links of new keys;
5. remove the links of deleted keys;
6. remove the old data directory.

Between steps 3 and 4 a new key has no top-level link: readers must go through ``..data``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path


class KubeletVolume:
    """A Secret volume directory; ``swap()`` applies one update the kubelet's way."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.keys: set[str] = set()

    def data_dir(self) -> str | None:
        link = self.root / "..data"
        return os.readlink(link) if link.is_symlink() else None

    def write_data_dir(self, payload: Mapping[str, str | bytes]) -> str:
        """Step 1: the new timestamped directory with every key; returns its name."""
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime())
        new = tempfile.mkdtemp(prefix=f"..{stamp}.", dir=self.root)
        os.chmod(new, 0o755)  # noqa: S103 - the mode the kubelet gives it
        for key, value in payload.items():
            raw = value.encode() if isinstance(value, str) else value
            target = Path(new, key)
            target.write_bytes(raw)
            os.chmod(target, 0o400)
        return os.path.basename(new)

    def point_data_at(self, name: str) -> None:
        """Steps 2 and 3: ``..data_tmp`` -> name, renamed over ``..data``."""
        tmp = self.root / "..data_tmp"
        os.symlink(name, tmp)
        os.rename(tmp, self.root / "..data")

    def relink(self, keys: set[str], old: str | None) -> None:
        """Steps 4 to 6: links of new keys, unlink deleted keys, remove the old dir."""
        for key in sorted(keys - self.keys):
            link = self.root / key
            if not link.is_symlink():
                os.symlink(f"..data/{key}", link)
        for key in sorted(self.keys - keys):
            (self.root / key).unlink(missing_ok=True)
        self.keys = set(keys)
        if old is not None:
            shutil.rmtree(self.root / old)

    def swap(self, payload: Mapping[str, str | bytes]) -> float:
        """One full update; returns ``time.monotonic()`` right after the atomic rename."""
        old = self.data_dir()
        new = self.write_data_dir(payload)
        self.point_data_at(new)
        swapped = time.monotonic()
        self.relink(set(payload), old)
        return swapped
