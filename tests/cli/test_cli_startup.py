"""Start-up: each command of the CLI imports what it uses and nothing else.

Start-up time is what a user notices first, and it is made of imports. These tests do
not time anything: they run the installed console script in a process of its own and
read which modules it had loaded when it exited (bench/local_store.py has the timings).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from k8s_support import new_namespace

from nebula_credential.cli.app import LAZY_COMMANDS, app
from nebula_credential.testing.envtest import ControlPlane

_APP = "nebula_credential.cli.app"  # the root group; it defines store, get, list, delete
# What no command of the local store needs: the Kubernetes and HTTP stacks, YAML,
# asyncio, rich's progress bars and help renderer, metrics, and the other commands.
NOT_FOR_THE_LOCAL_STORE = (
    "asyncio",
    "logging",
    "yaml",
    "aiohttp",
    "nebula_credential.http",
    "prometheus_client",
    "rich.progress",
    "rich.markdown",
    "typer.rich_utils",
    "nebula_credential.kubernetes",
    "nebula_credential.providers.caching",
    "nebula_credential.metrics",
    "nebula_credential.readers",
    "nebula_credential.ops",
    "nebula_credential.manifests",
    "nebula_credential.audit",
    "nebula_credential.seal",
    "nebula_credential.doctor",
    *sorted({f"nebula_credential.cli.{lazy.module}" for lazy in LAZY_COMMANDS} - {_APP}),
)
CANARY = "canary-startup-5e0c"
# What a Kubernetes command through the sync facade needs of that: the provider on its
# blocking transport and YAML (kubeconfig files); no event loop and no aiohttp.
_KUBERNETES_GET = ("yaml", "nebula_credential.kubernetes", "nebula_credential.http")


# Runs the console script as its own process would, then lists sys.modules at exit.
_RUN_AND_LIST = """
import atexit, runpy, sys
listing = sys.argv.pop(1)
atexit.register(lambda: open(listing, "w").write("\\n".join(sorted(sys.modules))))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def imported(
    *args: str, home: Path, stdin: str = ""
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the installed console script; its result and every module it imported."""
    exe = Path(sys.executable).with_name("nebula-credential")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEBULA_", "KUBE"))}
    env["NEBULA_CREDENTIAL_HOME"] = str(home)
    listing = home.parent / f"modules-{os.getpid()}.txt"
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST, str(listing), str(exe), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    modules = set(listing.read_text().split())
    listing.unlink()
    return done, modules


def loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(
        m for m in modules if m in packages or m.startswith(tuple(f"{p}." for p in packages))
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("startup") / "home"
    done, _ = imported(
        "store", "svc", "--kind", "api_key", "--field", "api_key=-", home=directory, stdin=CANARY
    )
    assert done.returncode == 0, done.stderr
    return directory


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("get", "svc"), "**********"),
        (("get", "svc", "--field", "api_key", "--reveal"), CANARY),
        (("get", "svc", "-o", "json"), '"id": "svc"'),
        (("list",), "svc"),
        (("list", "-o", "json"), '{"id": "svc"'),
        (("delete", "absent"), "absent; nothing to delete"),
    ],
)
def test_local_store_commands_import_only_the_local_store(
    home: Path, args: tuple[str, ...], expected: str
) -> None:
    done, modules = imported(*args, home=home)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
    assert loaded(modules, NOT_FOR_THE_LOCAL_STORE) == []
    assert {"sqlite3", "cryptography", "nebula_credential.local.store"} <= modules


def test_get_does_not_import_rich(home: Path) -> None:
    for args in (
        ("get", "svc"),
        ("get", "svc", "--field", "api_key", "--reveal"),
        ("get", "svc", "-o", "json"),
    ):
        done, modules = imported(*args, home=home)
        assert done.returncode == 0, done.stderr
        assert loaded(modules, ("rich",)) == [], args


def test_store_from_stdin_imports_only_the_local_store(tmp_path: Path) -> None:
    done, modules = imported(
        "store", "new", "--kind", "api_key", "--field", "api_key=-", home=tmp_path, stdin=CANARY
    )
    assert done.returncode == 0, done.stderr
    assert "stored new" in done.stdout
    assert loaded(modules, (*NOT_FOR_THE_LOCAL_STORE, "rich")) == []


def test_help_lists_every_command_without_opening_the_store(tmp_path: Path) -> None:
    done, modules = imported("--help", home=tmp_path)
    assert done.returncode == 0, done.stderr
    for lazy in LAZY_COMMANDS:
        assert f" {lazy.name} " in done.stdout
        assert lazy.help[:40] in done.stdout
    heavy = ("sqlite3", "cryptography", "msgspec", "nebula_credential.local", "asyncio", "yaml")
    assert loaded(modules, heavy) == []
    # typer's rich help renderer (Markdown, Syntax, Traceback) doubled the help's start-up.
    assert loaded(modules, ("rich", "typer.rich_utils", "markdown_it", "pygments")) == []
    assert not (tmp_path / "credentials.db").exists()


def test_a_lazy_command_imports_its_own_module_only(tmp_path: Path) -> None:
    done, modules = imported("manifests", "namespace", "-n", "team-a", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "kind: Namespace" in done.stdout
    assert "nebula_credential.cli.manifests_cmd" in modules
    others = {f"nebula_credential.cli.{c.module}" for c in LAZY_COMMANDS} - {
        "nebula_credential.cli.manifests_cmd",
        _APP,
    }
    assert loaded(modules, tuple(sorted(others))) == []


def test_each_listed_command_is_the_command_its_module_registers() -> None:
    """The names and short help that ``--help`` shows without importing a command's
    module are those of the command the module defines, and no command is missing."""
    modules = {lazy.module for lazy in LAZY_COMMANDS}
    registered: set[str] = set()
    for module in modules:
        holder = typer.Typer()
        __import__(f"nebula_credential.cli.{module}", fromlist=["register"]).register(holder)
        registered |= {c.name or c.callback.__name__ for c in holder.registered_commands}  # type: ignore[union-attr]
        registered |= {g.typer_instance.info.name for g in holder.registered_groups}  # type: ignore[union-attr,misc]
    assert registered == {lazy.name for lazy in LAZY_COMMANDS}
    for lazy in LAZY_COMMANDS:
        command = lazy.load()
        assert command.name == lazy.name
        assert (command.help or "").strip().splitlines()[0] == lazy.help
    root = typer.main.get_command(app)
    assert list(root.commands)[-len(LAZY_COMMANDS) :] == [c.name for c in LAZY_COMMANDS]  # type: ignore[attr-defined]


@pytest.mark.kubernetes
def test_kubernetes_commands_import_neither_the_local_store_nor_an_event_loop(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    namespace = new_namespace(control_plane, "startup")
    kubeconfig = str(control_plane.admin_kubeconfig)
    scope = ("--provider", "kubernetes", "--kubeconfig", kubeconfig, "--namespace", namespace)
    not_needed = ("sqlite3", "cryptography", "nebula_credential.local", "rich")
    others = tuple(p for p in NOT_FOR_THE_LOCAL_STORE if not p.startswith(_KUBERNETES_GET))
    others += ("nebula_credential.http.aio",)  # the blocking driver serves one-shot commands
    store = ("store", "svc", "--kind", "api_key", "--field", "api_key=-")
    for args, code, expected in [
        (("get", "absent"), 3, "absent"),
        (store, 0, "stored svc"),
        (("get", "svc", "--field", "api_key", "--reveal"), 0, CANARY),
        (("list", "-o", "json"), 0, '{"id": "svc"'),
        (("delete", "svc"), 0, "deleted svc"),
    ]:
        done, modules = imported(*scope, *args, home=tmp_path, stdin=CANARY)
        assert done.returncode == code, (args, done.stderr)
        assert expected in done.stdout + done.stderr, args
        assert loaded(modules, (*not_needed, *others)) == [], args
        assert "nebula_credential.http.blocking" in modules, args
