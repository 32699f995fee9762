"""`hpadvisor check` on every corpus config against `python -c "import numpy"` (issue 6: at most 3x).

Runs each command N times in fresh processes, interleaved, and prints median wall times and ratios.
Usage: python benchmarks/check_speed.py [--repeat 11] [--no-bytecode]
(As benchmarks/speed_cli.py: PYTHONDONTWRITEBYTECODE is removed unless --no-bytecode.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _startup import EXE, compare_to_numpy

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "configs"

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
    commands = {f"check {name}": [EXE, "check", str(CORPUS / name), *flags]
                for name, flags in FILES.items() if (CORPUS / name).exists()}
    commands["check (json) megatron.yaml"] = [EXE, "check", str(CORPUS / "llama2_7b_megatron.yaml"), "-f", "json"]
    # check exits 1 when a finding reaches --fail-on: that is a result, not a crash.
    compare_to_numpy(commands, repeat=args.repeat, no_bytecode=args.no_bytecode, ok_codes=(0, 1), width=36)


if __name__ == "__main__":
    main()
