"""Shared by the start-up benchmarks: the console script to time, and the timing table against
`python -c "import numpy"` (the issues' budget is 3x its wall time).

Each command runs --repeat times in fresh processes, interleaved, after one warm-up run that writes
the bytecode caches; PYTHONDONTWRITEBYTECODE is removed from the environment (as on a user's
machine) unless ``no_bytecode``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The console script beside this interpreter (a pyenv shim on PATH would add its own ~0.1 s).
_BESIDE = Path(sys.executable).parent / "hpadvisor"
EXE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("hpadvisor") or "hpadvisor")


def compare_to_numpy(commands: dict[str, list[str]], *, repeat: int, no_bytecode: bool,
                     ok_codes: tuple[int, ...] = (0,), width: int = 22) -> None:
    """Time ``commands`` and print each median wall time and its ratio to ``import numpy``."""
    env = dict(os.environ)
    if not no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {"import numpy": [sys.executable, "-c", "import numpy"], **commands}
    for cmd in commands.values():
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            t0 = time.perf_counter()
            res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            times[name].append(time.perf_counter() - t0)
            if res.returncode not in ok_codes:
                sys.exit(f"{name} exited {res.returncode}")
    base = statistics.median(times["import numpy"])
    mode = "without bytecode caches" if no_bytecode else "with bytecode caches"
    print(f"{'command':<{width}} {'median s':>9} {'x numpy':>8}   budget 3.0x ({mode})")
    for name, ts in times.items():
        med = statistics.median(ts)
        verdict = "" if name == "import numpy" else ("ok" if med <= 3 * base else "OVER")
        print(f"{name:<{width}} {med:9.3f} {med / base:8.2f}   {verdict}")
