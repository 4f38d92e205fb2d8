"""The package's loggers, made when a module has something to log: importing a module
that logs does not load :mod:`logging` (a few milliseconds of every CLI start-up)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

_PACKAGE = __name__.rpartition(".")[0]
DEBUG = 10  # logging.DEBUG
_SEEN: dict[str, logging.Logger] = {}


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (a module of this package), under the package's NullHandler."""
    import logging

    package = logging.getLogger(_PACKAGE)
    # A library logs only where its user configured logging to go.
    if not any(isinstance(h, logging.NullHandler) for h in package.handlers):
        package.addHandler(logging.NullHandler())
    return logging.getLogger(name)


def enabled(name: str, level: int) -> bool:
    """Whether ``name`` logs at ``level``; False without importing :mod:`logging` when
    nothing has imported it yet (so nothing can have configured it)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return False
    logger = _SEEN.get(name)
    if logger is None:  # getLogger takes logging's lock: once per name, not per call
        logger = _SEEN[name] = logging.getLogger(name)
    return logger.isEnabledFor(level)
