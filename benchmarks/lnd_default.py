"""`fit final`'s default (``--law auto``) on the L(N, D) extrapolation protocols, against the baseline.

Usage:
    python benchmarks/lnd_default.py [--only epoch,porian-tuned,...] [--porian-setups all|tuned]
                                     [--bootstrap 50] [--json PATH] [--outlier-report]

Each protocol of benchmarks/lnd_extrapolate.py (its loaders; data read from data/ or
../shared/data/, a missing dataset skipped with its reason) is fitted through hpadvisor's own
``fit_final(form="auto", split_along=<the protocol's axis>)`` with the command's defaults (outlier
rule, the chosen form's bootstrap), and predicts the held-out runs.  The baseline is the Chinchilla
form fitted the Epoch way (lnd_extrapolate.baseline_fit).  The interval is ``predict``'s
(hpadvisor.fitting.final.predict_with_fit) with the extrapolation-distance constant k calibrated
leave-one-dataset-out over the four headline protocols, as benchmarks/lnd_extrapolate.md's second
rule fixes it: for each left-out protocol, the smallest k with which each of the other three reaches
90% coverage (method A; B and C as benchmarks/lnd_extrapolate.md fixes them, C being ``predict``'s).
``--bootstrap 0`` skips the intervals.  ``--outlier-report`` also lists, per protocol, the runs the
threshold alone would leave out of the chosen form's first fit (benchmarks/lnd_rules.md, rule 1).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
HEADLINE = ("epoch", "porian-tuned", "gemstones", "misfitting")


def _bench():
    spec = importlib.util.spec_from_file_location("lnd_extrapolate", HERE / "lnd_extrapolate.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["lnd_extrapolate"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def default_fit(proto, *, bootstrap: int = 0, seed: int = 0):
    """hpadvisor's fit_final(form="auto") on the protocol's fit set."""
    from hpadvisor.fitting.final import Ladder, fit_final

    m = proto.fit
    ladder = Ladder(N=proto.N[m], D=proto.D[m], loss=proto.loss[m],
                    source={"file": proto.name, "sha256": "0" * 64, "rows": int(m.sum())})
    return fit_final(ladder, form="auto", bootstrap=bootstrap, seed=seed, split_along=proto.axis,
                     name=f"auto@{proto.dataset}")


def outlier_report(fit, proto) -> dict[str, list[list[float]]]:
    """The runs (N, D, z) the outlier rule leaves out of the chosen form's first fit, and those the
    threshold alone (|z| > 10, the rule before lnd_rules.md's rule 1) would have left out."""
    import dataclasses

    from hpadvisor.fitting.final import OUTLIER_SIGMA, _residual_z, fit_final, left_out

    m = proto.fit
    first = fit_final(dataclasses.replace(fit.ladder, N=proto.N[m], D=proto.D[m], loss=proto.loss[m]),
                      form=fit.form, bootstrap=0, outlier_sigma=0)
    L = first.ladder
    z = _residual_z(L, first.law)
    rows = lambda mask: [[float(a), float(b), float(c)] for a, b, c in zip(L.N[mask], L.D[mask], z[mask], strict=True)]  # noqa: E731
    return {"rule": rows(left_out(z, OUTLIER_SIGMA)), "threshold_only": rows(np.abs(z) > OUTLIER_SIGMA)}


def held_out_errors(law, proto) -> np.ndarray:
    ho = ~proto.fit
    with np.errstate(all="ignore"):
        pred = np.asarray(law.loss(proto.N[ho], proto.D[ho]), float)
    err = np.abs(pred / proto.loss[ho] - 1)
    return np.where(np.isfinite(err), err, np.inf)


def interval_parts(fit, proto) -> dict[str, np.ndarray]:
    """Per held-out point: ln(actual / predicted), the variance without the calibrated term, the
    distance d and the chosen form's inner-split error e_in."""
    from hpadvisor.fitting.final import inner_error, predict_with_fit

    info = fit.fit_info()
    ho = ~proto.fit
    z, var, dist = [], [], []
    for n, d, y in zip(proto.N[ho], proto.D[ho], proto.loss[ho], strict=True):
        r = predict_with_fit(fit.law, info, float(n), float(d), k_distance=0.0, c_inner=0.0)
        s = r.get("spread") or {"bootstrap": 0.0, "forms": 0.0, "residuals": 0.0}
        z.append(np.log(y / r["loss"]))
        var.append(s["bootstrap"] ** 2 + s["forms"] ** 2 + s["residuals"] ** 2)
        dist.append(r["extrapolation"]["distance"])
    d = np.array(dist)
    return {"log_ratio": np.array(z), "var": np.array(var), "d": d, "e_in": np.full(d.shape, inner_error(info))}


Z90 = 1.6448536269514722
#: The calibrated term's shape per method: A k d (fixed 22:00Z), B c e_in (1 + d) (fixed 22:24Z).
METHODS = {"A": lambda p: p["d"], "B": lambda p: p["e_in"] * (1 + p["d"])}


def half_width(p: dict[str, np.ndarray], k: float, method: str = "A") -> np.ndarray:
    return Z90 * np.sqrt(p["var"] + (k * METHODS[method](p)) ** 2)


def coverage(p: dict[str, np.ndarray], k: float, method: str = "A") -> float:
    return float(np.mean(np.abs(p["log_ratio"]) <= half_width(p, k, method)))


def smallest_k(p: dict[str, np.ndarray], target: float = 0.90, method: str = "A") -> float:
    """The smallest scale >= 0 with coverage >= target (bisection; coverage grows with it)."""
    if coverage(p, 0.0, method) >= target:
        return 0.0
    lo, hi = 0.0, 1.0
    while coverage(p, hi, method) < target and hi < 1e3:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if coverage(p, mid, method) >= target else (mid, hi)
    return hi


def lodo(parts: dict[str, dict[str, np.ndarray]], method: str = "A") -> dict[str, Any]:
    """Leave-one-dataset-out: the scale for each protocol from the others (each of them reaching 90%)."""
    own = {name: smallest_k(p, method=method) for name, p in parts.items()}
    rows, hits, halves = {}, [], []
    for name, p in parts.items():
        k = max(v for other, v in own.items() if other != name)
        inside = np.abs(p["log_ratio"]) <= half_width(p, k, method)
        hw = np.expm1(half_width(p, k, method))
        rows[name] = {"k": k, "coverage": float(inside.mean()), "points": int(inside.size),
                      "median_half_width": float(np.median(hw))}
        hits.append(inside)
        halves.append(hw)
    all_hits, all_halves = np.concatenate(hits), np.concatenate(halves)
    return {"method": method, "own_k": own, "per_protocol": rows, "k_all": max(own.values()),
            "coverage_all": float(all_hits.mean()), "points_all": int(all_hits.size),
            "median_half_width_all": float(np.median(all_halves))}


#: Method C (fixed 22:45Z): method B's shape with c = sqrt(pi/2), not calibrated.
C_FIXED = 1.2533141373155001


def fixed(parts: dict[str, dict[str, np.ndarray]], c: float = C_FIXED) -> dict[str, Any]:
    """Method C: coverage and median half-width with the scale fixed in advance (no calibration)."""
    rows, hits, halves = {}, [], []
    for name, p in parts.items():
        inside = np.abs(p["log_ratio"]) <= half_width(p, c, "B")
        hw = np.expm1(half_width(p, c, "B"))
        rows[name] = {"k": c, "coverage": float(inside.mean()), "points": int(inside.size),
                      "median_half_width": float(np.median(hw))}
        hits.append(inside)
        halves.append(hw)
    all_hits, all_halves = np.concatenate(hits), np.concatenate(halves)
    return {"method": "C (c fixed)", "own_k": {n: float("nan") for n in parts}, "per_protocol": rows, "k_all": c,
            "coverage_all": float(all_hits.mean()), "points_all": int(all_hits.size),
            "median_half_width_all": float(np.median(all_halves))}


def run(protocols, *, bootstrap: int, seed: int = 0, outliers: bool = False) -> dict[str, Any]:
    bench = sys.modules["lnd_extrapolate"]
    results, parts = [], {}
    for proto in protocols:
        t0, c0 = time.perf_counter(), time.process_time()
        fit = default_fit(proto, bootstrap=bootstrap if proto.name in HEADLINE else 0, seed=seed)
        err = held_out_errors(fit.law, proto)
        c1 = time.process_time()
        base = bench.baseline_fit(proto.N[proto.fit], proto.D[proto.fit], proto.loss[proto.fit])
        berr = held_out_errors(base, proto)
        row = {"name": proto.name, "headline": proto.name in HEADLINE, "fit_runs": int(proto.fit.sum()),
               "heldout_runs": int((~proto.fit).sum()), "chosen": fit.form, "selection": fit.selection,
               "default_mean": float(err.mean()), "default_worst": float(err.max()),
               "baseline_mean": float(berr.mean()), "baseline_worst": float(berr.max()),
               "change": float(err.mean() / berr.mean() - 1), "warnings": list(fit.warnings),
               "outliers": list(fit.ladder.source.get("outliers", [])),
               "outlier_report": outlier_report(fit, proto) if outliers else None,
               "cpu_default": c1 - c0, "cpu_baseline": time.process_time() - c1,
               "wall": time.perf_counter() - t0}
        if bootstrap and proto.name in HEADLINE:
            parts[proto.name] = interval_parts(fit, proto)
        results.append(row)
        print(format_row(row), flush=True)
    out: dict[str, Any] = {"protocols": results}
    if len(parts) == len(HEADLINE):
        out["intervals"] = {**{m: lodo(parts, m) for m in METHODS}, "C": fixed(parts)}
    return out


def format_row(r: dict[str, Any]) -> str:
    met = "met" if r["change"] <= -0.25 else "NOT met"
    s = r["selection"] or {}
    inner = s.get("inner_error", {})
    return (f"{r['name']:<58} {r['fit_runs']:>4}/{r['heldout_runs']:<4} baseline {100 * r['baseline_mean']:6.2f} / "
            f"{100 * r['baseline_worst']:5.1f}%  default {100 * r['default_mean']:6.2f} / {100 * r['default_worst']:5.1f}% "
            f"({r['chosen']}; inner chin {100 * (inner.get('chinchilla') or np.inf):.2f}% "
            f"ndexp {100 * (inner.get('chinchilla-ndexp') or np.inf):.2f}%, {s.get('inner_valid_values')} values)  "
            f"{100 * r['change']:+.0f}% {met}  [{r['cpu_default']:.0f}+{r['cpu_baseline']:.0f} s CPU]"
            + "".join(f"\n    left out: N {o['N']:.3g} D {o['D']:.3g} loss {o['loss']:.4g} ({o['robust_sd']:+.1f} robust sd)"
                      for o in r.get("outliers", []))
            + ("" if not r.get("outlier_report") else
               f"\n    outlier rule leaves out {len(r['outlier_report']['rule'])} runs; |z| > 10 alone would leave out "
               + (", ".join(f"N {n:.3g} D {d:.3g} ({z:+.1f} sd)" for n, d, z in r["outlier_report"]["threshold_only"])
                  or "none")))


def format_intervals(iv: dict[str, Any]) -> str:
    lines = [f"90% interval, method {iv['method']}, scale leave-one-dataset-out (each other protocol >= 90%):",
             f"  {'protocol':<14} {'own k':>8} {'k used':>8} {'coverage':>9} {'points':>7} {'median half-width':>18}"]
    for name, r in iv["per_protocol"].items():
        lines.append(f"  {name:<14} {iv['own_k'][name]:8.4f} {r['k']:8.4f} {100 * r['coverage']:8.0f}% {r['points']:7d} "
                     f"{100 * r['median_half_width']:17.2f}%")
    lines.append(f"  all held-out points: coverage {100 * iv['coverage_all']:.0f}% of {iv['points_all']}, median "
                 f"half-width {100 * iv['median_half_width_all']:.2f}%; k on all four (predict's): {iv['k_all']:.4f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    bench = _bench()
    parser = bench.protocols_parser(__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=50, help="refits per headline protocol for the interval")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--outlier-report", action="store_true",
                        help="also list the runs |z| > 10 alone would leave out (one more fit per protocol)")
    args = parser.parse_args(argv)

    def body(protos) -> dict[str, Any]:
        out = run(protos, bootstrap=args.bootstrap, outliers=args.outlier_report)
        for iv in out.get("intervals", {}).values():
            print(format_intervals(iv))
        return out

    return bench.over_protocols(args, body)


if __name__ == "__main__":
    raise SystemExit(main())
