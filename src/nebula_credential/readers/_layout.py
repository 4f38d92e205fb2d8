"""Consistent snapshots of a Secret volume directory (file I/O only, no decoding).

The kubelet's atomic writer lays a Secret volume out as::

    ..2024_05_01_12_00_00.123456789/   the data, one file per key (mode 0755 dir)
    ..data -> ..2024_05_01_12_00_00.123456789
    access_token -> ..data/access_token

and updates it by writing a new timestamped directory, pointing a fresh ``..data_tmp``
symlink at it and renaming that over ``..data`` (the one atomic step), then adding the
links of new keys, removing the links of deleted keys and removing the old directory.
So a reader resolves ``..data`` once and reads every key under that one target; if the
target changed or vanished meanwhile, it reads again. Top-level key links are never
used: right after a swap a new key has no link yet.

A plain directory (``docker run -v``, a local test) has no ``..data``: its files are
read and their (inode, size, mtime) compared before and after, and again on change.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import Final

from ..domain import CorruptData, NotFound, PayloadTooLarge, PermissionDenied, ProviderUnavailable
from ..kubernetes.model.limits import MAX_DATA_BYTES

DATA_LINK: Final = "..data"
ATTEMPTS: Final = 10

# ("atomic", target) or ("plain", ((name, inode, size, mtime_ns), ...)).
Token = tuple[str, object]


@dataclass(frozen=True, slots=True, repr=False)
class Snapshot:
    """Every key's bytes as of one moment, and the token that names that moment."""

    token: Token
    files: dict[str, bytes]
    data_dir: str | None  # the ``..data`` target, None for a plain directory

    def __repr__(self) -> str:  # the bytes are secrets
        return f"Snapshot(data_dir={self.data_dir!r}, keys={sorted(self.files)!r})"


def _missing(path: str) -> NotFound:
    return NotFound(
        f"no credential at {path}: the directory does not exist; mount the Secret there "
        "(volumeMounts.mountPath) or point CREDENTIALS_PATH at it"
    )


def _denied(path: str) -> PermissionDenied:
    return PermissionDenied(
        f"cannot read {path}: permission denied; with defaultMode 0400 only the file owner "
        "can read the keys: run as that user, or set the pod's securityContext.fsGroup "
        "and defaultMode 0440",
        verb="read",
        resource=path,
    )


def _data_target(path: str) -> str | None:
    """Where ``..data`` points, or None when the directory has no atomic layout.

    The kubelet points it at a ``..<timestamp>`` directory beside it, by a relative
    name; a link anywhere else would read keys from outside the volume: CorruptData.
    """
    try:
        target = os.readlink(os.path.join(path, DATA_LINK))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOTDIR):  # a plain directory; or a file
            return None
        if exc.errno == errno.EACCES:
            raise _denied(path) from None
        raise
    if not target.startswith("..") or "/" in target or target in ("..", DATA_LINK):
        raise CorruptData(
            f"{path}/{DATA_LINK} points at {target[:80]!r}, outside the volume; a Secret "
            "volume's ..data names a ..<timestamp> directory beside it"
        )
    return target


def _visible(name: str, atomic: bool) -> bool:
    # Keys never start with ".." (the kubelet refuses them); in a plain directory,
    # dotfiles are editor and OS droppings, not keys.
    return not name.startswith(".." if atomic else ".")


def _signature(path: str) -> tuple[tuple[str, int, int, int], ...]:
    found = []
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        raise _missing(path) from None
    except NotADirectoryError:
        raise NotFound(f"no credential at {path}: it is a file, not a directory") from None
    except PermissionError:
        raise _denied(path) from None
    for entry in entries:
        if not _visible(entry.name, atomic=False):
            continue
        try:
            info = entry.stat()  # follows symlinks, as a read does
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(info.st_mode):  # directories (nested ``items``), FIFOs
            continue
        found.append((entry.name, info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


def _unreadable(path: str, exc: OSError) -> ProviderUnavailable:
    # strerror only: the errno's text, never file content.
    return ProviderUnavailable(f"cannot read {path}: {exc.strerror or type(exc).__name__}")


def probe(path: str) -> Token:
    """A cheap token that changes whenever the content may have: one readlink for the
    atomic layout, a stat of each file otherwise."""
    try:
        target = _data_target(path)
        if target is not None:
            return ("atomic", target)
        return ("plain", _signature(path))
    except OSError as exc:  # EIO, ELOOP, ...: typed, so followers keep following
        raise _unreadable(path, exc) from None


def _read_files(directory: str, names: list[str], where: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for name in names:
        try:
            with open(os.path.join(directory, name), "rb") as handle:
                data = handle.read(MAX_DATA_BYTES + 1 - total)
        except IsADirectoryError:  # ``items`` with nested paths: not a key of ours
            continue
        except PermissionError:
            raise _denied(where) from None
        total += len(data)
        if total > MAX_DATA_BYTES:
            raise PayloadTooLarge(
                f"{where} holds more than {MAX_DATA_BYTES} bytes, more than a Secret can; "
                "is it the right directory?"
            )
        files[name] = data
    return files


def _atomic_names(data_dir: str, where: str) -> list[str]:
    try:
        entries = list(os.scandir(data_dir))
    except PermissionError:
        raise _denied(where) from None
    return sorted(e.name for e in entries if _visible(e.name, atomic=True) and e.is_file())


def snapshot(path: str) -> Snapshot:
    """Every key under one ``..data`` target (or one unchanged plain listing)."""
    try:
        return _snapshot(path)
    except FileNotFoundError:  # ``path`` itself went away between two steps
        raise _missing(path) from None
    except OSError as exc:
        raise _unreadable(path, exc) from None


def _snapshot(path: str) -> Snapshot:
    for _ in range(ATTEMPTS):
        target = _data_target(path)
        if target is None:
            before = _signature(path)
            try:
                files = _read_files(path, [entry[0] for entry in before], path)
            except FileNotFoundError:  # removed between listing and reading
                continue
            if _signature(path) == before:
                return Snapshot(("plain", before), files, None)
            continue
        data_dir = os.path.join(path, target)
        try:
            files = _read_files(data_dir, _atomic_names(data_dir, path), path)
        except FileNotFoundError:  # the kubelet removed it after a swap: read the new one
            continue
        # Old data directories are removed only after ``..data`` moved away from them,
        # so an unchanged target means no key was read from a half-removed directory.
        if _data_target(path) == target:
            return Snapshot(("atomic", target), files, target)
    raise CorruptData(
        f"{path} changed {ATTEMPTS} times while being read; something rewrites it "
        "continuously, or not the way the kubelet does (a new ..data target per update)"
    )
