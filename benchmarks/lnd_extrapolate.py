"""L(N, D) extrapolation benchmark (issue 19): fit the small runs, predict the large ones.

Usage:
    python benchmarks/lnd_extrapolate.py [--json PATH] [--only epoch,porian-tuned,...]
                                         [--bootstrap 100] [--porian-setups all|tuned]
                                         [--baseline headline|all]

Every law form x every protocol on the development data (epoch_chinchilla, porian_isoflops,
gemstones, misfitting_scaling), read from the project's ``data/<name>/`` when present, else from
``../shared/data/<name>/``; a protocol whose data is absent is skipped with a printed reason.
Protocols, candidate forms, the selection rule for the default and the interval method were fixed
in benchmarks/lnd_extrapolate.md before any candidate was scored on a held-out point.

The core is importable (tests load it with importlib, with benchmarks/ on sys.path for ``_data``):
``load_protocols``, ``FORMS``, ``fit_form``, ``predict_form``, ``select_split``, ``run_protocol``,
``zhang_critical_batch``.
Forms are pure numpy functions of (params, ln N, ln D) giving ln L; they will move into
hpadvisor/laws later.  The baseline is hpadvisor's own ``fit_final`` (Chinchilla form, Huber
delta 1e-3 on log loss from a grid of starts, no outlier removal: the Epoch way).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _data import find
from scipy.optimize import least_squares, nnls
from scipy.special import logsumexp

N0 = 1e9  # normalisation of N inside the N-dependent exponents (conditioning only)
Z90 = 1.6448536269514722

# -- data (found by benchmarks/_data.py: data/, else ../shared/data/) ----------------------------


@dataclass
class Protocol:
    """One extrapolation task: runs (N, D, loss), which are fitted, along which axis it extrapolates."""

    name: str
    dataset: str
    N: np.ndarray
    D: np.ndarray
    loss: np.ndarray
    fit: np.ndarray  # bool mask: the fit set; the rest is held out
    axis: str  # "N" or "C": the inner split's axis
    headline: bool = False
    description: str = ""
    n_opt: dict[float, float] = field(default_factory=dict)  # budget -> authors' compute-optimal N

    @property
    def C(self) -> np.ndarray:
        return 6.0 * self.N * self.D

    def axis_values(self) -> np.ndarray:
        return self.N if self.axis == "N" else self.C


def _read_csv(path: Path):
    import pandas as pd

    return pd.read_csv(path)


def _read_jsonl(path: Path):
    import pandas as pd

    return pd.read_json(path, lines=True)


_IN_DATA = " in data/ or ../shared/data/"


def _table(skipped: list[str], label: str, name: str, file: str, where: str = ""):
    """The dataset's file ``name/file`` as a frame (JSONL by its ending, else CSV); None, with
    '<label>: <name>/<file> not found<where>' added to ``skipped``, when it is not there."""
    path = find(name, file)
    if path is None:
        skipped.append(f"{label}: {name}/{file} not found{where}")
        return None
    return _read_jsonl(path) if file.endswith(".jsonl") else _read_csv(path)


def load_epoch(skipped: list[str]) -> list[Protocol]:
    d = _table(skipped, "epoch", "epoch_chinchilla", "svg_extracted_data.csv", _IN_DATA)
    if d is None:
        return []
    N = d["Model Size"].to_numpy(float)
    D = d["Training FLOP"].to_numpy(float) / (6.0 * N)
    return [Protocol("epoch", "epoch_chinchilla", N, D, d["loss"].to_numpy(float), N < 1e9, "N", True,
                     "245 Chinchilla runs (Epoch's extraction), D = C/6N; fit N < 1B, predict N >= 1B")]


PORIAN_KEYS = ("source_file", "dataset", "hparams", "warmup", "decay", "param_count", "loss_split")
PORIAN_HEADLINE = ("summary_df", "rw", "tuned", "short", "const", "standard", "val")


def load_porian(skipped: list[str], setups: str = "all") -> list[Protocol]:
    d = _table(skipped, "porian", "porian_isoflops", "isoflop_points.csv", _IN_DATA)
    if d is None:
        return []
    out = []
    for key, g in d.groupby(list(PORIAN_KEYS), sort=True):
        headline = tuple(key) == PORIAN_HEADLINE
        if setups == "tuned" and not headline:
            continue
        name = "porian-tuned" if headline else "porian:" + "/".join(str(k) for k in key[1:]) + f"[{key[0]}]"
        flops = g["flops"].to_numpy(float)
        n_opt = {}
        for c, gg in g.groupby("flops"):
            v = gg["budget_n_opt_repo"].dropna()
            if len(v):
                n_opt[float(c)] = float(v.iloc[0])
        out.append(Protocol(name, "porian_isoflops", g["n_params"].to_numpy(float), g["tokens"].to_numpy(float),
                            g["loss"].to_numpy(float), flops <= 1.6e18 * 1.0001, "C", headline,
                            f"Porian et al. isoFLOPs, {'/'.join(map(str, key))}; fit budgets <= 1.6e18, predict larger",
                            n_opt))
    return out


GEMSTONES = (("gemstones", "hot_100b+", True, "hot (constant lr), every checkpoint to 350B tokens"),
             ("gemstones-hot100", "hot", False, "hot (constant lr), checkpoints to 100B tokens"),
             ("gemstones-cooled", "cool_end", False, "the loss at the end of each cooldown (to ~110B tokens)"))


def load_gemstones(skipped: list[str]) -> list[Protocol]:
    out = []
    for name, suffix, headline, what in GEMSTONES:
        g = _table(skipped, name, "gemstones", f"wandb_df_for_fitting_{suffix}.jsonl")
        if g is None:
            continue
        N = g["params_active_precise"].to_numpy(float)
        out.append(Protocol(name, "gemstones", N, g["tokens"].to_numpy(float), g["final_loss"].to_numpy(float),
                            N <= 5e8, "N", headline, f"Gemstones {what}; fit N <= 0.5B, predict the larger models"))
    return out


MISFIT_BAD_SWEEP = "2024_11_10-23_08_29_sweep_test"


def load_misfitting(skipped: list[str]) -> list[Protocol]:
    m = _table(skipped, "misfitting", "misfitting_scaling", "scaling_results_last_ckpt_only.csv")
    if m is None:
        return []
    out = []
    for name, keep, headline, what in (
            ("misfitting", m["sweep"] != MISFIT_BAD_SWEEP, True, "the 17m sweep with unreliable labels dropped (SOURCE.md)"),
            ("misfitting-no17m", m["model"] != "misfitting_17m", False, "every 17m run dropped")):
        b = (m[keep].groupby(["model", "total_steps"])
             .agg(N=("N", "first"), D=("D", "first"), loss=("loss", "min")).reset_index())
        N = b["N"].to_numpy(float)
        out.append(Protocol(name, "misfitting_scaling", N, b["D"].to_numpy(float), b["loss"].to_numpy(float),
                            N <= 3e8, "N", headline,
                            f"(Mis)Fitting final losses, best peak lr per (size, horizon), {what}; "
                            "N total; fit 12m-200m, predict 300m, 400m, 1b"))
    return out


def load_protocols(only: set[str] | None = None, porian_setups: str = "all") -> tuple[list[Protocol], list[str]]:
    """Every protocol whose data is present, and the reasons for the skipped ones."""
    skipped: list[str] = []
    protos = (load_epoch(skipped) + load_porian(skipped, porian_setups) + load_gemstones(skipped)
              + load_misfitting(skipped))
    if only:
        protos = [p for p in protos if p.name in only or p.dataset in only
                  or (p.name.startswith("porian") and "porian" in only)]
    return protos, skipped


def protocols_parser(description: str) -> argparse.ArgumentParser:
    """A script's parser with the protocol selection :func:`over_protocols` reads (``--only``,
    ``--porian-setups``); the script adds its own options, ``--json`` among them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", help="comma-separated protocol or dataset names")
    parser.add_argument("--porian-setups", choices=("all", "tuned"), default="all")
    return parser


