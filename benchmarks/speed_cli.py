"""Start-up speed of the CLI against `python -c "import numpy"` (issue 2's budget: at most 3x).

Runs each command N times in fresh processes, interleaved, and prints the median wall times and
ratios.  Usage: python benchmarks/speed_cli.py [--repeat 15] [--no-bytecode]

By default PYTHONDONTWRITEBYTECODE is removed from the environment (after one warm-up run writes
the .pyc files), as on a user's machine; some sandboxes set it, and then every hpadvisor module is
recompiled at every start: --no-bytecode measures that case too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The console script beside this interpreter (a pyenv shim on PATH would add its own ~0.1 s).
_BESIDE = Path(sys.executable).parent / "hpadvisor"
EXE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("hpadvisor") or "hpadvisor")

COMMANDS = {
    "import numpy": [sys.executable, "-c", "import numpy"],
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
    env = dict(os.environ)
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    for cmd in COMMANDS.values():  # warm-up: writes bytecode caches
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for _ in range(args.repeat):
        for name, cmd in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["import numpy"])
    mode = "without bytecode caches" if args.no_bytecode else "with bytecode caches"
    print(f"{'command':<22} {'median s':>9} {'x numpy':>8}   budget 3.0x ({mode})")
    for name, ts in times.items():
        med = statistics.median(ts)
        verdict = "" if name == "import numpy" else ("ok" if med <= 3 * base else "OVER")
        print(f"{name:<22} {med:9.3f} {med / base:8.2f}   {verdict}")


if __name__ == "__main__":
    main()
