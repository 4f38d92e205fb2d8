"""The pod readers stay cheap: no HTTP stack, no crypto, and only loaded when used."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("aiohttp", "http.client", "nebula_credential.http", "cryptography", "yaml", "rich")


def _loaded(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_readers_do_not_load_the_http_stack_or_the_store() -> None:
    code = (
        "import sys, nebula_credential.readers\n"
        f"print(sorted(n for n in {HEAVY!r} if n in sys.modules))"
    )
    assert _loaded(code) == "[]"


def test_the_package_loads_the_readers_on_first_use() -> None:
    code = (
        "import sys, nebula_credential as n\n"
        "before = 'nebula_credential.readers' in sys.modules\n"
        "n.MountedCredential\n"
        "print(before, 'nebula_credential.readers' in sys.modules)"
    )
    assert _loaded(code) == "False True"


def test_cli_help_does_not_load_the_readers() -> None:
    code = (
        "import sys\n"
        "from nebula_credential.cli import main\n"
        "main(['--help'])\n"
        "print('nebula_credential.readers' in sys.modules)"
    )
    assert _loaded(code).splitlines()[-1] == "False"