def over_protocols(args: argparse.Namespace, body: Callable[[list[Protocol]], Any]) -> int:
    """A script's run over the protocols its ``args.only`` and ``args.porian_setups`` select: the
    skipped ones printed, ``body(protocols)`` (printing its own rows), the wall and CPU time it took,
    and what it returns written to ``args.json`` when given (lnd_default.py, lnd_rules.py)."""
    protos, skipped = load_protocols(set(args.only.split(",")) if args.only else None, args.porian_setups)
    for s in skipped:
        print(f"skipped: {s}")
    t0, c0 = time.perf_counter(), time.process_time()
    out = body(protos)
    print(f"total: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return 0


# -- forms ---------------------------------------------------------------------------------------
# Each form: log_pred(p, lnN, lnD) -> ln L, starts(lnN, lnD, L) -> list of parameter vectors,
# constants(p) -> named constants.  Fitted on ln L by least_squares (Huber delta 1e-3 unless said).


@dataclass(frozen=True)
class Form:
    name: str
    k: int  # number of constants
    log_pred: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    starts: Callable[[np.ndarray, np.ndarray, np.ndarray], list[np.ndarray]]
    constants: Callable[[np.ndarray], dict[str, float]]
    loss: str = "huber"  # "huber" (delta 1e-3) or "linear" (least squares), on ln L
    weighting: str = "none"  # "none" or "eqN": every distinct N weighs the same in total
    bounds: tuple[list[float], list[float]] | None = None
    provenance: str = ""
    jac: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None  # d ln L / d p
    screen: int = 0  # > 0: every start runs this many evaluations, the best goes on to convergence


_ALPHAS = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45, 0.6, 0.8, 1.0])


def _nnls_starts(lnN, lnD, L, *, with_e=True, equal=False, interact=False, top=4) -> list[np.ndarray]:
    """Best (alpha, beta) of a grid by non-negative least squares of L on [1, N^-a, D^-b (, N^-a D^-b)],
    rows divided by L (relative residuals); returned as LSE starts (a, b, e, alpha, beta[, g])."""
    found = []
    for al in _ALPHAS:
        for be in (_ALPHAS if not equal else [al]):
            cols = [np.exp(-al * lnN), np.exp(-be * lnD)]
            if with_e:
                cols.append(np.ones_like(lnN))
            if interact:
                cols.append(np.exp(-al * lnN - be * lnD))
            X = np.column_stack(cols) / L[:, None]
            scale = np.abs(X).max(axis=0)
            scale[scale == 0] = 1.0
            c, res = nnls(X / scale, np.ones_like(L))
            c = c / scale
            found.append((res, al, be, c))
    found.sort(key=lambda t: t[0])
    starts = []
    floor = 1e-3 * float(np.min(L))
    for _, al, be, c in found[:top]:
        a, b = math.log(max(c[0], floor * math.exp(al * lnN.min()))), math.log(max(c[1], floor * math.exp(be * lnD.min())))
        p = [a, b]
        if with_e:
            p.append(math.log(max(c[2], floor)))
        p += [al] if equal else [al, be]
        if interact:
            p.append(math.log(max(c[3], floor * math.exp(al * lnN.min() + be * lnD.min()))))
        starts.append(np.array(p, float))
    return starts


def _lse(*terms):
    return logsumexp(np.stack(np.broadcast_arrays(*terms)), axis=0)


def chin_log(p, lnN, lnD):
    a, b, e, al, be = p
    return _lse(a - al * lnN, b - be * lnD, np.full_like(lnN, e))


def chin_constants(p):
    a, b, e, al, be = p
    return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": al, "beta": be}


