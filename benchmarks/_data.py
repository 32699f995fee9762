"""Where the benchmarks find real data: the repository's data/ (the openly licensed datasets it
ships), else the development data folder beside the repository (``../shared/data``: public data
without a licence to ship).  A benchmark whose data is in neither stops with the reason (:func:`dataset`)
or skips what needs it (:func:`find`).  Benchmarks import this module as ``_data``: benchmarks/ is on
sys.path when one runs as a script (tests/conftest.py's ``benchmark_module`` puts it there too)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Searched in order.
BASES = (ROOT / "data", ROOT.parent / "shared" / "data")


def find(name: str, *parts: str) -> Path | None:
    """``data/<name>/<parts>`` in the repository (the folder ``data/<name>`` with no ``parts``), else
    the same path in ../shared/data; None when neither has it."""
    for base in BASES:
        path = base.joinpath(name, *parts)
        if path.exists():
            return path
    return None


def dataset(name: str, *parts: str) -> Path:
    """:func:`find`'s path; exits with a one-line reason when neither folder has it."""
    path = find(name, *parts)
    if path is None:
        sys.exit(f"{'/'.join((name, *parts))}: not in data/ (not shipped: see data/README.md) nor in "
                 f"{BASES[1]}; this benchmark needs it.")
    return path
