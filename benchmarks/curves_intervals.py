"""Coverage of the curve laws' prediction intervals on the cross-lab
benchmark's held-out runs (benchmarks/curves_crosslab.py: its datasets, protocols and fits).

Run from the project root:

    python benchmarks/curves_intervals.py                  # coverage table, protocols a-e
    python benchmarks/curves_intervals.py --calibrate      # the calibration rule, printed constants
    python benchmarks/curves_intervals.py --fits-cache F   # keep the fitted constants in F (JSON)

For every protocol the three curve laws are fitted on the training runs (the benchmark's ``fit``);
each law in turn is the point law, the two others its companions (as ``fit curves`` records them),
and the stated 90% interval (:mod:`hpadvisor.fitting.curve_intervals`) of each held-out run's final
loss is checked against the run's actual final loss (the benchmark's: the last point, or PKU's mean
of the last 200 steps, the interval averaged over the same steps).

The calibration rule, written down before any coverage on PKU (d) or the sweep (e) was computed:
Gaussian maximum likelihood of the signed relative final errors, every law as the point law
(pooled), on the Multi-Power-Law protocols (a)-(c) at all three sizes (45 targets x 3 laws), the
four constants >= 0; ``s_model_typical`` (what stands for the laws' disagreement when a law file
has no other laws' fits) is the root mean square of c_model * s_model over the same targets.  The
constants shipped in :data:`hpadvisor.fitting.curve_intervals.DEFAULT_CALIBRATION` are that
calibration; (d) and (e) are out of sample.  ``--lodo`` also calibrates on two datasets and scores
the third.  The form of the interval and of its drop term were fixed on the MPL data alone.
"""

import argparse
import functools
import importlib.util
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hpadvisor.fitting.curve_intervals import (
    DEFAULT_CALIBRATION,
    LEVEL,
    Z90,
    Calibration,
    basis_for,
    drop_novelty,
    intervals,
    shapes,
)
from hpadvisor.io import lawfile

HERE = Path(__file__).resolve().parent