def chin_starts(lnN, lnD, L):
    return _nnls_starts(lnN, lnD, L)


def noe_log(p, lnN, lnD):
    a, b, al, be = p
    return _lse(a - al * lnN, b - be * lnD)


def eqexp_log(p, lnN, lnD):
    a, b, e, eta = p
    return _lse(a - eta * lnN, b - eta * lnD, np.full_like(lnN, e))


def interact_log(p, lnN, lnD):
    a, b, e, al, be, g = p
    return _lse(a - al * lnN, b - be * lnD, np.full_like(lnN, e), g - al * lnN - be * lnD)


def ndexp_log(p, lnN, lnD):
    a, b, e, al, be, kap = p
    beta_n = be * np.exp(kap * (lnN - math.log(N0)))
    return _lse(a - al * lnN, b - beta_n * lnD, np.full_like(lnN, e))


def _from_chin(extra: list[list[float]]):
    def starts(lnN, lnD, L):
        base = _nnls_starts(lnN, lnD, L, top=2)
        return [np.concatenate([s, x]) for s in base for x in extra]
    return starts


def kaplan_log(p, lnN, lnD):
    lnc, lndc, an, ad = p
    return ad * _lse((an / ad) * (lnc - lnN), lndc - lnD)


def kaplan_starts(lnN, lnD, L):
    out = []
    for lnc in (math.log(1e13), math.log(1e14)):
        for lndc in (math.log(1e13), math.log(1e14)):
            for an in (0.05, 0.1):
                for ad in (0.08, 0.15):
                    out.append(np.array([lnc, lndc, an, ad]))
    return out


def farseer_log(p, lnN, lnD):
    """ln of exp(b3 + a3 n^g) + exp(b2 + a2 n^h) D^-exp(b1 + a1 n^f), n = N / 1e9."""
    a3, b3, g, a2, b2, h, a1, b1, f = p
    x = lnN - math.log(N0)
    with np.errstate(over="ignore", invalid="ignore"):
        u = b3 + a3 * np.exp(g * x)
        v = b2 + a2 * np.exp(h * x) - np.exp(b1 + a1 * np.exp(f * x)) * lnD
    return _lse(u, v)


def farseer_jac(p, lnN, lnD):
    """d ln L / d p of ``farseer_log`` (rows: runs)."""
    a3, b3, g, a2, b2, h, a1, b1, f = p
    x = lnN - math.log(N0)
    with np.errstate(over="ignore", invalid="ignore"):
        eg, eh, ef = np.exp(g * x), np.exp(h * x), np.exp(f * x)
        A = np.exp(b1 + a1 * ef)
        u = b3 + a3 * eg
        v = b2 + a2 * eh - A * lnD
        top = np.maximum(u, v)
        wu = np.exp(u - top)
        wv = np.exp(v - top)
        s = wu + wv
        wu, wv = wu / s, wv / s
        return np.column_stack([wu * eg, wu, wu * a3 * x * eg, wv * eh, wv, wv * a2 * x * eh,
                                -wv * A * ef * lnD, -wv * A * lnD, -wv * A * a1 * x * ef * lnD])


def farseer_starts(lnN, lnD, L):
    out = []
    for s in _nnls_starts(lnN, lnD, L, top=2):
        a, b, e, al, be = s
        E = math.exp(e)
        A_n0 = math.exp(a - al * math.log(N0))
        a3 = math.log1p(A_n0 / max(E, 1e-6))
        for h, f in ((0.1, 0.1), (-0.1, -0.1)):
            out.append(np.array([a3, e, -al, 0.01, b, h, 0.01, math.log(be), f]))
    return out


def farseer_constants(p):
    return dict(zip(("a3", "b3", "gamma", "a2", "b2", "beta", "a1", "b1", "alpha"), map(float, p), strict=True))


def _names(*names):
    def constants(p):
        return dict(zip(names, map(float, p), strict=True))
    return constants


FORMS: tuple[Form, ...] = (
    Form("chinchilla", 5, chin_log, chin_starts, chin_constants,
         provenance="Hoffmann et al. 2022 form, fitted as Besiroglu et al. 2024 (Huber delta 1e-3 on ln L)"),
    Form("chin-lsq", 5, chin_log, chin_starts, chin_constants, loss="linear",
         provenance="Chinchilla form, plain least squares on ln L"),
    Form("chin-eqN", 5, chin_log, chin_starts, chin_constants, weighting="eqN",
         provenance="Chinchilla form, Huber on ln L, each distinct N weighted equally"),
    Form("chin-noE", 4, noe_log, lambda lnN, lnD, L: _nnls_starts(lnN, lnD, L, with_e=False),
         _names("a", "b", "alpha", "beta"), provenance="Chinchilla form with E fixed at 0"),
    Form("chin-eqexp", 4, eqexp_log, lambda lnN, lnD, L: _nnls_starts(lnN, lnD, L, equal=True),
         _names("a", "b", "e", "eta"),
         provenance="Gadre et al. 2024 (arXiv:2403.08540): L = E + (a M^eta + b M^-eta) C^-eta, M = D/N, "
                    "i.e. Chinchilla with alpha = beta"),
    Form("kaplan", 4, kaplan_log, kaplan_starts, _names("ln_Nc", "ln_Dc", "alpha_N", "alpha_D"),
         bounds=([0, 0, 1e-3, 1e-3], [80, 80, 2, 2]),
         provenance="Kaplan et al. 2020 eq. 1.5, [(Nc/N)^(aN/aD) + Dc/D]^aD"),
    Form("chin-interact", 6, interact_log, lambda lnN, lnD, L: _nnls_starts(lnN, lnD, L, interact=True),
         _names("a", "b", "e", "alpha", "beta", "g"),
         provenance="Chinchilla + G/(N^alpha D^beta) (an N x D interaction term)"),
    Form("chin-ndexp", 6, ndexp_log, _from_chin([[-0.1], [0.0], [0.1]]),
         _names("a", "b", "e", "alpha", "beta", "kappa"),
         provenance="Chinchilla with an N-dependent data exponent beta (N/1e9)^kappa"),
    Form("farseer", 9, farseer_log, farseer_starts, farseer_constants, jac=farseer_jac, screen=300,
         provenance="Li et al. 2025 (Farseer, arXiv:2506.10972): E + U(N) + B(N) D^-A(N) with stretched-"
                    "exponential N-dependence; parametrisation as recalled, see lnd_extrapolate.md"),
)
FORM_BY_NAME = {f.name: f for f in FORMS}
COMBINED = ("avg", "avg-split", "select-split")


