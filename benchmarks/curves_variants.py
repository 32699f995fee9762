"""The noise-convolution fit with one constant held instead of fitted, on the cross-lab benchmark
(issue 18: "a form whose drop term has fewer free constants").  A measurement: the product is not
changed; the fit's model is replaced in this process only.

Variants (benchmarks/curves_variants.md has the rule they are judged by, written before any ran):
  V1  b1 = 0   noise only in proportion to the loss above the floor (weight eta^2 b2 S1^-alpha)
  V2  b2 = 0   noise independent of the loss (weight eta^2 b1)
  V3  q = 1    the clock is the lr area itself (Sq = S1)

Everything else is the product's fit: the same start grid with the held constant fixed (for q = 1
the grid's q axis is the one value; for a b held at 0 the linear solve drops its column), the 4
best starts kept and screened, the final run capped at CONV_CAP evaluations and an unconverged fit
continued in the timescale parametrisation (with the held constant held there too).  The held value
goes into the law file as a fixed constant, as eta_ref does.

Run from the project root:
  python benchmarks/curves_variants.py V1 --json /tmp/v1.json [--protocols abcdef] [--group G]
  python benchmarks/curves_variants.py none ...        (the product's own fit, for comparison)
  python benchmarks/curves_variants.py --hold b1=42.9 ...  (b1, b2 or q at any value: a check)
The JSON is a list of rows shaped like curves_crosslab.py's (law 'noise-convolution'), each with
'variant', 'objective' and the fitted constants; one JSON line per fit goes to stdout.
"""

import argparse
import dataclasses
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
_spec = importlib.util.spec_from_file_location("curves_crosslab", HERE / "curves_crosslab.py")
assert _spec is not None and _spec.loader is not None
cl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cl)

from hpadvisor.errors import FitError  # noqa: E402
from hpadvisor.fitting import curves as fc  # noqa: E402
from hpadvisor.laws.curves import NoiseConvolutionLaw  # noqa: E402

VARIANTS = {"V1": ("b1", 0.0), "V2": ("b2", 0.0), "V3": ("q", 1.0)}
FULL = NoiseConvolutionLaw.params[:-1]  # L0, A, alpha, b1, b2, c, gamma, q (eta_ref is fixed already)
PRODUCT = fc._Convolution
#: the continuation in the timescale parametrisation, each time a held fit needed it (objective from, to)
CONTINUED: list[dict] = []


