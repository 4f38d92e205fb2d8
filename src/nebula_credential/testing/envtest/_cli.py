"""``python -m nebula_credential.testing.envtest up|down|identity``: planes for a shell."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ._configs import write_private
from ._errors import ControlPlaneError, MissingBinaryError
from ._flags import POLL_INTERVAL
from ._group import start_all
from ._identities import DEFAULT_VERBS
from ._plane import ControlPlane

PROG = "python -m nebula_credential.testing.envtest"


def _state_file(directory: Path) -> Path:
    return directory / "state.json"


def _pid_matches(pid: int, binary: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return Path(cmdline.split(b"\0", 1)[0].decode(errors="replace")).name == binary


def _kill_detached(pid: int, binary: str, timeout: float = 10.0) -> None:
    if not _pid_matches(pid, binary):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _pid_matches(pid, binary):
            time.sleep(POLL_INTERVAL)
        if not _pid_matches(pid, binary):
            return


def _cmd_up(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    state_file = _state_file(directory)
    if state_file.exists():
        print(f"{state_file} exists; run 'down --dir {args.dir}' first", file=sys.stderr)
        return 1
    names = [args.name] if args.count == 1 else [f"{args.name}-{i}" for i in range(args.count)]
    planes = [
        ControlPlane(
            name,
            directory / name,
            extra_apiserver_args=args.apiserver_arg,
            identity_pool=args.identity_pool,
            startup_timeout=args.timeout,
            supervise=False,
        )
        for name in names
    ]
    start_all(planes)
    state = {
        "planes": [
            {
                "name": p.name,
                "directory": str(p.directory),
                "server": p.server,
                "admin_kubeconfig": str(p.admin_kubeconfig),
                "etcd_endpoint": p.etcd_endpoint,
                "etcd_prefix": p.etcd_prefix,
                "etcd_data": str(p.etcd_data),
                "audit_log": str(p.audit_log_path),
                "pids": {"etcd": p.etcd_pid, "kube-apiserver": p.apiserver_pid},
                "startup_seconds": round(p.startup_seconds or 0.0, 2),
            }
            for p in planes
        ]
    }
    write_private(state_file, json.dumps(state, indent=2).encode())
    for p in planes:
        print(
            f"# {p.name}: {p.server} (etcd {p.etcd_endpoint}, prefix {p.etcd_prefix}), "
            f"ready in {p.startup_seconds or 0.0:.1f}s"
        )
    kubeconfigs = ":".join(str(p.admin_kubeconfig) for p in planes)
    print(f"export KUBECONFIG={shlex.quote(kubeconfigs)}")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    state_file = _state_file(directory)
    if not state_file.exists():
        print(f"nothing to stop: {state_file} not found", file=sys.stderr)
        return 0
    state = json.loads(state_file.read_text())
    for plane in state["planes"]:
        pids = plane["pids"]
        if pids.get("kube-apiserver"):
            _kill_detached(int(pids["kube-apiserver"]), "kube-apiserver")
        if pids.get("etcd"):
            _kill_detached(int(pids["etcd"]), "etcd")
        shutil.rmtree(plane["etcd_data"], ignore_errors=True)
        if args.purge:
            shutil.rmtree(plane["directory"], ignore_errors=True)
        print(f"stopped {plane['name']}")
    state_file.unlink()
    return 0


def _cmd_identity(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    state = json.loads(_state_file(directory).read_text())
    planes = {p["name"]: p for p in state["planes"]}
    name = args.name or next(iter(planes))
    if name not in planes:
        print(f"no plane named {name}; have {', '.join(planes)}", file=sys.stderr)
        return 1
    plane = ControlPlane.attach(planes[name]["directory"])
    verbs = None if args.verbs is None else [v for v in args.verbs.split(",") if v]
    ident = plane.identity(args.namespace, verbs)
    print(
        f"# {ident.username} may {','.join(ident.verbs) or 'nothing'} secrets in {ident.namespace}"
    )
    print(f"export KUBECONFIG={shlex.quote(str(ident.kubeconfig))}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Real Kubernetes control planes (etcd + kube-apiserver) on loopback."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start control plane(s) in the background")
    up.add_argument("--dir", required=True, help="directory for state, kubeconfigs, logs")
    up.add_argument("--name", default="nebula", help="plane name (suffixed -0.. with --count)")
    up.add_argument("--count", type=int, default=1, help="number of planes")
    up.add_argument(
        "--apiserver-arg",
        action="append",
        default=[],
        metavar="--FLAG=VALUE",
        help="extra kube-apiserver flag (repeatable), e.g. --apiserver-arg=--v=2",
    )
    up.add_argument("--identity-pool", type=int, default=64, help="limited users per plane")
    up.add_argument("--timeout", type=float, default=60.0, help="readiness timeout, seconds")
    up.set_defaults(func=_cmd_up)

    down = sub.add_parser("down", help="stop the planes recorded in DIR/state.json")
    down.add_argument("--dir", required=True)
    down.add_argument("--purge", action="store_true", help="also remove plane directories")
    down.set_defaults(func=_cmd_down)

    ident = sub.add_parser("identity", help="create a limited identity on a running plane")
    ident.add_argument("--dir", required=True)
    ident.add_argument("--name", help="plane name (default: the first)")
    ident.add_argument("--namespace", required=True)
    ident.add_argument("--verbs", help=f"comma-separated (default {','.join(DEFAULT_VERBS)})")
    ident.set_defaults(func=_cmd_identity)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "up" and args.count < 1:
        parser.error("--count must be at least 1")
    try:
        result: int = args.func(args)
    except MissingBinaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result