def _weights(form: Form, lnN: np.ndarray) -> np.ndarray | None:
    if form.weighting != "eqN":
        return None
    _, inv, counts = np.unique(lnN, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv]
    return w * (w.size / w.sum())


def fit_form(form: Form, N, D, L, *, starts: list[np.ndarray] | None = None) -> np.ndarray | None:
    """Best parameters of ``form`` over its starts (Huber delta 1e-3 or least squares on ln L), or None."""
    lnN, lnD, L = np.log(np.asarray(N, float)), np.log(np.asarray(D, float)), np.asarray(L, float)
    lnL = np.log(L)
    w = _weights(form, lnN)
    sw = None if w is None else np.sqrt(w)

    def resid(p):
        with np.errstate(all="ignore"):
            r = form.log_pred(p, lnN, lnD) - lnL
        r = np.where(np.isfinite(r), r, 50.0)
        return r if sw is None else r * sw

    def jac(p):
        with np.errstate(all="ignore"):
            J = form.jac(p, lnN, lnD)  # type: ignore[misc]
        J = np.where(np.isfinite(J), J, 0.0)
        return J if sw is None else J * sw[:, None]

    lb, ub = (np.full(form.k, -np.inf), np.full(form.k, np.inf)) if form.bounds is None else map(np.asarray, form.bounds)

    def solve(x0, max_nfev):
        try:
            sol = least_squares(resid, x0, jac="2-point" if form.jac is None else jac, bounds=(lb, ub),
                                loss="huber" if form.loss == "huber" else "linear", f_scale=1e-3, method="trf",
                                x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=max_nfev)
        except (ValueError, np.linalg.LinAlgError):
            return None
        return sol if np.all(np.isfinite(sol.x)) and np.isfinite(sol.cost) else None

    x0s = []
    for x0 in (starts if starts is not None else form.starts(lnN, lnD, L)):
        x0 = np.clip(np.asarray(x0, float), lb + 1e-9, ub - 1e-9) if form.bounds is not None else np.asarray(x0, float)
        if np.all(np.isfinite(resid(x0))):
            x0s.append(x0)
    if form.screen and len(x0s) > 1:
        short = [s for s in (solve(x0, form.screen) for x0 in x0s) if s is not None]
        x0s = [min(short, key=lambda s: s.cost).x] if short else []
    best = None
    for x0 in x0s:
        sol = solve(x0, 4000)
        if sol is not None and (best is None or sol.cost < best.cost):
            best = sol
    return None if best is None else np.asarray(best.x, float)


def predict_form(form: Form, p: np.ndarray, N, D) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.exp(form.log_pred(p, np.log(np.asarray(N, float)), np.log(np.asarray(D, float))))


def rel_err(pred: np.ndarray, L: np.ndarray) -> np.ndarray:
    r = np.abs(np.asarray(pred, float) / L - 1.0)
    return np.where(np.isfinite(r), r, np.inf)


# -- selection by the user's own extrapolation split ---------------------------------------------


def inner_split(axis_values: np.ndarray) -> np.ndarray:
    """Inner validation mask: ln(axis) >= ln(min) + 0.75 (ln(max) - ln(min)) of the fit set."""
    la = np.log(axis_values)
    cut = la.min() + 0.75 * (la.max() - la.min())
    valid = la >= cut - 1e-12
    if np.unique(la[~valid]).size < 2:  # keep two distinct values to fit on
        order = np.unique(la)
        valid = la >= order[min(2, order.size - 1)]
    return valid


def select_split(N, D, L, axis_values, forms=FORMS) -> dict[str, Any]:
    """The pre-registered rule: fit each form on the inner training set, score it on the inner
    validation set (the largest fitted sizes or budgets), choose (ties within 5% to fewer constants)."""
    valid = inner_split(axis_values)
    scores = {}
    for f in forms:
        p = fit_form(f, N[~valid], D[~valid], L[~valid])
        scores[f.name] = float(np.mean(rel_err(predict_form(f, p, N[valid], D[valid]), L[valid]))) if p is not None \
            else math.inf
    best = min(scores.values())
    tied = [f for f in forms if scores[f.name] <= best * 1.05]
    chosen = min(tied, key=lambda f: (f.k, forms.index(f)))
    return {"chosen": chosen.name, "inner_scores": scores, "inner_valid_runs": int(valid.sum()),
            "inner_train_runs": int((~valid).sum())}


# -- compute-optimal N ---------------------------------------------------------------------------

_NGRID = np.geomspace(1e4, 1e13, 3601)


def optimal_n(predict: Callable[[np.ndarray, np.ndarray], np.ndarray], C: float) -> float:
    """argmin_N L(N, C / 6N) on a log grid (1e4-1e13), refined by a parabola in ln N."""
    L = predict(_NGRID, C / (6.0 * _NGRID))
    L = np.where(np.isfinite(L), L, np.inf)
    i = int(np.argmin(L))
    if 0 < i < L.size - 1 and np.all(np.isfinite(L[i - 1:i + 2])):
        x = np.log(_NGRID[i - 1:i + 2])
        y = L[i - 1:i + 2]
        den = (y[0] - 2 * y[1] + y[2])
        if den > 0:
            return float(np.exp(x[1] - 0.5 * (x[2] - x[0]) / 2 * (y[2] - y[0]) / den))
    return float(_NGRID[i])


