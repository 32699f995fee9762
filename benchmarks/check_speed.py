"""`hpadvisor check` on every corpus config against `python -c "import numpy"` (issue 6: at most 3x).

Runs each command N times in fresh processes, interleaved, and prints median wall times and ratios.
Usage: python benchmarks/check_speed.py [--repeat 11] [--no-bytecode]
(As benchmarks/speed_cli.py: PYTHONDONTWRITEBYTECODE is removed unless --no-bytecode.)
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
CORPUS = ROOT / "tests" / "data" / "configs"
# The console script beside this interpreter (a pyenv shim on PATH would add its own ~0.1 s).
_BESIDE = Path(sys.executable).parent / "hpadvisor"
EXE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("hpadvisor") or "hpadvisor")

# file -> flags it needs for the law-based rules (as in tests/test_check_cli.py)
FILES = {
    "llama2_7b_megatron.yaml": [],
    "llama2_7b_megatron.sh": [],
    "neox_1-3B.yml": [],
    "hf_training_args.json": ["--model", str(CORPUS / "hf_config.json"), "--tokens", "300B"],
    "torchtitan_llama3_8b.toml": ["--params", "8B"],
    "nanotron_360m.yaml": [],
    "nanogpt_gpt2_124m.py": ["--params", "124M"],
    "hpadvisor_llama_7b.yaml": [],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--no-bytecode", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ)
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {"import numpy": [sys.executable, "-c", "import numpy"]}
    for name, flags in FILES.items():
        if (CORPUS / name).exists():
            commands[f"check {name}"] = [EXE, "check", str(CORPUS / name), *flags]
    commands["check (json) megatron.yaml"] = [EXE, "check", str(CORPUS / "llama2_7b_megatron.yaml"), "-f", "json"]
    for cmd in commands.values():  # warm-up: bytecode caches
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.repeat):
        for name, cmd in commands.items():
            t0 = time.perf_counter()
            res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            times[name].append(time.perf_counter() - t0)
            if res.returncode not in (0, 1):
                sys.exit(f"{name} exited {res.returncode}")
    base = statistics.median(times["import numpy"])
    mode = "without bytecode caches" if args.no_bytecode else "with bytecode caches"
    print(f"{'command':<36} {'median s':>9} {'x numpy':>8}   budget 3.0x ({mode})")
    for name, ts in times.items():
        med = statistics.median(ts)
        verdict = "" if name == "import numpy" else ("ok" if med <= 3 * base else "OVER")
        print(f"{name:<36} {med:9.3f} {med / base:8.2f}   {verdict}")


if __name__ == "__main__":
    main()
