"""A weakly informative prior on the noise-convolution law's drop shape, built from other labs'
fits (issue 18, item 2): the donor fits, the leave-one-lab-out priors, and the scoring of protocols
(a)-(f) of benchmarks/curves_crosslab.py with and without the prior.  The rule (parametrisation,
how the prior is built, its weight, the decision) is in benchmarks/curves_prior.md, written before
anything was scored.

Run from the project root (each step writes JSON to /tmp by default; ``score`` resumes from its
--out file, skipping rows already there):
    python benchmarks/curves_prior.py donors [--out PATH]   # fit every lab's runs (all schedules)
    python benchmarks/curves_prior.py score  [--donors PATH] [--protocols abcdef] [--out PATH]
    python benchmarks/curves_prior.py report [--donors PATH] [--scores PATH]  # the tables of curves_prior.md

``donors`` fits the noise-convolution law (fit_curves' defaults) on all of each lab's runs: MPL, the
nine runs of each size (3 fits); PKU, its three runs (1 fit); lr_scheduling_sweep, every scaling run
of each (dataset, size) pair, the WSD cooldown branches among them (11 fits).  It writes each fit's
drop-shape constants (:data:`SHAPE`) to JSON.  ``score`` fits each protocol's training runs with and
without the prior built from the other labs' donor fits and scores the held-out runs with the
harness's ``score``.  The rule said not to keep the prior, so it is not an option of ``fit_curves``:
:func:`fit_with_prior` applies it here (the product's solve plus the prior's residuals; the same
constants, bit for bit, as the option had while it was scored, checked on protocol (a)).
"""

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import hpadvisor.fitting.curves as fc
from hpadvisor.fitting.core import huber_log_fit
from hpadvisor.fitting.curves import fit_curves

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("curves_crosslab", ROOT / "benchmarks" / "curves_crosslab.py")
cx = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(cx)  # type: ignore[union-attr]

LAW = "noise-convolution"
#: the lab each protocol's runs come from
LAB_OF = {"a": "mpl", "b": "mpl", "c": "mpl", "d": "pku", "e": "sweep", "f": "sweep"}
LABS = ("mpl", "pku", "sweep")
#: 'prior': the rule of curves_prior.md; 'prior-q': its second look, the prior on q alone
VARIANTS = ("prior", "prior-q")


def donor_sets() -> list[tuple[str, str, dict]]:
    """(lab, group, runs) of every donor fit: all of a lab's runs of one size / pair."""
    out = [("mpl", f"{s}M", cx.load_mpl(s)) for s in cx.MPL_SIZES]
    out.append(("pku", "100M", cx.load_pku()))
    out += [("sweep", pair, cx.load_sweep(pair)) for pair in cx.sweep_pairs()]
    return out