# -- the baseline through hpadvisor --------------------------------------------------------------


@dataclass(frozen=True)
class BaselineLaw:
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    refused: str = ""  # fit_final's refusal, when its acceptance rule turned the fit down

    def loss(self, N, D):
        return self.E + self.A / np.asarray(N, float) ** self.alpha + self.B / np.asarray(D, float) ** self.beta


def baseline_fit(N, D, L) -> BaselineLaw:
    """hpadvisor's fit_final, Chinchilla form, no outlier removal (the Epoch way).

    ``fit_final`` now refuses a fit its acceptance rule finds unusable (e.g. E = 0); the baseline is
    then the same fit through ``fit_chinchilla_params`` (fit_final's own fitter, the same 243 starts),
    and the refusal is recorded."""
    from hpadvisor.errors import FitError
    from hpadvisor.fitting.final import Ladder, fit_chinchilla_params, fit_final

    ladder = Ladder(N=np.asarray(N, float), D=np.asarray(D, float), loss=np.asarray(L, float),
                    source={"file": "benchmark", "sha256": "0" * 64, "rows": int(len(L))})
    try:
        law = fit_final(ladder, form="chinchilla", bootstrap=0, outlier_sigma=0).law
        return BaselineLaw(*(float(getattr(law, k)) for k in ("E", "A", "B", "alpha", "beta")))
    except FitError as exc:
        E, A, B, al, be = map(float, fit_chinchilla_params(ladder.N, ladder.D, ladder.loss))
        return BaselineLaw(E, A, B, al, be, refused=str(exc))


# -- one protocol --------------------------------------------------------------------------------


def _summary(err: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(err)), "worst": float(np.max(err))}


def run_protocol(proto: Protocol, *, baseline: bool = True, n_boot: int = 0, seed: int = 0) -> dict[str, Any]:
    """Fit every form on the fit set, predict the held-out runs; the combined candidates; the baseline."""
    t0, c0 = time.perf_counter(), time.process_time()
    fm, ho = proto.fit, ~proto.fit
    N, D, L = proto.N, proto.D, proto.loss
    out: dict[str, Any] = {"name": proto.name, "dataset": proto.dataset, "description": proto.description,
                           "headline": proto.headline, "fit_runs": int(fm.sum()), "heldout_runs": int(ho.sum()),
                           "fit_N_max": float(N[fm].max()), "heldout_N_max": float(N[ho].max()), "forms": {}}
    preds: dict[str, np.ndarray] = {}
    params: dict[str, np.ndarray] = {}
    for f in FORMS:
        p = fit_form(f, N[fm], D[fm], L[fm])
        if p is None:
            out["forms"][f.name] = {"converged": False}
            continue
        params[f.name] = p
        preds[f.name] = predict_form(f, p, N[ho], D[ho])
        out["forms"][f.name] = {"converged": True, "k": f.k, **_summary(rel_err(preds[f.name], L[ho])),
                                "constants": f.constants(p)}
    sel = select_split(N[fm], D[fm], L[fm], proto.axis_values()[fm])
    out["selection"] = sel
    ok = [n for n in preds if np.all(np.isfinite(preds[n])) and np.all(preds[n] > 0)]
    logs = np.array([np.log(preds[n]) for n in ok])
    preds["avg"] = np.exp(logs.mean(axis=0))
    w = np.array([1.0 / max(sel["inner_scores"][n], 1e-6) ** 2 if math.isfinite(sel["inner_scores"][n]) else 0.0
                  for n in ok])
    preds["avg-split"] = np.exp((w[:, None] * logs).sum(axis=0) / w.sum())
    preds["select-split"] = preds.get(sel["chosen"], np.full(ho.sum(), np.nan))
    for name in COMBINED:
        out["forms"][name] = {"converged": True, **_summary(rel_err(preds[name], L[ho]))}
    out["forms"]["select-split"]["chosen"] = sel["chosen"]
    if baseline:
        law = baseline_fit(N[fm], D[fm], L[fm])
        bpred = np.asarray(law.loss(N[ho], D[ho]), float)
        out["baseline"] = {**_summary(rel_err(bpred, L[ho])), "constants": {
            k: float(getattr(law, k)) for k in ("E", "A", "B", "alpha", "beta")}}
        if law.refused:
            out["baseline"]["refused_by_fit_final"] = law.refused
        preds["baseline"] = bpred
    if proto.n_opt:
        budgets = sorted(c for c in proto.n_opt if c > proto.C[fm].max() * 1.0001)
        nopt: dict[str, Any] = {}
        for name in [*params, "select-split", *(["baseline"] if baseline else [])]:
            if name == "baseline":
                def pr(n, d, law=law):
                    return np.asarray(law.loss(n, d), float)
            else:
                fname = sel["chosen"] if name == "select-split" else name
                if fname not in params:
                    continue

                def pr(n, d, f=FORM_BY_NAME[fname], p=params[fname]):
                    return predict_form(f, p, n, d)
            errs = np.array([abs(optimal_n(pr, c) / proto.n_opt[c] - 1.0) for c in budgets])
            nopt[name] = {**_summary(errs), "budgets": budgets}
        out["n_opt"] = nopt
    out["_preds"] = preds
    out["_params"] = params
    if n_boot:
        out["interval_parts"] = interval_parts(proto, params, preds, sel["chosen"], n_boot=n_boot, seed=seed)
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    return out


# -- intervals -----------------------------------------------------------------------------------


