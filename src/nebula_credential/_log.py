"""The package's loggers, made where a module logs: ``import nebula_credential`` alone
does not load :mod:`logging` (a few milliseconds of every CLI start-up)."""

from __future__ import annotations

import logging

_PACKAGE = __name__.rpartition(".")[0]

# A library logs only where its user configured logging to go.
if not any(isinstance(h, logging.NullHandler) for h in logging.getLogger(_PACKAGE).handlers):
    logging.getLogger(_PACKAGE).addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (a module of this package), under the package's NullHandler."""
    return logging.getLogger(name)
