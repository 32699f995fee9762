"""Speed and accuracy of `fit final` on Epoch's Chinchilla data (issue 4: 1,000 bootstraps <= 30 s).

Usage: python benchmarks/fit_final_speed.py [--bootstrap 1000] [--repeat 3] [--auto-only]
Prints the fitted constants against Epoch's (estimate +- standard error), the mean relative error
on all 245 runs, and the wall time of the fit with its bootstrap (best of --repeat).  Then the
command's default (``--law auto``, issue 19): the model selection on the user's split, the chosen
form's fit and its bootstrap, and the spread forms, on all 245 runs: wall and CPU time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _data import dataset

from hpadvisor.fitting.final import fit_final, read_ladder

DATA = dataset("epoch_chinchilla", "svg_extracted_data.csv")
EPOCH = {"E": (1.8172, 0.026), "A": (482.01, 124.5), "B": (2085.43, 1293.0), "alpha": (0.3478, 0.015),
         "beta": (0.3658, 0.021)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--auto-only", action="store_true", help="time only the default (--law auto)")
    args = parser.parse_args()
    full = read_ladder(str(DATA))
    for label, kw, sigma in () if args.auto_only else (("the default (outliers beyond 10 robust sd left out)", {}, 10.0),
                             ("Epoch's choice (--drop-highest-loss 5)", {"drop_highest_loss": 5}, 0.0)):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fit = fit_final(read_ladder(str(DATA), **kw), form="chinchilla", bootstrap=args.bootstrap,
                            outlier_sigma=sigma)
            times.append(time.perf_counter() - t0)
        mre = float(np.mean(np.abs(fit.law.loss(full.N, full.D) / full.loss - 1)))
        iv = fit.intervals()
        print(f"{label}: fitted on {fit.ladder.loss.size} of 245 runs")
        print(f"{'constant':<8} {'fit':>10} {'95% bootstrap':>22} {'Epoch':>10} {'+-SE':>8}  within SE")
        for name, value in zip(fit.names, fit.estimate, strict=True):
            ref, se = EPOCH[name]
            lo, hi = iv[name]
            print(f"{name:<8} {value:10.5g} {f'[{lo:.4g}, {hi:.4g}]':>22} {ref:10.5g} {se:8.3g}  {abs(value - ref) <= se}")
        print(f"mean relative error on all 245 runs: {mre:.3%} (target <= 0.85%; Epoch's constants 0.79%)")
        print(f"fit + {args.bootstrap} bootstrap resamples: best {min(times):.1f} s of {args.repeat} "
              f"(target <= 30 s); failed resamples {fit.failed_resamples}\n")
    auto(args.bootstrap, args.repeat)


def auto(n_boot: int, repeat: int) -> None:
    """`fit final`'s default on all 245 runs: selection + chosen form + n_boot bootstraps + spread forms."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fit = fit_final(read_ladder(str(DATA)), form="auto", bootstrap=n_boot)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    sel = fit.selection or {}
    print(f"--law auto: chose {fit.form} ({sel.get('reason', '')}); forms fitted for the spread: "
          f"{', '.join(fit.forms or {})}")
    print(f"selection + fit + {n_boot} bootstrap resamples + spread forms: best {min(walls):.1f} s wall, "
          f"{min(cpus):.1f} s CPU of {repeat} (target <= 30 s on 2 cores); failed resamples {fit.failed_resamples}")


if __name__ == "__main__":
    main()