def interval_parts(proto: Protocol, params, preds, chosen: str, *, n_boot: int = 100, seed: int = 0) -> dict[str, Any]:
    """The pieces of the pre-registered 90% interval at each held-out point, in ln L (k applied later)."""
    fm, ho = proto.fit, ~proto.fit
    N, D, L = proto.N[fm], proto.D[fm], proto.loss[fm]
    form = FORM_BY_NAME[chosen]
    p0 = params[chosen]
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, L.size, L.size)
        p = fit_form(form, N[idx], D[idx], L[idx], starts=[p0])
        if p is not None:
            boots.append(np.log(predict_form(form, p, proto.N[ho], proto.D[ho])))
    boots = [b for b in boots if np.all(np.isfinite(b))]  # a refit whose prediction overflows is dropped, counted
    s_b = np.std(np.array(boots), axis=0) if len(boots) > 1 else np.full(ho.sum(), np.inf)
    fixed = np.array([np.log(preds[f.name]) for f in FORMS if f.name in preds])
    fixed = fixed[np.all(np.isfinite(fixed), axis=1)]
    s_f = fixed.std(axis=0)
    r = np.log(L) - np.log(predict_form(form, p0, N, D))
    s_r = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    d = (np.log(np.maximum(proto.N[ho] / N.max(), 1.0)) + np.log(np.maximum(proto.D[ho] / D.max(), 1.0)))
    center = np.log(preds["select-split"])
    return {"center": center, "s_b": s_b, "s_f": s_f, "s_r": s_r, "d": d, "actual": np.log(proto.loss[ho]),
            "boot_ok": len(boots)}


def half_width(parts: dict[str, Any], k: float) -> np.ndarray:
    return Z90 * np.sqrt(parts["s_b"] ** 2 + parts["s_f"] ** 2 + parts["s_r"] ** 2 + (k * parts["d"]) ** 2)


def coverage(parts: dict[str, Any], k: float) -> float:
    return float(np.mean(np.abs(parts["actual"] - parts["center"]) <= half_width(parts, k)))


def calibrate_k(parts_list: list[dict[str, Any]], target: float = 0.90) -> float:
    """Smallest k >= 0 with the mean coverage over ``parts_list`` at least ``target`` (bisection)."""
    def cov(k):
        return float(np.mean([coverage(p, k) for p in parts_list]))
    if cov(0.0) >= target:
        return 0.0
    hi = 1e-3
    while cov(hi) < target and hi < 1e3:
        hi *= 2
    lo = hi / 2 if hi > 1e-3 else 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if cov(mid) >= target else (mid, hi)
    return hi


