"""Console-script entry point: register the invoked command only, then run the app.

``COMMANDS`` maps each top-level command to the modules that define it (their import registers
them on :data:`hpadvisor.cli.base.app`).  With no command, ``--help`` or an unknown word, every
module is registered so help and "no such command" messages list them all.  Command modules
must stay cheap to import: no numpy, scipy or pandas at module level.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

COMMANDS: dict[str, tuple[str, ...]] = {
    "recommend": ("recommend_cmd",),
    "laws": ("laws_cmd",),
    "schema": ("schema_cmd",),
    "transfer": ("transfer_cmd",),
    "fit": ("fit_cmd", "fit_curves_cmd", "fit_final_cmd"),
    "predict": ("predict_cmd",),
    "compare-schedules": ("compare_cmd",),
    "schedule": ("schedule_cmd",),
    "check": ("check_cmd",),
    "plan-ladder": ("plan_ladder_cmd",),
}


def register(modules: Iterable[str]) -> None:
    for name in modules:
        importlib.import_module(f"hpadvisor.cli.{name}")


def main(argv: list[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    from hpadvisor.cli.base import app

    args = sys.argv[1:] if argv is None else argv
    first = next((a for a in args if not a.startswith("-")), None)
    if first in COMMANDS and "--help" not in args:
        register(COMMANDS[first])
    else:
        register(m for mods in COMMANDS.values() for m in mods)
    app(args=args, prog_name="hpadvisor")