def donors(path: Path) -> None:
    rows = []
    for lab, group, runs in donor_sets():
        t0, c0 = time.perf_counter(), time.process_time()
        f = fit_curves([r.curve for r in runs.values()], LAW)
        law = f.law
        row = {"lab": lab, "group": group, "runs": list(runs), "n_points": int(sum(r.points for r in f.runs)),
               "params": {k: float(getattr(law, k)) for k in type(law).params},
               "r2": [float(r.r2) for r in f.runs], "converged": bool(f.converged),
               "warnings": list(f.warnings), "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}
        rows.append(row)
        print(f"{lab:<6} {group:<18} {len(runs)} runs  cpu {row['cpu_s']:.0f} s", flush=True)
        path.write_text(json.dumps({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                    "law": LAW, "fits": rows}, indent=1) + "\n")


# -- the prior -------------------------------------------------------------------------------------
# Not in the product (curves_prior.md: the rule said not to keep it): the prior is applied here by
# replacing fitting/curves.py's ``_solve`` for the duration of one fit with the same solve plus the
# prior's residuals; the rest of ``fit_curves`` (warmup cut, thinning, acceptance) is unchanged.

#: The scale of a prior residual (the fit's Huber delta on log loss).
PRIOR_DELTA = 1e-3


@dataclass(frozen=True)
class ShapePrior:
    """Centre ``mu`` and width ``sigma`` of (gamma, q, ln(c / eta_ref)) of the noise-convolution law.
    For each constant, as many residuals PRIOR_DELTA x z, z = (theta - mu) / sigma, as a fitted run
    has points on average, are appended to the data's in the Huber fit."""

    mu: tuple[float, float, float]
    sigma: tuple[float, float, float]
    source: str = ""

    def z(self, p: np.ndarray, eta_ref: float) -> np.ndarray:
        c, gamma, q = p[5], p[6], p[7]  # the fit's order: L0, A, alpha, b1, b2, c, gamma, q
        theta = np.array([gamma, q, np.log(max(float(c), 1e-300) / eta_ref)])
        return (theta - np.asarray(self.mu)) / np.asarray(self.sigma)

    def to_dict(self) -> dict:
        return {"constants": ["gamma", "q", "ln_c_over_eta_ref"], "mu": list(self.mu), "sigma": list(self.sigma),
                "source": self.source}


def fit_with_prior(curves, prior: ShapePrior):
    """``fit_curves(curves, 'noise-convolution')`` with the prior's residuals added to the fit."""
    original = fc._solve

    def solve(model, loss, method, n_boot, seed):
        lb, ub = model.bounds(loss)
        starts = model.starts(loss, max(float(c.lr.max()) for c in model.curves))
        k = max(1, round(loss.size / len(model.curves)))
        eta_ref = float(model.fixed["eta_ref"])

        def predict(p):  # the prior's residuals as log(exp(r) / 1): same Huber, same delta
            return np.concatenate([model.predict(p), np.repeat(np.exp(PRIOR_DELTA * prior.z(p, eta_ref)), k)])

        with np.errstate(all="ignore"):
            res = huber_log_fit(predict, np.concatenate([loss, np.ones(3 * k)]), starts, bounds=(lb, ub),
                                jac=None, screen=model.screen)
        return res, {}, None, (lb, ub)

    fc._solve = solve
    try:
        return fit_curves(curves, LAW)
    finally:
        fc._solve = original


# -- building it -------------------------------------------------------------------------------------

#: sigma's floor per constant (gamma, q, ln(c / eta_ref)): curves_prior.md
FLOOR = (0.05, 0.10, 0.5)


def shape(params: dict) -> tuple[float, float, float]:
    """(gamma, q, ln(c / eta_ref)) of a fitted noise-convolution law's constants."""
    return params["gamma"], params["q"], float(np.log(params["c"] / params["eta_ref"]))


def build_prior(fits: list[dict], labs) -> ShapePrior:
    """The prior from the donor fits of ``labs`` (curves_prior.md): mu = the mean of the labs' means;
    sigma^2 = the sample variance of the labs' means + the mean within-lab sample variance; floored."""
    by = {lab: np.array([shape(f["params"]) for f in fits if f["lab"] == lab]) for lab in labs}
    means = np.array([v.mean(axis=0) for v in by.values()])
    mu = means.mean(axis=0)
    between = means.var(axis=0, ddof=1) if len(means) > 1 else np.zeros(3)
    within = np.mean([v.var(axis=0, ddof=1) if len(v) > 1 else np.zeros(3) for v in by.values()], axis=0)
    sigma = np.maximum(np.sqrt(between + within), FLOOR)
    groups = "; ".join(f"{lab}: {', '.join(f['group'] for f in fits if f['lab'] == lab)}" for lab in labs)
    return ShapePrior(tuple(float(x) for x in mu), tuple(float(x) for x in sigma),  # type: ignore[arg-type]
                      source=f"noise-convolution fits on every run of {groups}")


def loo_prior(fits: list[dict], key: str, variant: str = "prior") -> ShapePrior:
    """The leave-one-lab-out prior of protocol ``key``: from the labs that are not its own.
    ``variant`` 'prior-q' (the second look of curves_prior.md): the same, on q alone (the other two
    constants' sigma infinite: their residuals are 0)."""
    pr = build_prior(fits, [lab for lab in LABS if lab != LAB_OF[key]])
    if variant == "prior-q":
        return ShapePrior(pr.mu, (float("inf"), pr.sigma[1], float("inf")), source=pr.source + "; q only")
    return pr


# -- scoring ---------------------------------------------------------------------------------------

def fit_prior(p, prior: ShapePrior):
    """The protocol's training runs fitted with the prior (timed and shared as the harness's fits)."""
    return cx.fit(p, prior, fit_with_prior)


def _row(p, variant: str, res, wall: float, cpu: float, reused: bool) -> dict:
    runs = p.load()
    s = cx.score(res.law, [runs[n] for n in p.test])
    return {"protocol": p.key, "group": p.group, "variant": variant, **s, "fit_s": wall, "fit_cpu_s": cpu,
            "fit_reused": reused, "params": {k: float(getattr(res.law, k)) for k in type(res.law).params},
            "warnings": list(res.warnings)}


def score_all(donor_path: Path, keys: str, out: Path, variant: str = "prior") -> None:
    fits = json.loads(donor_path.read_text())["fits"]
    done = json.loads(out.read_text())["rows"] if out.exists() else []
    have = {(r["protocol"], r["group"], r["variant"]) for r in done}
    rows = list(done)
    for p in cx.protocols(keys):
        prior = loo_prior(fits, p.key, variant)
        for v in ("none", variant):
            if (p.key, p.group, v) in have:
                continue
            if v == "none":
                res, wall, cpu, reused = cx.fit(p, LAW)
            else:
                res, wall, cpu, reused = fit_prior(p, prior)
            r = _row(p, v, res, wall, cpu, reused)
            if v != "none":
                r["prior"] = prior.to_dict()
            rows.append(r)
            print(f"({p.key}) {p.group:<22} {v:<7} final mean {100 * r['final_mean']:.2f}% worst "
                  f"{100 * r['final_worst']:.2f}%  curve {100 * r['curve_mre']:.3f}%  cpu {cpu:.0f} s"
                  f"{' *' if reused else ''}", flush=True)
            out.write_text(json.dumps({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                       "donors": str(donor_path), "rows": rows}, indent=1) + "\n")


def donor_table(fits: list[dict]) -> list[str]:
    """Each donor fit's drop shape, and the priors built from them (each leave-one-lab-out, and all)."""
    out = ["| lab | group | runs | gamma | q | c / eta_ref | ln(c / eta_ref) | eta_ref | fit CPU s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for f in fits:
        g, q, lc = shape(f["params"])
        out.append(f"| {f['lab']} | {f['group']} | {len(f['runs'])} | {g:.4f} | {q:.4f} | {np.exp(lc):.3g} | {lc:.3f} | "
                   f"{f['params']['eta_ref']:g} | {f['cpu_s']:.0f} |")
    out += ["", "| prior for | from | mu (gamma, q, ln c/eta_ref) | sigma |", "|---|---|---|---|"]
    for label, labs in (("MPL (a)-(c)", ("pku", "sweep")), ("PKU (d)", ("mpl", "sweep")),
                        ("sweep (e), (f)", ("mpl", "pku")), ("the product", LABS)):
        pr = build_prior(fits, labs)
        out.append(f"| {label} | {' + '.join(labs)} | {', '.join(f'{x:.4f}' for x in pr.mu)} | "
                   f"{', '.join(f'{x:.4f}' for x in pr.sigma)} |")
    return out


# -- the decision ----------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def report(rows: list[dict], variant: str = "prior") -> list[str]:
    """The before/after table (every row), the per-protocol means m_P and the rule's verdict."""
    out = ["| prot | group | no prior: mean / worst % | prior: mean / worst % | curve MRE % before -> after |",
           "|---|---|---|---|---|"]
    by = {(r["protocol"], r["group"], r["variant"]): r for r in rows}
    groups = list(dict.fromkeys((r["protocol"], r["group"]) for r in rows))
    for key, group in groups:
        a, b = by.get((key, group, "none")), by.get((key, group, variant))
        if a is None or b is None:
            continue
        out.append(f"| {key} | {group} | {_pct(a['final_mean'])} / {_pct(a['final_worst'])} | "
                   f"{_pct(b['final_mean'])} / {_pct(b['final_worst'])} | "
                   f"{100 * a['curve_mre']:.3f} -> {100 * b['curve_mre']:.3f} |")
    out += ["", "| prot | rows | m_P no prior % | m_P prior % | ratio | rise allowed (points) |", "|---|---|---|---|---|---|"]
    ratios, rises = [], []
    for key in cx.PROTOCOLS:
        pairs = [(by[(k, g, "none")], by[(k, g, variant)]) for k, g in groups
                 if k == key and (k, g, "none") in by and (k, g, variant) in by]
        if not pairs:
            continue
        m0 = float(np.mean([a["final_mean"] for a, _ in pairs]))
        m1 = float(np.mean([b["final_mean"] for _, b in pairs]))
        allowed = max(0.0005, 0.10 * m0)
        ratios.append(m1 / m0)
        rises.append((key, m1 - m0, allowed))
        out.append(f"| {key} | {len(pairs)} | {_pct(m0)} | {_pct(m1)} | {m1 / m0:.3f} | {100 * allowed:.3f} |")
    if ratios:
        bad = [k for k, d, allowed in rises if d > allowed]
        mean_ratio = float(np.mean(ratios))
        keep = len(ratios) == len(cx.PROTOCOLS) and mean_ratio <= 0.90 and not bad
        out += ["", f"mean ratio over {len(ratios)} protocols: {mean_ratio:.3f} (keep needs <= 0.90); protocols that rose "
                f"beyond the allowed: {', '.join(bad) or 'none'}; decision: {'KEEP' if keep else 'NOT KEPT'}"
                + ("" if len(ratios) == len(cx.PROTOCOLS) else " (not every protocol scored)")]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("donors")
    d.add_argument("--out", default="/tmp/curves_prior_donors.json")
    sc = sub.add_parser("score")
    sc.add_argument("--donors", default="/tmp/curves_prior_donors.json")
    sc.add_argument("--protocols", default="".join(cx.PROTOCOLS))
    sc.add_argument("--out", default="/tmp/curves_prior_score.json")
    sc.add_argument("--variant", choices=VARIANTS, default="prior")
    rp = sub.add_parser("report")
    rp.add_argument("--scores", default="/tmp/curves_prior_score.json")
    rp.add_argument("--donors", default="/tmp/curves_prior_donors.json")
    rp.add_argument("--variant", choices=VARIANTS, default="prior")
    args = ap.parse_args(argv)
    if args.cmd == "donors":
        donors(Path(args.out))
    elif args.cmd == "score":
        score_all(Path(args.donors), args.protocols, Path(args.out), args.variant)
        print("\n".join(report(json.loads(Path(args.out).read_text())["rows"], args.variant)))
    elif args.cmd == "report":
        print("\n".join(donor_table(json.loads(Path(args.donors).read_text())["fits"])) + "\n")
        print("\n".join(report(json.loads(Path(args.scores).read_text())["rows"], args.variant)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