@functools.cache
def crosslab():
    """benchmarks/curves_crosslab.py, imported from its path."""
    spec = importlib.util.spec_from_file_location("curves_crosslab", HERE / "curves_crosslab.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("curves_crosslab", mod)
    spec.loader.exec_module(mod)
    return mod


DATASET = {"a": "MPL", "b": "MPL", "c": "MPL", "d": "PKU", "e": "sweep", "f": "sweep"}
DEV = ("a", "b", "c")


# -- fits ------------------------------------------------------------------------------------------

class Fits:
    """The three laws fitted on each protocol's training runs; with a cache file, fitted constants
    are kept between runs (keyed by protocol, group, law and the training runs)."""

    def __init__(self, cache: str | None = None) -> None:
        self.path = Path(cache) if cache else None
        self.data = json.loads(self.path.read_text()) if self.path and self.path.exists() else {}
        self.seconds: dict[str, float] = {}

    def law(self, p, law: str):
        key = f"{p.key}|{p.group}|{law}|{','.join(p.train)}"
        if key not in self.data:
            res, secs, _, reused = crosslab().fit(p, law)
            self.data[key] = {"law": lawfile.to_dict(res.law), "fit_s": secs}
            if self.path:
                self.path.write_text(json.dumps(self.data))
        return lawfile.from_dict(self.data[key]["law"], source=key)

    def runs(self, key: str, curves, law: str):
        """``law`` fitted on ``curves`` (fit_curves defaults), cached under ``key``."""
        from hpadvisor.fitting.curves import fit_curves

        key = f"{key}|{law}"
        if key not in self.data:
            t0 = time.perf_counter()
            self.data[key] = {"law": lawfile.to_dict(fit_curves(curves, law).law), "fit_s": time.perf_counter() - t0}
            if self.path:
                self.path.write_text(json.dumps(self.data))
        return lawfile.from_dict(self.data[key]["law"], source=key)


#: The run ``fit curves`` advises on MPL constant + cosine (a step drop to 0.1x from the constant
#: run, held), as the MPL data has it, and the runs held out of both fits.
ADDED = "wsdcon_3"
ADDED_HELD = ("constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_9", "wsdcon_18")


def added_run(fits: Fits) -> list[str]:
    """Mean and worst |final error| over :data:`ADDED_HELD`, fitted on constant + cosine and with
    :data:`ADDED` added, per law and MPL size."""
    cx = crosslab()
    lines = [f"{'law':<18} {'size':>5} {'constant + cosine':>24} {'+ ' + ADDED:>24}"]
    for law in cx.LAWS:
        for size in cx.MPL_SIZES:
            runs = cx.load_mpl(size)
            out = []
            for train in (("constant_24000", "cosine_24000"), ("constant_24000", "cosine_24000", ADDED)):
                L = fits.runs(f"mpl {size}M|{','.join(train)}", [runs[n].curve for n in train], law)
                err = np.abs([cx.score_run(L, runs[n])["final_rel_error"] for n in ADDED_HELD])
                out.append(f"mean {100 * err.mean():.2f}% worst {100 * err.max():.2f}%")
            lines.append(f"{law:<18} {size + 'M':>5} {out[0]:>24} {out[1]:>24}")
    return lines


# -- records ---------------------------------------------------------------------------------------

def records(keys: str, fits: Fits, progress: bool = True) -> list[dict]:
    """One record per (protocol, held-out run): the actual final loss, every law's prediction of it,
    and the raw interval inputs at the final step (s_model, length ratio, N_drop)."""
    cx = crosslab()
    out = []
    for p in cx.protocols(keys):
        laws = {law: fits.law(p, law) for law in cx.LAWS}
        runs = p.load()
        train = [(n, runs[n].curve.lr, int(runs[n].curve.steps[-1])) for n in p.train]
        base = basis_for(train)
        for n in p.test:
            r = runs[n]
            c = r.curve
            at = c.steps[-r.final_steps:]
            with np.errstate(all="ignore"):
                pred = {law: np.asarray(L.curve(c.lr, at), dtype=float) for law, L in laws.items()}
            final = shapes(c.lr, [int(at[-1])])[0]
            novelty, why = drop_novelty(final, base.runs)
            out.append({"protocol": p.key, "dataset": DATASET[p.key], "group": p.group, "run": n,
                        "actual": float(c.loss[-r.final_steps:].mean()),
                        "pred": {law: float(v.mean()) for law, v in pred.items()},
                        "s_model": float(np.mean(_spread(pred))),
                        "length": math.log(max(1.0, final.step / base.longest)), "drop": novelty,
                        "unseen": why, "step": final.step, "longest": base.longest,
                        "_p": p, "_laws": laws, "_train": train, "_at": at})
        if progress:
            print(f"  fitted ({p.key}) {p.group}", file=sys.stderr, flush=True)
    return out


def _spread(pred: dict) -> np.ndarray:
    """s_model at each averaged step: std / mean of the three laws' predictions, mean over the steps."""
    p = np.vstack(list(pred.values()))
    return p.std(axis=0) / p.mean(axis=0)


def errors(recs: Sequence[dict], laws: Sequence[str]) -> dict[str, np.ndarray]:
    """Arrays over (record, point law): signed relative error and the raw interval inputs."""
    rows = [(r["pred"][law] / r["actual"] - 1, r["s_model"], r["length"], r["drop"]) for r in recs for law in laws]
    a = np.array(rows, dtype=float).reshape(-1, 4)
    return {"err": a[:, 0], "s": a[:, 1], "len": a[:, 2], "drop": a[:, 3]}


# -- calibration -----------------------------------------------------------------------------------

def half_widths(cal: Calibration, e: dict[str, np.ndarray]) -> np.ndarray:
    return Z90 * np.sqrt((cal.c_model * e["s"]) ** 2 + (cal.k_len * e["len"]) ** 2 + (cal.k_drop * e["drop"]) ** 2
                         + cal.s_floor ** 2)


def calibrate(recs: Sequence[dict], laws: Sequence[str], source: str) -> Calibration:
    """The rule (module docstring): Gaussian maximum likelihood of the signed relative errors, the
    variance c_model^2 s^2 + k_len^2 len^2 + k_drop^2 N^2 + s_floor^2, constants >= 0 (fitted in
    log space from fixed starts, the best of them kept)."""
    from scipy.optimize import minimize

    e = errors(recs, laws)
    X = np.column_stack([e["s"] ** 2, e["len"] ** 2, e["drop"] ** 2, np.ones_like(e["s"])])
    y2 = e["err"] ** 2

    def nll(th):
        v = X @ np.exp(2 * th)
        return 0.5 * float(np.sum(np.log(v) + y2 / v))

    best = None
    for start in ([1.5, 0.005, 0.005, 0.002], [1.0, 0.001, 0.001, 0.003], [2.0, 0.01, 0.01, 0.001]):
        r = minimize(nll, np.log(start), method="Nelder-Mead",
                     options={"maxiter": 40000, "xatol": 1e-7, "fatol": 1e-10})
        if best is None or r.fun < best.fun:
            best = r
    c_model, k_len, k_drop, s_floor = (float(x) for x in np.exp(best.x))
    typical = float(np.sqrt(np.mean((c_model * e["s"]) ** 2)))
    return Calibration(c_model, k_len, k_drop, s_floor, typical, source)


# -- coverage --------------------------------------------------------------------------------------

def score(recs: Sequence[dict], laws: Sequence[str], cal: Calibration) -> list[dict]:
    """Per (record, point law): the interval from the library (as ``predict`` computes it) and
    whether it holds the actual final loss."""
    out = []
    for r in recs:
        p, laws_ = r["_p"], r["_laws"]
        c = p.load()[r["run"]].curve
        for law in laws:
            companions = [L for k, L in laws_.items() if k != law]
            basis = basis_for(r["_train"], companions, cal)
            with np.errstate(all="ignore"):
                lo, hi, parts = intervals(laws_[law], basis, c.lr, r["_at"])
            low, high = float(np.mean(lo)), float(np.mean(hi))
            point = r["pred"][law]
            out.append({"protocol": r["protocol"], "dataset": r["dataset"], "group": r["group"], "run": r["run"],
                        "law": law, "actual": r["actual"], "loss": point, "low": low, "high": high,
                        "covered": bool(low <= r["actual"] <= high), "half": (high - low) / 2 / point,
                        "error": point / r["actual"] - 1, "unseen": parts[-1].unseen})
    return out


def summarize(rows: Sequence[dict]) -> dict:
    n = len(rows)
    return {"n": n, "coverage": float(np.mean([r["covered"] for r in rows])) if n else float("nan"),
            "median_half": float(np.median([r["half"] for r in rows])) if n else float("nan"),
            "median_abs_error": float(np.median([abs(r["error"]) for r in rows])) if n else float("nan")}


def table(rows: Sequence[dict], laws: Sequence[str]) -> list[str]:
    head = f"{'protocol':<26} {'point law':<18} {'n':>4} {'coverage':>9} {'median half-width':>18} {'median |error|':>15}"
    lines = [head]
    groups = [(f"({k}) {DATASET[k]}", [r for r in rows if r["protocol"] == k]) for k in "abcdef"]
    groups = [g for g in groups if g[1]]
    groups.append(("(a)-(d) together", [r for r in rows if r["protocol"] in "abcd"]))
    groups.append(("(d)-(e) out of sample", [r for r in rows if r["protocol"] in "de"]))
    for label, g in groups:
        if not g:
            continue
        for law in (*laws, "all laws"):
            sel = g if law == "all laws" else [r for r in g if r["law"] == law]
            s = summarize(sel)
            if not s["n"]:
                continue
            lines.append(f"{label:<26} {law:<18} {s['n']:>4} {100 * s['coverage']:>8.1f}% "
                         f"{'+-' + format(100 * s['median_half'], '.2f') + '%':>18} "
                         f"{100 * s['median_abs_error']:>14.2f}%")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocols", default="abcde", help="subset of a-f (default abcde)")
    ap.add_argument("--fits-cache", metavar="PATH", help="keep the fitted constants in this JSON file")
    ap.add_argument("--calibrate", action="store_true", help="run the calibration rule and print the constants")
    ap.add_argument("--lodo", action="store_true", help="also: calibrate on two datasets, score the third")
    ap.add_argument("--json", metavar="PATH", help="write every scored interval as JSON")
    ap.add_argument("--added-run", action="store_true",
                    help=f"also: the held-out error of MPL constant + cosine, and with {ADDED} (the advised run) added")
    args = ap.parse_args(argv)
    cx = crosslab()
    t0 = time.perf_counter()
    fits = Fits(args.fits_cache)
    keys = "".join(sorted(set(args.protocols.replace(",", "")) | (set(DEV) if args.calibrate else set())))
    recs = records(keys, fits)
    laws = list(cx.LAWS)
    cal = DEFAULT_CALIBRATION
    if args.calibrate:
        dev = [r for r in recs if r["protocol"] in DEV]
        cal = calibrate(dev, laws, "calibrated on MPL (a)-(c)")
        print("calibration on MPL (a)-(c), Gaussian maximum likelihood, all three laws pooled:")
        print("  " + ", ".join(f"{k} {getattr(cal, k):.4g}" for k in Calibration.NAMES))
        print("  shipped: " + ", ".join(f"{k} {getattr(DEFAULT_CALIBRATION, k):.4g}" for k in Calibration.NAMES))
    wanted = [r for r in recs if r["protocol"] in args.protocols]
    rows = score(wanted, laws, cal)
    print(f"\nstated {LEVEL:.0%} interval of each held-out final loss, {'calibration above' if args.calibrate else 'shipped calibration'}:")
    print("\n".join(table(rows, laws)))
    missed = [r for r in rows if not r["covered"] and r["protocol"] in "abcd"]
    if missed:
        print("\nmissed in (a)-(d): " + "; ".join(
            f"({r['protocol']}) {r['group']} {r['run']} by {r['law']}: error {100 * r['error']:+.2f}%, "
            f"half-width {100 * r['half']:.2f}%" for r in missed))
    if args.lodo:
        print("\nleave one dataset out (calibrated on the other two, scored on it):")
        for ds in ("MPL", "PKU", "sweep"):
            train = [r for r in recs if r["dataset"] != ds and r["protocol"] != "f"]
            test = [r for r in recs if r["dataset"] == ds and r["protocol"] != "f"]
            if not test or not train:
                continue
            c = calibrate(train, laws, f"without {ds}")
            s = summarize(score(test, laws, c))
            print(f"  {ds:<6} n {s['n']:>4}  coverage {100 * s['coverage']:5.1f}%  median half-width "
                  f"+-{100 * s['median_half']:.2f}%   (constants " + ", ".join(
                      f"{k} {getattr(c, k):.3g}" for k in Calibration.NAMES[:4]) + ")")
    if args.added_run:
        print(f"\nheld-out |final error| over {', '.join(ADDED_HELD)}:")
        print("\n".join(added_run(fits)))
    if args.json:
        Path(args.json).write_text(json.dumps({"calibration": cal.to_dict(), "rows": rows}, indent=1) + "\n")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