def lodo_intervals(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Leave-one-dataset-out calibration of k over the headline protocols carrying interval parts."""
    heads = [r for r in results if r["headline"] and "interval_parts" in r]
    out: dict[str, Any] = {"per_protocol": {}}
    covered, widths = [], []
    for r in heads:
        others = [o["interval_parts"] for o in heads if o is not r]
        k = calibrate_k(others) if others else 0.0
        parts = r["interval_parts"]
        hw = half_width(parts, k)
        inside = np.abs(parts["actual"] - parts["center"]) <= hw
        covered.append(inside)
        widths.append(np.expm1(hw))
        out["per_protocol"][r["name"]] = {
            "k": k, "coverage": float(inside.mean()), "median_half_width": float(np.median(np.expm1(hw))),
            "points": int(inside.size), "bootstrap_refits": parts["boot_ok"],
            "median_parts": {"s_b": float(np.median(parts["s_b"])), "s_f": float(np.median(parts["s_f"])),
                             "s_r": float(parts["s_r"]), "k_d": float(np.median(k * parts["d"]))}}
    if covered:
        allc = np.concatenate(covered)
        out["all"] = {"coverage": float(allc.mean()), "points": int(allc.size),
                      "median_half_width": float(np.median(np.concatenate(widths))),
                      "mean_protocol_coverage": float(np.mean([c.mean() for c in covered]))}
        out["k_all_headline"] = calibrate_k([r["interval_parts"] for r in heads])
    return out


# -- critical batch size: Zhang et al.'s notebook rule -------------------------------------------

ZHANG_CBS = {"85M": 745.3, "151M": 955.2, "302M": 1393.7, "604M": 1888.5, "1.2B": 2533.4}


def zhang_critical_batch(B, steps, *, reference: float = 256.0, overhead: float = 0.2,
                         objective: str = "lsq") -> tuple[float, float, float]:
    """(a, b, CBS) of steps(B) = a + b/B fitted on ln steps; CBS = (1 + overhead) reference + overhead b/a.

    ``objective`` "lsq" is Zhang et al.'s notebook (least squares on ln steps); "huber" is
    hpadvisor's ``fit batch`` today (Huber delta 1e-3 on ln steps), for the comparison.
    """
    B, S = np.asarray(B, float), np.asarray(steps, float)
    lnS = np.log(S)

    def resid(q):
        return np.log(np.exp(q[0]) + np.exp(q[1]) / B) - lnS

    best = None
    for q0 in ([math.log(S.min()), math.log(S.max() * B.min())],
               [math.log(S.min() / 2), math.log(S.min() * np.median(B))]):
        sol = least_squares(resid, q0, method="trf", loss="linear" if objective == "lsq" else "huber",
                            f_scale=1e-3, xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=10000)
        if best is None or sol.cost < best.cost:
            best = sol
    a, b = math.exp(best.x[0]), math.exp(best.x[1])
    return a, b, (1.0 + overhead) * reference + overhead * b / a


def critical_batch_report() -> dict[str, Any] | None:
    path = find("critical_batch_size", "cbs_steps_to_target_loss.csv")
    if path is None:
        return None
    d = _read_csv(path)
    rows = []
    for model, g in d.groupby("model", sort=False):
        _, _, ours = zhang_critical_batch(g["batch_size_seqs"], g["steps_to_target"])
        _, _, huber = zhang_critical_batch(g["batch_size_seqs"], g["steps_to_target"], objective="huber")
        rows.append({"model": str(model), "notebook_rule": ours, "huber_rule": huber,
                     "authors": ZHANG_CBS.get(str(model))})
    today = _hpadvisor_fit_batch(path)
    for r in rows:
        r["hpadvisor_today"] = today.get(r["model"]) if today else None
    return {"rows": rows, "file": str(path)}


def _hpadvisor_fit_batch(path: Path) -> dict[str, float] | None:
    """What ``hpadvisor fit batch --seq-len 512 --tokens-per-param 20`` gives today, per model (seqs)."""
    try:
        from hpadvisor.fitting.batch import fit_batch
        from hpadvisor.fitting.data import read_fit_table

        table = read_fit_table(path, need=["N", "steps"], what="batch study", param_count=None,
                               default_param_count="total", seq_len=512, need_batch=True)
        fit = fit_batch(table, tokens_per_param=20, seq_len=512, n_boot=0)
        return {m.label: m.b_crit / 512.0 for m in fit.models}
    except Exception as exc:  # the package is being restructured: report, do not fail the benchmark
        print(f"note: hpadvisor fit_batch could not be run here ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


# -- runtime of a full fit with model selection ---------------------------------------------------


def time_full_fit(n_boot: int = 1000, seed: int = 0) -> dict[str, Any] | None:
    """Wall and CPU time of select-split on all of Epoch's 245 runs, then ``n_boot`` bootstrap refits
    of the chosen form (warm-started at its estimate): what `fit final` with model selection would do."""
    protos, _ = load_protocols({"epoch"})
    if not protos:
        return None
    p = protos[0]
    w0, c0 = time.perf_counter(), time.process_time()
    sel = select_split(p.N, p.D, p.loss, p.N)
    form = FORM_BY_NAME[sel["chosen"]]
    est = fit_form(form, p.N, p.D, p.loss)
    w1, c1 = time.perf_counter(), time.process_time()
    rng = np.random.default_rng(seed)
    failed = 0
    for _ in range(n_boot):
        idx = rng.integers(0, p.loss.size, p.loss.size)
        failed += fit_form(form, p.N[idx], p.D[idx], p.loss[idx], starts=[est]) is None
    w2, c2 = time.perf_counter(), time.process_time()
    return {"chosen": sel["chosen"], "selection_wall_s": w1 - w0, "selection_cpu_s": c1 - c0,
            "bootstrap": n_boot, "bootstrap_wall_s": w2 - w1, "bootstrap_cpu_s": c2 - c1, "failed": failed}


# -- printing ------------------------------------------------------------------------------------

ROW_ORDER = ("baseline", *(f.name for f in FORMS), *COMBINED)


def format_table(r: dict[str, Any]) -> str:
    lines = [f"## {r['name']}  ({r['fit_runs']} fitted, {r['heldout_runs']} held out; {r['seconds']:.0f} s wall, {r['cpu_seconds']:.0f} s CPU)",
             f"   {r['description']}"]
    base = r.get("baseline", {}).get("mean")
    has_nopt = "n_opt" in r
    head = f"   {'form':<14} {'k':>2} {'mean %':>7} {'worst %':>8} {'vs base':>8} {'inner %':>8}"
    if has_nopt:
        head += f" {'Nopt mean %':>11} {'Nopt worst %':>12}"
    lines.append(head)
    for name in ROW_ORDER:
        e = r.get("baseline") if name == "baseline" else r["forms"].get(name)
        if e is None:
            continue
        if name != "baseline" and not e.get("converged", True):
            lines.append(f"   {name:<14}  did not converge")
            continue
        k = FORM_BY_NAME[name].k if name in FORM_BY_NAME else (5 if name == "baseline" else "")
        inner = r["selection"]["inner_scores"].get(name)
        vs = f"{e['mean'] / base - 1:+8.0%}" if base else f"{'':>8}"
        label = name + (" *" if name == "select-split" else "")
        line = (f"   {label:<14} {k!s:>2} {100 * e['mean']:7.2f} {100 * e['worst']:8.1f} {vs} "
                f"{(f'{100 * inner:8.2f}' if inner is not None and math.isfinite(inner) else ' ' * 8)}")
        if has_nopt:
            ne = r["n_opt"].get(name)
            line += (f" {100 * ne['mean']:11.1f} {100 * ne['worst']:12.1f}" if ne else "")
        lines.append(line)
    if r.get("baseline", {}).get("refused_by_fit_final"):
        lines.append("   baseline: fit_final refused this ladder (" + r["baseline"]["refused_by_fit_final"].split(";")[0]
                     + "); the row is the same fit through fit_chinchilla_params")
    lines.append(f"   * select-split chose {r['selection']['chosen']} (inner split: "
                 f"{r['selection']['inner_train_runs']} runs fitted, {r['selection']['inner_valid_runs']} scored)")
    return "\n".join(lines)


def _jsonable(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in r.items() if not k.startswith("_") and k != "interval_parts"}
    return json.loads(json.dumps(out, default=float))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument("--only", help="comma-separated protocol or dataset names")
    parser.add_argument("--bootstrap", type=int, default=100, help="refits per headline protocol for intervals")
    parser.add_argument("--porian-setups", choices=("all", "tuned"), default="all")
    parser.add_argument("--baseline", choices=("headline", "all"), default="all",
                        help="run hpadvisor's fit_final on every protocol or only the headline ones")
    parser.add_argument("--timing", type=int, default=0, metavar="B",
                        help="also time select-split + B bootstrap refits on Epoch's 245 runs (issue: B = 1000)")
    args = parser.parse_args(argv)
    t0, c0 = time.perf_counter(), time.process_time()
    protos, skipped = load_protocols(set(args.only.split(",")) if args.only else None, args.porian_setups)
    for s in skipped:
        print(f"skipped: {s}")
    results = []
    for proto in protos:
        r = run_protocol(proto, baseline=args.baseline == "all" or proto.headline,
                         n_boot=args.bootstrap if proto.headline else 0)
        results.append(r)
        print(format_table(r), flush=True)
        print()
    summary = headline_summary(results) if any(r["headline"] for r in results) else {}
    if summary:
        print(format_summary(summary))
    intervals = lodo_intervals(results) if args.bootstrap else {}
    if intervals:
        print(format_intervals(intervals))
    cbs = critical_batch_report()
    if cbs:
        print(format_cbs(cbs))
    else:
        print("skipped: critical_batch_size/cbs_steps_to_target_loss.csv not found")
    timing = time_full_fit(args.timing) if args.timing else None
    if timing:
        print(f"## Runtime: select-split on Epoch's 245 runs chose {timing['chosen']} in "
              f"{timing['selection_wall_s']:.1f} s wall / {timing['selection_cpu_s']:.1f} s CPU; "
              f"{timing['bootstrap']} bootstrap refits {timing['bootstrap_wall_s']:.1f} s wall / "
              f"{timing['bootstrap_cpu_s']:.1f} s CPU ({timing['failed']} failed)")
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"\ntotal {total:.0f} s wall, {cpu:.0f} s CPU (this process)")
    if args.json:
        payload = {"protocols": [_jsonable(r) for r in results], "summary": summary,
                   "intervals": json.loads(json.dumps(intervals, default=float)), "critical_batch": cbs,
                   "skipped": skipped, "seconds": total, "cpu_seconds": cpu, "timing": timing}
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


def headline_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    heads = [r for r in results if r["headline"] and "baseline" in r]
    names = [*(f.name for f in FORMS), *COMBINED]
    table = {n: {r["name"]: r["forms"][n].get("mean", math.inf) if r["forms"][n].get("converged", True) else math.inf
                 for r in heads} for n in names}
    base = {r["name"]: r["baseline"]["mean"] for r in heads}
    avg = {n: float(np.mean(list(v.values()))) if v else math.inf for n, v in table.items()}
    fixed = [f for f in FORMS]
    best = min(avg[f.name] for f in fixed)
    secondary = min((f for f in fixed if avg[f.name] <= best * 1.05), key=lambda f: (f.k, FORMS.index(f))).name
    default = table.get("select-split", {})
    target = {p: {"default": default.get(p), "baseline": base[p],
                  "reduction": 1 - default.get(p, math.inf) / base[p], "met": default.get(p, math.inf) <= 0.75 * base[p]}
              for p in base}
    return {"mean_error_by_form": table, "baseline": base, "average_over_headline": avg,
            "secondary_rule_choice": secondary, "default": "select-split", "target_25pct": target}


def format_summary(s: dict[str, Any]) -> str:
    protos = list(s["baseline"])
    lines = ["## Headline protocols: mean held-out error (%), and the default against the baseline",
             "   " + f"{'form':<14}" + "".join(f"{p:>14}" for p in protos) + f"{'average':>10}"]
    lines.append("   " + f"{'baseline':<14}" + "".join(f"{100 * s['baseline'][p]:14.2f}" for p in protos)
                 + f"{100 * float(np.mean(list(s['baseline'].values()))):10.2f}")
    for n, row in s["mean_error_by_form"].items():
        lines.append("   " + f"{n:<14}" + "".join(f"{100 * row[p]:14.2f}" for p in protos)
                     + f"{100 * s['average_over_headline'][n]:10.2f}")
    lines.append("   default (select-split) vs baseline, target >= 25% lower: " + "; ".join(
        f"{p} {100 * t['default']:.2f} vs {100 * t['baseline']:.2f} (error {-t['reduction']:+.0%}, "
        f"{'met' if t['met'] else 'NOT met'})" for p, t in s["target_25pct"].items()))
    lines.append(f"   secondary rule (best fixed form on the held-out average; optimistic): {s['secondary_rule_choice']}")
    return "\n".join(lines)


def format_intervals(iv: dict[str, Any]) -> str:
    lines = ["## 90% prediction interval of the default (k calibrated leave-one-dataset-out)",
             f"   {'protocol':<14} {'k':>7} {'coverage':>9} {'median half-width %':>20} {'points':>7}  median s_b / s_f / s_r / k d"]
    for name, e in iv["per_protocol"].items():
        mp = e["median_parts"]
        lines.append(f"   {name:<14} {e['k']:7.4f} {e['coverage']:9.0%} {100 * e['median_half_width']:20.2f} "
                     f"{e['points']:7d}  {mp['s_b']:.4f} / {mp['s_f']:.4f} / {mp['s_r']:.4f} / {mp['k_d']:.4f}")
    a = iv.get("all")
    if a:
        lines.append(f"   all held-out points: coverage {a['coverage']:.0%} ({a['points']} points; mean of the "
                     f"protocols' coverages {a['mean_protocol_coverage']:.0%}), median half-width "
                     f"{100 * a['median_half_width']:.2f}%; k on all four: {iv['k_all_headline']:.4f}")
    return "\n".join(lines)


def format_cbs(c: dict[str, Any]) -> str:
    lines = ["## Critical batch (seqs of 512): Zhang et al.'s notebook rule vs hpadvisor fit batch",
             f"   {'model':<6} {'authors':>8} {'notebook rule':>14} {'hpadvisor today':>16} {'Huber rule':>11}"]
    for r in c["rows"]:
        today = r["hpadvisor_today"]
        lines.append(f"   {r['model']:<6} {r['authors']:8.1f} {r['notebook_rule']:14.1f} "
                     f"{(f'{today:16.1f}' if today else 'n/a'.rjust(16))} {r['huber_rule']:11.1f}"
                     + (f"   ({today / r['authors'] - 1:+.1%} today)" if today else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
