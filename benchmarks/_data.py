"""Where the benchmarks find real data: the repository's data/ (the openly licensed datasets it
ships), else the development data folder beside the repository (``../shared/data``: public data
without a licence to ship).  A benchmark whose data is in neither stops with the reason."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Searched in order.
BASES = (ROOT / "data", ROOT.parent / "shared" / "data")


def dataset(name: str, *parts: str) -> Path:
    """``data/<name>/<parts>`` in the repository, else the same path in ../shared/data; exits with
    a one-line reason when neither exists."""
    for base in BASES:
        path = base.joinpath(name, *parts)
        if path.exists():
            return path
    sys.exit(f"{'/'.join((name, *parts))}: not in data/ (not shipped: see data/README.md) nor in "
             f"{BASES[1]}; this benchmark needs it.")
