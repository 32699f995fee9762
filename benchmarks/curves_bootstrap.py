"""Do `fit curves --bootstrap` intervals cover held-out curves?  The authors' split of the
Multi-Power-Law data (fit on cosine_24000, constant_24000, wsdcon_9 with 60 bootstrap
resamples), then, for each of the six held-out curves, the 95% band of the predicted final loss
over the resampled parameters, against the logged final loss.
Run: python benchmarks/curves_bootstrap.py [--resamples 60]"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curves_mpl import TEST, TRAIN, curve  # noqa: E402  (the same data and split)

from hpadvisor.fitting.curves import fit_curves  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--resamples", type=int, default=60)
args = parser.parse_args()

total_in = total = 0
for law_name in ("multipower", "annealing"):
    for size in ("25", "100", "400"):
        t0 = time.perf_counter()
        fit = fit_curves([curve(size, n) for n in TRAIN], law_name, n_boot=args.resamples, seed=1)
        names = list(fit.intervals)
        laws = [dataclasses.replace(fit.law, **dict(zip(names, map(float, row), strict=True))) for row in fit.samples]
        cells, inside = [], 0
        for name in TEST:
            c = curve(size, name)
            last = c.steps[-1:]
            mid = fit.law.curve(c.lr, last)[0]
            lo, hi = np.percentile([law.curve(c.lr, last)[0] for law in laws], [2.5, 97.5])
            ok = lo <= c.loss[-1] <= hi
            inside += ok
            cells.append(f"{name[:15]:<15} +-{50 * (hi - lo) / mid:.2f}% vs error {100 * (mid / c.loss[-1] - 1):+.2f}%"
                         f"{'' if ok else ' (outside)'}")
        total_in += inside
        total += len(TEST)
        print(f"{size:>4}M {law_name:<10} {inside}/{len(TEST)} held-out final losses inside the 95% band "
              f"({time.perf_counter() - t0:.0f} s)")
        for cell in cells:
            print(f"        {cell}")
print(f"all: {total_in}/{total} inside")