def held_model(name: str, value: float) -> type[fc._Convolution]:
    """A subclass of the product's fitting model with ``name`` held at ``value``: it fits the other
    seven constants and maps them to the law's eight by inserting the held one."""
    k = FULL.index(name)

    class Held(PRODUCT):
        names = tuple(n for n in FULL if n != name)

        def __init__(self, curves, warmup):
            super().__init__(curves, warmup)
            self.fixed = {"eta_ref": self.eta_ref, name: float(value)}

        @staticmethod
        def full(p):
            return np.insert(np.asarray(p, dtype=float), k, value)

        def predict(self, p):
            return super().predict(self.full(p))

        def starts(self, loss, peak):
            """The product's grid (alpha, q, c, gamma) with the held constant fixed; the linear solve
            over (L0, A, b1, b2) drops the held b's column (its term, at the held value, is taken
            off the loss first)."""
            from scipy.optimize import nnls

            cands = []
            wts = 1.0 / loss
            for alpha in (0.35, 0.5):
                for q in ((1.0, 1.4) if name != "q" else (value,)):
                    for c in (2 * self.eta_ref, 8 * self.eta_ref, 32 * self.eta_ref):
                        for gamma in (1.1, 1.4, 1.8):
                            law = NoiseConvolutionLaw(1.0, 1.0, alpha, 0.0, 0.0, c, gamma, q, self.eta_ref)
                            cols = {"L0": np.ones_like(loss), "A": self.S1_all ** -alpha,
                                    "b1": self._noise(law, 1.0, 0.0), "b2": self._noise(law, 0.0, 1.0)}
                            y = loss - (value * cols.pop(name) if name in cols else 0.0)
                            lin = list(cols)
                            X = np.column_stack([cols[n] for n in lin])
                            scale = np.abs(X).max(axis=0)
                            if not np.all(np.isfinite(X)) or np.any(scale <= 0):
                                continue
                            beta, _ = nnls(X / scale * wts[:, None], y * wts)
                            got = dict(zip(lin, beta / scale, strict=True))
                            if got["A"] <= 0 or got["L0"] >= loss.min():
                                continue
                            sse = float(np.sum(((X / scale) @ beta - y) ** 2 * wts ** 2))
                            p = {**got, "alpha": alpha, "c": c, "gamma": gamma, "q": q}
                            cands.append((sse, np.array([p[n] for n in self.names])))
            cands.sort(key=lambda x: x[0])
            fallback = np.delete(np.array([0.8 * loss.min(), 0.5, 0.45, 30.0, 30.0, 4 * self.eta_ref, 1.3, 1.0]), k)
            return [x for _, x in cands[: fc.START_KEEP]] or [fallback]

        def bounds(self, loss):
            lb, ub = super().bounds(loss)
            return list(np.delete(lb, k)), list(np.delete(ub, k))

        def to_timescale(self, p):
            return np.delete(PRODUCT.to_timescale(self.full(p)), k)

        def from_timescale(self, x):
            full = PRODUCT.from_timescale(np.insert(np.asarray(x, dtype=float), k, 0.0 if name in ("b1", "b2") else value))
            full[k] = value  # a held b stays at its value (B = b c^-gamma moves with c and gamma)
            return np.delete(full, k)

        def finish(self, res, predict, loss, bounds):
            """The product's continuation, its bounds mapped to the seven fitted constants."""
            if res.converged:
                return res
            CONTINUED.append({"from": float(res.objective)})
            lb, ub = (np.insert(np.asarray(b, dtype=float), k, 1.0) for b in bounds)
            ts_bounds = tuple(np.delete(np.r_[b[:5], np.log(b[5]), b[6:]], k) for b in (lb, ub))
            try:
                with np.errstate(all="ignore"):
                    more = fc.huber_log_fit(lambda x: predict(self.from_timescale(x)), loss,
                                            [self.to_timescale(res.params)], bounds=ts_bounds, screen=None)
            except FitError:
                return res
            CONTINUED[-1].update(to=float(more.objective), converged=bool(more.converged))
            if not more.objective < res.objective:
                return res
            return dataclasses.replace(res, params=self.from_timescale(more.params), objective=more.objective,
                                       converged=more.converged, message=more.message)

    Held.__name__ = f"_Convolution_{name}_held"
    return Held


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("variant", nargs="?", default=None, choices=(*VARIANTS, "none"))
    ap.add_argument("--hold", metavar="NAME=VALUE", help="hold b1, b2 or q at any value (a check)")
    ap.add_argument("--protocols", default="abcdef")
    ap.add_argument("--group", default=None, help="only this group, e.g. slimpajama/33m")
    ap.add_argument("--json", metavar="PATH", help="write the rows as a JSON list to PATH")
    args = ap.parse_args(argv)
    if args.hold:
        name, value = args.hold.split("=")
        if name not in ("b1", "b2", "q"):
            ap.error("--hold: b1, b2 or q")
        hold, label = (name, float(value)), f"{name}={float(value):g}"
    elif args.variant in VARIANTS:
        hold, label = VARIANTS[args.variant], args.variant
    else:
        hold, label = None, "none"
    fc._Convolution = held_model(*hold) if hold else PRODUCT  # type: ignore[misc]  # fc._fit builds _Convolution(curves, warmup)
    t0 = time.perf_counter()
    rows = []
    for p in cl.protocols(args.protocols):
        if args.group and p.group != args.group:
            continue
        c0 = time.process_time()
        CONTINUED.clear()
        r = cl.run(p, "noise-convolution")
        res = cl.fit(p, "noise-convolution")[0]  # the same fit, from curves_crosslab's cache
        r.update(variant=label, objective=float(res.objective), process_cpu_s=time.process_time() - c0,
                 continued=list(CONTINUED))
        rows.append(r)
        print(json.dumps({k: r[k] for k in ("variant", "protocol", "group", "objective", "fit_converged",
                                            "fit_reused", "fit_cpu_s", "final_mean", "final_worst",
                                            "final_signed_mean", "continued", "params")}), flush=True)
    print(f"# {label}: {len(rows)} rows, {time.perf_counter() - t0:.0f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
