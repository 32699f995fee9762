"""The Multi-Power-Law data, the authors' split: fit on cosine_24000, constant_24000, wsdcon_9;
predict the other six; for 25M/100M/400M and both curve laws.  Also the fit time (best of 2)
and the same through the command-line path (lr from the logged, sparse lr column).
Run: python benchmarks/curves_mpl.py"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from _data import dataset

from hpadvisor.fitting.curves import Curve, curves_from_logs, evaluate, fit_curves
from hpadvisor.laws.curves import MPL_25M, MPL_100M, MPL_400M
from hpadvisor.schedules import interpolate_trace, luo_schedule

DATA = dataset("mpl_schedules")
TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")
TEST = ("constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3", "wsdcon_18")
PUBLISHED = {"25": MPL_25M, "100": MPL_100M, "400": MPL_400M}


def curve(size, name, exact=True):
    d = pd.read_csv(DATA / f"csv_{size}" / f"{name}.csv")
    lr = luo_schedule(name).sequence() if exact else interpolate_trace(d.step.to_numpy(), d.lr.to_numpy())
    return Curve(name, lr, d.step.to_numpy(), d.loss.to_numpy())


def row(label, law, size, exact=True):
    q = evaluate(law, [curve(size, n, exact) for n in TEST])
    mre = np.mean([r.mean_rel_error for r in q])
    worst = max(q, key=lambda r: abs(r.final_rel_error))
    finals = {n: law.curve(luo_schedule(n).sequence(), [24000])[0]
              for n in ("wsd_20000_24000", "wsdld_20000_24000", "cosine_24000", "constant_24000")}
    order = list(finals.values()) == sorted(finals.values())
    print(f"{size:>4}M {label:<34} {100 * mre:>7.3f}% {100 * abs(worst.final_rel_error):>7.2f}% ({worst.name}) "
          f"{np.mean([r.r2 for r in q]):.4f}  order {'yes' if order else 'NO'}")


def main() -> None:
    print(f"{'size':>5} {'law':<34} {'test MRE':>8} {'worst final':>8}           R^2     wsd<wsdld<cos<const")
    for size in ("25", "100", "400"):
        row("published MPL parameters", PUBLISHED[size], size)
        for law in ("multipower", "annealing", "noise-convolution"):
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                fit = fit_curves([curve(size, n) for n in TRAIN], law)
                times.append(time.perf_counter() - t0)
            row(f"{law} fitted (exact lr) {min(times):.1f}s", fit.law, size)
            files = [str(DATA / f"csv_{size}" / f"{n}.csv") for n in TRAIN]
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                curves, _ = curves_from_logs(files)  # reading the logs is part of the command's work
                cli_fit = fit_curves(curves, law)
                times.append(time.perf_counter() - t0)
            row(f"{law} via CLI path (logged lr) {min(times):.1f}s", cli_fit.law, size, exact=False)
        # The authors' own procedure (--method luo): stage-1 grid, then at most 200 AdamW steps.
        t0 = time.perf_counter()
        luo = fit_curves([curve(size, n) for n in TRAIN], "multipower", method="luo")
        row(f"multipower --method luo (exact lr) {time.perf_counter() - t0:.1f}s", luo.law, size)
        curves, _ = curves_from_logs([str(DATA / f"csv_{size}" / f"{n}.csv") for n in TRAIN])
        row("multipower --method luo via CLI path", fit_curves(curves, "multipower", method="luo").law, size, exact=False)

    # How far the law's form can go: fitted on all nine curves (the six test curves included), scored on
    # the six test curves, and how well those parameters fit the three training curves.  When the
    # all-curve fit is much worse on the training curves than the training-only fit, the training
    # curves alone cannot pin the parameters the test curves need.
    print("\nin-sample reference (fitted on all nine curves, test curves included):")
    for size in ("25", "100", "400"):
        for law in ("multipower", "annealing", "noise-convolution"):
            both = fit_curves([curve(size, n) for n in TRAIN + TEST], law).law
            own = fit_curves([curve(size, n) for n in TRAIN], law).law
            t_all = np.mean([r.mean_rel_error for r in evaluate(both, [curve(size, n) for n in TEST])])
            tr_all = np.mean([r.mean_rel_error for r in evaluate(both, [curve(size, n) for n in TRAIN])])
            tr_own = np.mean([r.mean_rel_error for r in evaluate(own, [curve(size, n) for n in TRAIN])])
            print(f"{size:>4}M {law:<10} test-curve MRE {100 * t_all:.3f}%; on the 3 training curves "
                  f"{100 * tr_all:.3f}% (training-only fit: {100 * tr_own:.3f}%)")


if __name__ == "__main__":
    main()
