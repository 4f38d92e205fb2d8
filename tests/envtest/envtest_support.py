"""Running the envtest kit's shell commands, and telling whether a process still runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def envtest_argv(*args: str) -> list[str]:
    """The command line of ``python -m nebula_credential.testing.envtest ARGS``."""
    return [sys.executable, "-m", "nebula_credential.testing.envtest", *args]


def envtest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        envtest_argv(*args), capture_output=True, text=True, timeout=180, check=False
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes: check it is not still running.
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
