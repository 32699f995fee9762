"""Ladder design (issue 19, item 4): how the error of ``fit_final``'s prediction at a target run
depends on the ladder's design, measured by subsampling real ladders.

Usage:
    python benchmarks/plan_ladder.py run [--fits 48] [--out benchmarks/plan_ladder_subsamples.csv]
    python benchmarks/plan_ladder.py model [--table benchmarks/plan_ladder_subsamples.csv]

``run``: for each of four ladders (Epoch's 245 Chinchilla points, Porian et al.'s tuned isoFLOPs,
Gemstones to 350B tokens, (Mis)Fitting's best lr per horizon; read as
``benchmarks/lnd_extrapolate.py`` reads them), the largest sizes are the targets and ``--fits``
random sub-ladders of the smaller sizes are drawn (:func:`draw_design`: number of sizes 3-8, the
largest size, a stride between sizes, a window of tokens per parameter, at most so many token counts
per size), each fitted by ``hpadvisor.fit_final`` (the Chinchilla form fitted the Epoch way, form='chinchilla', no bootstrap) and
scored at every target run: |predicted / actual loss - 1|, with the design's features
(``hpadvisor.fitting.ladder.design_features``).  One row per (sub-ladder, target run) in the CSV.

``model``: fits the error model (``hpadvisor.fitting.ladder.fit_error_model``) on every row (the
constants to write into ``ERROR_MODEL``), and checks it on held-out sub-ladders: leave one ladder
out (the model fitted on the other three predicts the fourth) and a random half of the sub-ladders;
reports Spearman's rank correlation of predicted and actual error (per row and per sub-ladder) and
calibration (share of actual errors below the predicted median, inside the predicted 80% band,
and the geometric means by quintile of predicted error).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpadvisor.fitting.ladder import FEATURES, design_features, fit_error_model, size_groups  # noqa: E402

#: Protocol name in lnd_extrapolate -> the smallest N of the target sizes.
LADDERS = {"epoch": 4e9, "porian-tuned": 6e8, "gemstones": 1.5e9, "misfitting": 1e9}
#: A fitted size is at most this fraction of the smallest target size.
GAP = 1 / 1.5
TARGETS_PER_LADDER = 12  # target runs kept per ladder, evenly spread in tokens per parameter
#: Targets below this many tokens per parameter are left out of the model (Epoch's largest runs
#: stopped after a fraction of a token per parameter: no one plans such a run).
MIN_TARGET_M = 1.0
TABLE = ROOT / "benchmarks" / "plan_ladder_subsamples.csv"


def _lnd():
    spec = importlib.util.spec_from_file_location("lnd_extrapolate", ROOT / "benchmarks" / "lnd_extrapolate.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["lnd_extrapolate"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def load_ladders(only: set[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """{name: (N, D, loss)} of the four ladders present, and the reasons for the absent ones."""
    lnd, skipped = _lnd(), []
    loaders = {"epoch": lnd.load_epoch, "porian-tuned": lambda s: lnd.load_porian(s, "tuned"),
               "gemstones": lnd.load_gemstones, "misfitting": lnd.load_misfitting}
    protos = [p for name, load in loaders.items() if not only or name in only for p in load(skipped)]
    out = {p.name: (p.N, p.D, p.loss) for p in protos if p.name in LADDERS and (not only or p.name in only)}
    return out, skipped


def _spread(idx: np.ndarray, M: np.ndarray, m: int) -> np.ndarray:
    """At most m of the runs ``idx``, evenly spread over their sorted tokens per parameter."""
    idx = idx[np.argsort(M[idx], kind="stable")]
    if idx.size <= m:
        return idx
    return idx[np.unique(np.round(np.linspace(0, idx.size - 1, m)).astype(int))]


def targets(name: str, N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """The target runs of a ladder: its largest sizes, at most 12, spread over tokens per parameter."""
    return np.sort(_spread(np.flatnonzero(N >= LADDERS[name]), D / N, TARGETS_PER_LADDER))


def draw_design(name: str, N: np.ndarray, D: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """One random sub-ladder of the sizes below the targets (its runs: :func:`design_rows`)."""
    cand = np.flatnonzero(N <= LADDERS[name] * GAP)
    groups = size_groups(N[cand])
    G = int(groups.max()) + 1
    k = int(rng.integers(3, min(8, G) + 1))
    stride = int(rng.choice([s for s in (1, 2, 3) if (k - 1) * s < G]))
    top = int(rng.integers((k - 1) * stride, G))
    sizes = [top - i * stride for i in range(k)]
    window = str(rng.choice(["all", "short", "long", "middle"]))
    per_size = int(rng.choice([1, 2, 3, 5, 100]))
    return {"ladder": name, "k_drawn": k, "stride": stride, "top": top, "sizes": sizes, "window": window,
            "per_size": per_size}


def design_rows(design: dict[str, Any], N: np.ndarray, D: np.ndarray) -> np.ndarray:
    """The runs (indices into the ladder) a design keeps."""
    cand = np.flatnonzero(N <= LADDERS[design["ladder"]] * GAP)
    groups = size_groups(N[cand])
    M = D / N
    chosen = cand[np.isin(groups, design["sizes"])]
    lo, hi = {"all": (0, 1), "short": (0, 0.6), "long": (0.4, 1), "middle": (0.2, 0.8)}[design["window"]]
    qlo, qhi = np.quantile(np.log(M[chosen]), [lo, hi])
    chosen = chosen[(np.log(M[chosen]) >= qlo - 1e-12) & (np.log(M[chosen]) <= qhi + 1e-12)]
    keep = [_spread(chosen[groups[np.searchsorted(cand, chosen)] == g], M, design["per_size"]) for g in design["sizes"]]
    return np.sort(np.concatenate(keep))


def fit_design(design: dict[str, Any], N: np.ndarray, D: np.ndarray, L: np.ndarray,
               form: str = "chinchilla") -> tuple[Any, np.ndarray, str]:
    """(law or None, the fitted rows, the refusal) of ``hpadvisor.fit_final`` on a design's runs
    (``form``: chinchilla, the form the table was measured with; auto is fit final's default)."""
    import hpadvisor
    from hpadvisor.fitting.final import Ladder

    rows = design_rows(design, N, D)
    ladder = Ladder(N=N[rows], D=D[rows], loss=L[rows],
                    source={"file": f"{design['ladder']} subsample", "sha256": "0" * 64})
    try:
        return hpadvisor.fit_final(ladder, form=form, bootstrap=0).law, rows, ""
    except hpadvisor.HpAdvisorError as exc:
        return None, rows, str(exc).splitlines()[0][:120]


def run(fits: int, out: Path, only: set[str] | None, seed: int = 0, form: str = "chinchilla") -> None:
    ladders, skipped = load_ladders(only)
    for s in skipped:
        print("skipped:", s)
    fields = ["ladder", "fit", "design", "runs", "refused", "N_target", "D_target", "loss", "predicted", "error",
              *FEATURES]
    t0 = time.process_time()
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        state = {name: (np.random.default_rng([seed, list(LADDERS).index(name)]), targets(name, N, D))
                 for name, (N, D, _) in ladders.items()}
        for made in range(fits):  # round robin over the ladders: a run stopped early stays balanced
            for name, (N, D, L) in ladders.items():
                rng, tgt = state[name]
                while True:
                    design = draw_design(name, N, D, rng)
                    rows = design_rows(design, N, D)
                    if rows.size >= 6 and np.unique(D[rows]).size >= 2:
                        break
                law, rows, refused = fit_design(design, N, D, L, form)
                for t in tgt:
                    feats = design_features(N[rows], D[rows], N[t], D[t])
                    pred = float(law.loss(N[t], D[t])) if law is not None else float("nan")
                    w.writerow({"ladder": name, "fit": made, "design": json.dumps(design), "runs": rows.size,
                                "refused": refused, "N_target": N[t], "D_target": D[t], "loss": L[t],
                                "predicted": pred, "error": pred / L[t] - 1 if law is not None else float("nan"),
                                **feats})
                fh.flush()
                print(f"{name} {made + 1}/{fits} runs={rows.size} k={design['k_drawn']} "
                      f"{'refused: ' + refused if refused else ''} cpu {time.process_time() - t0:.0f}s", flush=True)


# -- the error model and its check ----------------------------------------------------------------


def read_table(path: Path) -> dict[str, np.ndarray]:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    cols: dict[str, np.ndarray] = {}
    for key in rows[0]:
        vals = [r[key] for r in rows]
        try:
            cols[key] = np.array([float(v) for v in vals])
        except ValueError:
            cols[key] = np.array(vals, dtype=object)
    return cols


def model_inputs(t: dict[str, np.ndarray], mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, |error|, weights) of the scored rows (refused fits left out), each sub-ladder weighing one."""
    ok = np.isfinite(t["error"]) & (t["D_target"] >= MIN_TARGET_M * t["N_target"])
    ok = ok if mask is None else ok & mask
    key = np.array([f"{a}/{int(b)}" for a, b in zip(t["ladder"], t["fit"], strict=True)])
    _, inv, counts = np.unique(key[ok], return_inverse=True, return_counts=True)
    X = np.column_stack([t[f][ok] for f in FEATURES])
    return X, np.abs(t["error"][ok]), 1.0 / counts[inv]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def check(t: dict[str, np.ndarray], train: np.ndarray, test: np.ndarray,
          cols: tuple[int, ...] = tuple(range(len(FEATURES)))) -> dict[str, Any]:
    """Fit on the rows ``train``, predict the rows ``test``: rank correlation and calibration
    (``cols``: the features used, all by default)."""
    X, e, w = model_inputs(t, train)
    X = X[:, list(cols)]
    m = fit_error_model(X, e, w)
    Xt, et, wt = model_inputs(t, test)
    Xt = Xt[:, list(cols)]
    coef = np.array(m["coef"])
    mu = coef[0] + Xt @ coef[1:]
    le = np.log(np.maximum(et, 1e-4))
    ok = np.isfinite(t["error"]) & (t["D_target"] >= MIN_TARGET_M * t["N_target"]) & test
    key = np.array([f"{a}/{int(b)}" for a, b in zip(t["ladder"][ok], t["fit"][ok], strict=True)])
    per_fit_pred, per_fit_act = [], []
    for k in np.unique(key):
        sel = key == k
        per_fit_pred.append(float(np.mean(mu[sel])))
        per_fit_act.append(float(np.mean(le[sel])))
    q = np.quantile(mu, [0.2, 0.4, 0.6, 0.8])
    bins = np.digitize(mu, q)
    quint = [{"predicted_gm": math.exp(float(np.average(mu[bins == b], weights=wt[bins == b]))),
              "actual_gm": math.exp(float(np.average(le[bins == b], weights=wt[bins == b]))),
              "rows": int(np.sum(bins == b))} for b in range(5) if np.any(bins == b)]
    return {
        "rows": int(et.size), "fits": len(per_fit_pred),
        "spearman_rows": spearman(mu, le), "spearman_fits": spearman(np.array(per_fit_pred), np.array(per_fit_act)),
        "below_median": float(np.average(le <= mu, weights=wt)),
        "in_80": float(np.average(np.abs(le - mu) <= 1.2815515655446004 * m["sigma"], weights=wt)),
        "predicted_gm": math.exp(float(np.average(mu, weights=wt))),
        "actual_gm": math.exp(float(np.average(le, weights=wt))),
        "quintiles": quint, "model": m,
    }


def model(path: Path) -> dict[str, Any]:
    t = read_table(path)
    every = np.ones(t["error"].size, bool)
    X, e, w = model_inputs(t)
    full = fit_error_model(X, e, w)
    ranges = {f: (float(np.quantile(X[:, i], 0.05)), float(np.quantile(X[:, i], 0.95))) for i, f in enumerate(FEATURES)}
    M_T = t["D_target"] / t["N_target"]
    M_T = M_T[M_T >= MIN_TARGET_M]
    ranges["target_tokens_per_param"] = (float(M_T.min()), float(M_T.max()))
    ladders, _ = load_ladders(set(t["ladder"]))
    fitted_M = np.concatenate([D[N <= LADDERS[k] * GAP] / N[N <= LADDERS[k] * GAP] for k, (N, D, _) in ladders.items()])
    ranges["tokens_per_param"] = (float(fitted_M.min()), float(fitted_M.max()))
    ranges["smallest_size"] = (min(float(N[N <= LADDERS[k] * GAP].min()) for k, (N, _, _) in ladders.items()),) * 2
    refused = {name: (int(len(set(t["fit"][(t["ladder"] == name) & (t["refused"] != "")]))),
                      int(len(set(t["fit"][t["ladder"] == name])))) for name in LADDERS if np.any(t["ladder"] == name)}
    # 90% intervals of the constants: a bootstrap over sub-ladders (each keeps all its target rows)
    ok = np.isfinite(t["error"]) & (t["D_target"] >= MIN_TARGET_M * t["N_target"])
    keys = np.array([f"{a}/{int(b)}" for a, b in zip(t["ladder"], t["fit"], strict=True)])
    uniq = np.unique(keys[ok])
    brng = np.random.default_rng(2)
    boots = []
    for _ in range(200):
        pick = brng.choice(uniq, uniq.size)
        rows = np.concatenate([np.flatnonzero(ok & (keys == k)) for k in pick])
        Xb = np.column_stack([t[f][rows] for f in FEATURES])
        wb = np.concatenate([np.full(np.sum(ok & (keys == k)), 1.0 / np.sum(ok & (keys == k))) for k in pick])
        boots.append(fit_error_model(Xb, np.abs(t["error"][rows]), wb)["coef"])
    full["interval_90"] = [[float(a), float(b)] for a, b in zip(*np.quantile(np.array(boots), [0.05, 0.95], axis=0),
                                                                   strict=True)]
    # the model plan-ladder uses: the features whose 90% interval excludes 0 (rule fixed before looking)
    cols = tuple(i for i, (a, b) in enumerate(full["interval_90"][1:]) if a > 0 or b < 0)
    model_fit = fit_error_model(X[:, list(cols)], e, w)
    model_fit["features"] = [FEATURES[i] for i in cols]
    out: dict[str, Any] = {"model_cols": cols, "model": model_fit, "fits": int(len(set(zip(t["ladder"], t["fit"], strict=True)))), "full": full, "ranges": ranges, "refused": refused, "lodo": {}, "lodo_all": {}}
    for name in LADDERS:
        held = t["ladder"] == name
        if held.any():
            out["lodo"][name] = check(t, ~held, held, cols)
            out["lodo_all"][name] = check(t, ~held, held)
    rng = np.random.default_rng(1)
    fit_key = np.array([f"{a}/{int(b)}" for a, b in zip(t["ladder"], t["fit"], strict=True)])
    keys = np.unique(fit_key)
    half = set(rng.choice(keys, keys.size // 2, replace=False))
    test = np.array([k in half for k in fit_key])
    out["random_half"] = check(t, ~test, test, cols)
    out["random_half_all"] = check(t, ~test, test)
    out["random_half_x_N_only"] = check(t, ~test, test, (0,))
    out["random_half_no_design"] = check(t, ~test, test, ())
    out["in_sample"] = check(t, every, every, cols)
    return out


def literal(res: dict[str, Any], fits: int) -> str:
    """``ERROR_MODEL`` as Python, to paste into hpadvisor/fitting/ladder.py."""
    full = res["model"]
    ranges = ",\n        ".join(f"{k!r}: ({a:.4g}, {b:.4g})" for k, (a, b) in res["ranges"].items())
    return (f"ERROR_MODEL = ErrorModel(\n    coef=({', '.join(f'{c:.4f}' for c in full['coef'])}),\n"
            f"    sigma={full['sigma']:.4f},\n    ranges={{\n        {ranges},\n    }},\n"
            f"    features={tuple(full['features'])!r},\n"
            f"    observations={full['observations']},\n    fits={fits},\n)")


def report(res: dict[str, Any]) -> None:
    full = res["full"]
    print("error model on every row:", {n: round(c, 4) for n, c in zip(("intercept", *FEATURES), full["coef"], strict=True)},
          "sigma", round(full["sigma"], 4), "rows", full["observations"])
    print("90% intervals (bootstrap over sub-ladders):",
          {n: (round(a, 3), round(b, 3)) for n, (a, b) in zip(("intercept", *FEATURES), full["interval_90"], strict=True)})
    print("feature ranges (5-95%):", {k: (round(a, 3), round(b, 3)) for k, (a, b) in res["ranges"].items()})
    print("refused fits / fits:", res["refused"])
    m = res["model"]
    print("the model plan-ladder uses:", {n: round(c, 4) for n, c in zip(("intercept", *m["features"]), m["coef"], strict=True)},
          "sigma", round(m["sigma"], 4))
    print("checks of that model (every feature: the lines marked 'all'):")
    print(f"{'held out':<28} {'rows':>5} {'fits':>4} {'rho rows':>8} {'rho fits':>8} {'<=median':>8} {'in 80%':>7} "
          f"{'pred gm':>8} {'act gm':>8}")
    for label, c in [*((f"ladder {k}", v) for k, v in res["lodo"].items()),
                     *((f"ladder {k}, all", v) for k, v in res["lodo_all"].items()),
                     ("random half", res["random_half"]), ("random half, all", res["random_half_all"]),
                     ("random half, x_N only", res["random_half_x_N_only"]),
                     ("random half, constant", res["random_half_no_design"]), ("in sample", res["in_sample"])]:
        print(f"{label:<28} {c['rows']:>5} {c['fits']:>4} {c['spearman_rows']:>8.2f} {c['spearman_fits']:>8.2f} "
              f"{c['below_median']:>8.0%} {c['in_80']:>7.0%} {c['predicted_gm']:>8.2%} {c['actual_gm']:>8.2%}")
    for label, c in (("random half", res["random_half"]),):
        print(label, "by quintile of predicted error (geometric means):",
              "; ".join(f"{q['predicted_gm']:.2%} -> {q['actual_gm']:.2%} ({q['rows']})" for q in c["quintiles"]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--fits", type=int, default=48)
    r.add_argument("--out", type=Path, default=TABLE)
    r.add_argument("--only", default="")
    r.add_argument("--form", default="chinchilla", help="fit_final's form (the table: chinchilla)")
    m = sub.add_parser("model")
    m.add_argument("--table", type=Path, default=TABLE)
    m.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "run":
        run(a.fits, a.out, set(a.only.split(",")) - {""} or None, form=a.form)
    else:
        res = model(a.table)
        report(res)
        print(literal(res, res["fits"]))
        if a.json:
            a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
