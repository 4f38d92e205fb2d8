"""Finding ``etcd`` and ``kube-apiserver``, the way controller-runtime's envtest does.

Each program is looked up in this order, the first executable file winning:

1. an explicit override: ``NEBULA_KUBE_APISERVER``, ``NEBULA_ETCD``, ``NEBULA_ETCDCTL``
   (a path; when set but not executable, the program counts as missing);
2. ``$KUBEBUILDER_ASSETS`` (the directory ``setup-envtest`` fills);
3. the cache ``scripts/install-control-plane.sh`` fills: ``$NEBULA_CACHE_DIR/bin``,
   by default ``~/.cache/nebula-credential/bin``;
4. ``PATH``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._errors import MissingBinaryError

INSTALL_HINT: Final = (
    "set KUBEBUILDER_ASSETS to a directory holding etcd and kube-apiserver, or in a "
    "nebula-credential checkout run scripts/install-control-plane.sh"
)

_OVERRIDES: Final = {
    "kube-apiserver": "NEBULA_KUBE_APISERVER",
    "etcd": "NEBULA_ETCD",
    "etcdctl": "NEBULA_ETCDCTL",
}
_PACKAGES: Final = {"etcd": "Debian package etcd-server", "etcdctl": "Debian package etcd-client"}


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Directory where scripts/install-control-plane.sh caches its build."""
    env = os.environ if environ is None else environ
    configured = env.get("NEBULA_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "nebula-credential"


def search_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The directories searched before ``PATH``, in order."""
    env = os.environ if environ is None else environ
    dirs: list[Path] = []
    assets = env.get("KUBEBUILDER_ASSETS")
    if assets:
        dirs.append(Path(assets))
    dirs.append(cache_dir(env) / "bin")
    return dirs


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_program(program: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The path of ``program`` by the module's search order, or None when not found."""
    env = os.environ if environ is None else environ
    override = env.get(_OVERRIDES.get(program, ""))
    if override:
        return Path(override) if _executable(Path(override)) else None
    for directory in search_dirs(env):
        candidate = directory / program
        if _executable(candidate):
            return candidate
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    return Path(found) if found else None


def _describe_search(program: str, env: Mapping[str, str]) -> str:
    override = _OVERRIDES.get(program, "")
    if env.get(override):
        return f"{override}={env[override]} is not an executable file"
    places = [str(d) for d in search_dirs(env)] + ["PATH"]
    package = f"; {_PACKAGES[program]}" if program in _PACKAGES else ""
    return f"looked in {', '.join(places)}{package}"


@dataclass(frozen=True)
class Binaries:
    """Resolved executables needed for a control plane."""

    kube_apiserver: Path
    etcd: Path
    etcdctl: Path | None


def missing_binaries_message(environ: Mapping[str, str] | None = None) -> str | None:
    """Describe what is missing, or return None when etcd and kube-apiserver are found."""
    env = os.environ if environ is None else environ
    missing = [
        f"{program} ({_describe_search(program, env)})"
        for program in ("kube-apiserver", "etcd")
        if find_program(program, env) is None
    ]
    if not missing:
        return None
    return f"missing {' and '.join(missing)}: {INSTALL_HINT}"


def find_binaries(environ: Mapping[str, str] | None = None) -> Binaries:
    """Resolve the binaries or raise MissingBinaryError naming the missing piece."""
    env = os.environ if environ is None else environ
    apiserver = find_program("kube-apiserver", env)
    etcd = find_program("etcd", env)
    if apiserver is None or etcd is None:
        raise MissingBinaryError(missing_binaries_message(env) or "missing binaries")
    return Binaries(kube_apiserver=apiserver, etcd=etcd, etcdctl=find_program("etcdctl", env))


def etcdctl_missing_message(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return f"etcdctl not found ({_describe_search('etcdctl', env)}): {INSTALL_HINT}"
