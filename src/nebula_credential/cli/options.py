"""Option types that several commands share (typer annotations)."""

from __future__ import annotations

from typing import Annotated

import typer

from .output import OutputFormat

#: ``--output``/``-o`` on a command: overrides the root group's ``--output``.
OutputOverride = Annotated[
    OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")
]
