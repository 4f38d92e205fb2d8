"""One safe line for a credential failure that lightkube reports at request time.

lightkube raises ``ConfigError("Exec <command> returned <code>: <stderr>")`` when a
kubeconfig exec plugin (``aws eks get-token``, ``gke-gcloud-auth-plugin``, ``kubelogin``)
fails, with the plugin's standard error verbatim: many lines, and on a verbose or
failing plugin, tokens, refresh tokens or signed URLs. None of it is passed on. What is
left is the plugin's name and exit status, which say where to look, and the advice to
run it by hand, where its output is seen by the person who may see it.
"""

from __future__ import annotations

import os
import re
from typing import Final

_EXEC_FAILED: Final = re.compile(r"Exec (?P<command>.+?) returned (?P<code>-?\d+):", re.DOTALL)
_SHOWN: Final = 120


def describe_auth_failure(message: str) -> str:
    """A one-line description of lightkube's credential error ``message`` (no plugin output)."""
    failed = _EXEC_FAILED.match(message)
    if failed is not None:
        name = os.path.basename(failed["command"])[:60]
        return (
            f"the kubeconfig's exec credential plugin {name!r} exited with status "
            f"{failed['code']}; run it by hand to see why (its output is not shown here, "
            "as it may hold tokens)"
        )
    first = message.strip().splitlines()[0] if message.strip() else "no detail"
    # Other messages name a token file or an unsupported exec API version: no values.
    shown = first[:_SHOWN] + ("..." if len(first) > _SHOWN else "")
    return shown.encode("ascii", "backslashreplace").decode("ascii")
