"""``python -m nebula_credential.testing.envtest``: planes for a shell (up, restart, down...)."""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ._configs import write_private
from ._detached import DetachedPlane, kill_detached, read_state, state_path
from ._errors import ControlPlaneError, MissingBinaryError
from ._group import start_all
from ._identities import DEFAULT_VERBS
from ._plane import ControlPlane

PROG = "python -m nebula_credential.testing.envtest"


def _cmd_up(args: argparse.Namespace) -> int:
    directory = Path(args.dir).resolve()
    state_file = state_path(directory)
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
    state_file = state_path(directory)
    if not state_file.exists():
        print(f"nothing to stop: {state_file} not found", file=sys.stderr)
        return 0
    state = json.loads(state_file.read_text())
    for plane in state["planes"]:
        pids = plane["pids"]
        if pids.get("kube-apiserver"):
            kill_detached(int(pids["kube-apiserver"]), "kube-apiserver")
        if pids.get("etcd"):
            kill_detached(int(pids["etcd"]), "etcd")
        shutil.rmtree(plane["etcd_data"], ignore_errors=True)
        if args.purge:
            shutil.rmtree(plane["directory"], ignore_errors=True)
        print(f"stopped {plane['name']}")
    state_file.unlink()
    return 0


def _cmd_identity(args: argparse.Namespace) -> int:
    state = read_state(Path(args.dir).resolve())
    planes = {p["name"]: p for p in state["planes"]}
    name = args.name or next(iter(planes))
    if name not in planes:
        print(f"no plane named {name}; have {', '.join(planes)}", file=sys.stderr)
        return 1
    plane = ControlPlane.attach(planes[name]["directory"])
    verbs = None if args.verbs is None else [v for v in args.verbs.split(",") if v]
    ident = plane.identity(args.namespace, verbs)
    print(
        f"# {ident.username} may {','.join(ident.verbs)} secrets in {ident.namespace}"
        if ident.verbs
        else f"# {ident.username} may do nothing in {ident.namespace}"
    )
    print(f"export KUBECONFIG={shlex.quote(str(ident.kubeconfig))}")
    return 0


def _cmd_restart(args: argparse.Namespace) -> int:
    plane = DetachedPlane(Path(args.dir).resolve(), args.plane)
    began = time.monotonic()
    pid = plane.restart_apiserver(kill=args.kill, down_for=args.down_for, timeout=args.timeout)
    print(
        f"restarted kube-apiserver of {plane.name} at {plane.server} (pid {pid}), "
        f"unavailable for {time.monotonic() - began:.1f}s"
    )
    return 0


def _cmd_stop_apiserver(args: argparse.Namespace) -> int:
    plane = DetachedPlane(Path(args.dir).resolve(), args.plane)
    plane.stop_apiserver(kill=args.kill)
    print(f"stopped kube-apiserver of {plane.name} ({plane.server}); etcd keeps running")
    return 0


def _cmd_start_apiserver(args: argparse.Namespace) -> int:
    plane = DetachedPlane(Path(args.dir).resolve(), args.plane)
    began = time.monotonic()
    pid = plane.start_apiserver(timeout=args.timeout)
    print(
        f"started kube-apiserver of {plane.name} at {plane.server} (pid {pid}), "
        f"ready in {time.monotonic() - began:.1f}s"
    )
    return 0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text!r}")
    return value


def _add_apiserver_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = (
        ("restart", _cmd_restart, "stop a plane's kube-apiserver and start it again"),
        ("stop-apiserver", _cmd_stop_apiserver, "stop a plane's kube-apiserver (etcd stays)"),
        ("start-apiserver", _cmd_start_apiserver, "start a stopped kube-apiserver again"),
    )
    for command, func, text in commands:
        cmd = sub.add_parser(command, help=text, description=f"{text.capitalize()}.")
        cmd.add_argument("--dir", required=True, help="the directory given to 'up'")
        cmd.add_argument("--plane", help="plane name or index in DIR/state.json (default: first)")
        if command != "start-apiserver":
            cmd.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
        if command == "restart":
            cmd.add_argument(
                "--down-for",
                type=_seconds,
                default=0.0,
                metavar="SECONDS",
                help="how long the server stays down before it starts again (default 0)",
            )
        if command != "stop-apiserver":
            cmd.add_argument(
                "--timeout",
                type=_seconds,
                default=60.0,
                metavar="SECONDS",
                help="readiness timeout",
            )
        cmd.set_defaults(func=func)


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
    _add_apiserver_commands(sub)
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
