"""Time hpadvisor.formats.read_config on every corpus config (in-process, after imports).

    python benchmarks/formats_read.py

Prints the median of 50 reads per file and the one-off import cost of the readers.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "configs"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    from hpadvisor.formats import read_config

    print(f"import hpadvisor.formats: {1e3 * (time.perf_counter() - t0):.1f} ms")
    for path in sorted(CORPUS.iterdir()):
        if path.name == "hf_config.json":
            continue
        model = CORPUS / "hf_config.json" if path.name.startswith("hf_") else None
        read_config(path, model_config=model)  # first read imports the format's module
        times = []
        for _ in range(50):
            t = time.perf_counter()
            read_config(path, model_config=model)
            times.append(time.perf_counter() - t)
        print(f"{path.name:28s} {1e3 * statistics.median(times):6.2f} ms")


if __name__ == "__main__":
    main()
