"""`fit batch` on Zhang et al.'s steps-to-target data, and reading a 1,000,000-row table (issue 4).

Usage: python benchmarks/fit_batch_read.py [--repeat 3]
Prints each model's critical batch (20% x B_noise of steps(B) = S_min (1 + B_noise/B)) beside the
authors' notebook figures, and the time to read and validate a 1,000,000-row sweep log with
read_fit_table (target <= 3 s; best of --repeat).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _data import dataset

from hpadvisor.fitting.batch import fit_batch
from hpadvisor.fitting.data import holdout_mask, read_fit_table

DATA = dataset("critical_batch_size", "cbs_steps_to_target_loss.csv")
AUTHORS = {"85M": 745, "151M": 955, "302M": 1394, "604M": 1889, "1.2B": 2533}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    table = read_fit_table(DATA, need=["N", "steps"], what="batch study", param_count=None,
                           default_param_count="total", seq_len=512, need_batch=True)
    t0 = time.perf_counter()
    fit = fit_batch(table, tokens_per_param=20, seq_len=512, n_boot=200)
    dt = time.perf_counter() - t0
    print(f"{'model':>6} {'B_noise':>8} {'B_crit':>8} {'95% interval':>16} {'authors':>8} {'error':>7}   (seqs of 512)")
    for m in fit.models:
        lo, hi = (x / 512 for x in m.b_crit_interval)
        ref = AUTHORS[m.label]
        print(f"{m.label:>6} {m.b_noise / 512:8.0f} {m.b_crit / 512:8.0f} {f'{lo:.0f}-{hi:.0f}':>16} {ref:8d} "
              f"{m.b_crit / 512 / ref - 1:+7.1%}")
    print(f"power law: B_crit = {fit.law.coef:.4g} (D/1e9)^{fit.law.d_exp:.3f} tokens, d_exp 95% "
          f"{fit.intervals['d_exp'][0]:.3f}-{fit.intervals['d_exp'][1]:.3f}; fit + 200 bootstraps {dt:.1f} s")
    held = fit_batch(table, tokens_per_param=20, n_boot=0, holdout=holdout_mask(table.frame, "N >= 1e9"))
    for h in held.holdout:
        print(f"holdout {h['model']}: predicted {h['predicted_critical_batch_tokens'] / 512:.0f} seqs, own fit "
              f"{h['fitted_critical_batch_tokens'] / 512:.0f} ({h['relative_error']:+.1%})")

    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = pd.DataFrame({"N": rng.choice([1e8, 2e8, 4e8], n), "D": rng.choice([1e9, 4e9], n),
                          "lr": 10 ** rng.uniform(-4, -2, n), "bs": rng.choice([64, 128, 256], n),
                          "loss": rng.uniform(2, 3, n)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        frame.to_csv(path, index=False)
        size = path.stat().st_size / 1e6
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            read_fit_table(path, need=["N", "D", "lr", "loss"], what="sweep", param_count=None,
                           default_param_count="non-embedding", seq_len=2048, need_batch=True)
            times.append(time.perf_counter() - t0)
    print(f"read + validate a {n:,}-row CSV ({size:.0f} MB): best {min(times):.2f} s of "
          f"{args.repeat} (all: {', '.join(f'{t:.2f}' for t in times)}; target <= 3 s)")


if __name__ == "__main__":
    main()
