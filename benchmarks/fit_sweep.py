"""Accuracy and speed of `fit sweep` on the Step Law dense sweeps (issue 4).

Usage: python benchmarks/fit_sweep.py [--bootstrap 1000] [--repeat 3]
Prints: the refit by Step Law's procedure with bootstrap intervals beside the paper's constants;
fitted on N < 1e9, the loss regret at the predicted (lr, batch) of the two 1.07B settings on their
own local surfaces (both procedures); the sensitivity figures; and the wall time of reading the
1,911 runs + fitting + --bootstrap resamples (best of --repeat; target <= 10 s).
"""

from __future__ import annotations

import argparse
import time

from _data import dataset

from hpadvisor.fitting.data import holdout_mask, read_fit_table
from hpadvisor.fitting.sweep import fit_sweep
from hpadvisor.laws.lr_batch import STEPLAW

DATA = dataset("steplaw", "dense_lr_bs_loss.csv")


def read():
    return read_fit_table(DATA, need=["N", "D", "lr", "loss"], what="sweep", param_count=None,
                          default_param_count="non-embedding", seq_len=2048, need_batch=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        fit = fit_sweep(read(), n_boot=args.bootstrap)
        times.append(time.perf_counter() - t0)
    print(f"{'constant':<9} {'refit':>9} {'95% bootstrap':>20} {'paper':>8}  paper inside")
    for k, row in fit.comparison().items():
        lo, hi = fit.intervals[k]
        print(f"{k:<9} {row['fitted']:9.4g} {f'[{lo:.4g}, {hi:.4g}]':>20} {getattr(STEPLAW, k):8.4g}  "
              f"{row['paper_inside_interval']}")
    print(f"runs used {fit.rows_used}, diverged excluded {fit.rows_excluded['diverged']}")
    law = fit.law
    print(f"sensitivity (median of 17 local surfaces): lr 2x high +{law.lr_2x_high():.3%}, 2x low "
          f"+{law.lr_2x_low():.3%}; batch 2x +{law.batch_2x_high():.3%}, half +{law.batch_2x_low():.3%}")
    print("\nfitted on N < 1e9, predicted for the 1.07B settings (loss regret on each setting's surface):")
    for method in ("near-best", "surface"):
        table = read()
        held = fit_sweep(table, method=method, n_boot=0, holdout=holdout_mask(table.frame, "N >= 1e9"))
        for h in held.holdout:
            print(f"  {method:<9} D={h['D']:.3g}: lr {h['predicted']['lr']:.3g} (surface opt "
                  f"{h['surface_optimum']['lr']:.3g}), B {h['predicted']['batch_tokens']:.3g} (surface opt "
                  f"{h['surface_optimum']['batch_tokens']:.3g}); regret {h['loss_regret']:.3%} (target <= 0.15%)")
    print(f"\nread 1,911 runs + fit + {args.bootstrap} bootstrap resamples: best {min(times):.2f} s of "
          f"{args.repeat} (all: {', '.join(f'{t:.2f}' for t in times)}; target <= 10 s)")


if __name__ == "__main__":
    main()
