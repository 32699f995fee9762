"""Start-up speed of the CLI against `python -c "import numpy"` (issue 2's budget: at most 3x).

Usage: python benchmarks/speed_cli.py [--repeat 15] [--no-bytecode]

By default PYTHONDONTWRITEBYTECODE is removed from the environment (after one warm-up run writes
the .pyc files), as on a user's machine; some sandboxes set it, and then every hpadvisor module is
recompiled at every start: --no-bytecode measures that case too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _startup import EXE, compare_to_numpy

ROOT = Path(__file__).resolve().parents[1]

COMMANDS = {
    "hpadvisor --help": [EXE, "--help"],
    "recommend (table)": [EXE, "recommend", str(ROOT / "configs" / "llama-7b-2t.yaml")],
    "recommend (json)": [EXE, "recommend", str(ROOT / "configs" / "llama-7b-2t.yaml"), "--format", "json"],
    "recommend --params": [EXE, "recommend", "--params", "7B", "--tokens", "2T", "--seq-len", "4096"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE")
    args = parser.parse_args()
    compare_to_numpy(COMMANDS, repeat=args.repeat, no_bytecode=args.no_bytecode)


if __name__ == "__main__":
    main()
