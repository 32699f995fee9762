"""Two more ways to pin the multi-power law's drop shape from the authors' three training curves,
tried for issue 3 and not kept (figures in benchmarks/README.md).  Neither looks at a test curve
until it is scored.

1. A joint fit of the three sizes' training curves (nine curves) sharing the drop shape
   (C, beta, gamma), each size with its own L0, A, alpha, B.
2. A log-normal prior on (C, beta, gamma) centred on the published cross-size means, its weight
   chosen by a time split of the training curves (fit up to step 16000, score steps after it).

Run: python benchmarks/curves_mpl_tried.py      (about 40 s on 2 cores)
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curves_mpl import TEST, TRAIN  # noqa: E402  (the same data and split)
from curves_mpl import curve as whole_curve  # noqa: E402

from hpadvisor.fitting.curves import Curve, _MultiPower, evaluate, fit_curves  # noqa: E402
from hpadvisor.laws.curves import MPL_25M, MPL_100M, MPL_400M, MultiPowerLaw  # noqa: E402

SIZES = ("25", "100", "400")
NAMES = MultiPowerLaw.params  # L0, A, alpha, B, C, beta, gamma
SHAPE = (4, 5, 6)  # C, beta, gamma
LOWER = np.array([0.0, 1e-9, 1e-3, 0.0, 1e-9, 1e-3, 1e-3])
DELTA = 1e-3


def curve(size: str, name: str, upto: int | None = None, after: int | None = None) -> Curve:
    """A run of the authors' data with its exact lr, only its points up to / after a step if asked."""
    c = whole_curve(size, name)
    keep = np.ones(c.steps.size, bool)
    if upto is not None:
        keep &= c.steps <= upto
    if after is not None:
        keep &= c.steps > after
    return dataclasses.replace(c, steps=c.steps[keep], loss=c.loss[keep])


def law_of(p) -> MultiPowerLaw:
    return MultiPowerLaw(**dict(zip(NAMES, map(float, p), strict=True)), name="tried")


def score(p, size: str) -> str:
    q = evaluate(law_of(p), [curve(size, n) for n in TEST])
    worst = max(q, key=lambda r: abs(r.final_rel_error))
    return (f"test MRE {100 * np.mean([r.mean_rel_error for r in q]):.3f}%, worst final "
            f"{100 * abs(worst.final_rel_error):.2f}% ({worst.name})")


def solve(residual, jac, x0, lb, ub):
    x0 = np.clip(x0, lb + 1e-9, ub - 1e-9)
    return least_squares(residual, x0, jac=jac, bounds=(lb, ub), loss="huber", f_scale=DELTA, x_scale="jac",
                         xtol=1e-10, ftol=1e-10, gtol=1e-10)


def own_fit(curves) -> np.ndarray:
    law = fit_curves(curves, "multipower").law
    return np.array([getattr(law, n) for n in NAMES])


def joint() -> None:
    models = {s: _MultiPower([curve(s, n) for n in TRAIN], "as-run") for s in SIZES}
    logy = {s: np.log(np.concatenate([c.loss for c in models[s].curves])) for s in SIZES}
    own = [i for i in range(7) if i not in SHAPE]

    def unpack(x):
        return {s: np.array([x[SHAPE.index(i)] if i in SHAPE else x[3 + k * 4 + own.index(i)] for i in range(7)])
                for k, s in enumerate(SIZES)}

    def residual(x):
        P = unpack(x)
        return np.concatenate([np.log(models[s].predict(P[s])) - logy[s] for s in SIZES])

    def jac(x):
        P, rows = unpack(x), []
        for k, s in enumerate(SIZES):
            J, full = models[s].jac(P[s]), None
            full = np.zeros((J.shape[0], x.size))
            for i in range(7):
                full[:, SHAPE.index(i) if i in SHAPE else 3 + k * 4 + own.index(i)] = J[:, i]
            rows.append(full)
        return np.vstack(rows)

    singles = {s: own_fit(models[s].curves) for s in SIZES}
    lb = np.concatenate([LOWER[list(SHAPE)]] + [LOWER[own]] * 3)
    ub = np.concatenate([[np.inf, 10, 3]] + [[np.exp(logy[s]).min(), np.inf, 5, np.inf] for s in SIZES])
    best = None
    for start in [singles[s][list(SHAPE)] for s in SIZES]:
        x0 = np.concatenate([start] + [singles[s][own] for s in SIZES])
        r = solve(residual, jac, x0, lb, ub)
        best = r if best is None or r.cost < best.cost else best
    P = unpack(best.x)
    print("1. joint fit, drop shape shared by 25M/100M/400M: C %.3g, beta %.3g, gamma %.3g" % tuple(best.x[:3]))
    for s in SIZES:
        print(f"   {s:>4}M {score(P[s], s)}")


def prior() -> None:
    centre = np.log(np.mean([[getattr(m, NAMES[i]) for i in SHAPE] for m in (MPL_25M, MPL_100M, MPL_400M)], axis=0))
    print("2. log-normal prior on (C, beta, gamma) at the published means "
          f"({', '.join(f'{v:.3g}' for v in np.exp(centre))}); weight w per point-equivalent")
    for size in ("100", "400"):
        def fit(curves, w, starts):
            m = _MultiPower(curves, "as-run")
            logy = np.log(np.concatenate([c.loss for c in curves]))
            k = np.sqrt(w * logy.size) * DELTA

            def residual(p):
                return np.concatenate([np.log(m.predict(p)) - logy, k * (np.log(p[list(SHAPE)]) - centre)])

            def jac(p):
                pen = np.zeros((3, 7))
                for j, i in enumerate(SHAPE):
                    pen[j, i] = k / p[i]
                return np.vstack([m.jac(p), pen])

            ub = np.array([np.exp(logy).min(), np.inf, 5, np.inf, np.inf, 10, 3])
            return min((solve(residual, jac, x0, LOWER, ub) for x0 in starts), key=lambda r: r.cost).x

        train = [curve(size, n) for n in TRAIN]
        starts = [own_fit(train), np.array([getattr(MPL_100M, n) for n in NAMES])]
        for w in (0.0, 0.1, 1.0, 10.0, 100.0):
            early = fit([curve(size, n, upto=16000) for n in TRAIN], w, starts)
            late = [curve(size, n, after=16000) for n in ("cosine_24000", "constant_24000")]
            val = np.mean([r.mean_rel_error for r in evaluate(law_of(early), late)])
            p = fit(train, w, starts)
            print(f"   {size:>4}M w={w:<5g} time-split validation {100 * val:.3f}% | {score(p, size)} "
                  f"| C {p[4]:.3g} beta {p[5]:.3g} gamma {p[6]:.3g}")


if __name__ == "__main__":
    joint()
    prior()
