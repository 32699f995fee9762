"""Ladder design: which model sizes and token counts to run so that ``fit_final`` predicts a target
run's loss best, from an error model measured by subsampling real ladders.

The error model (``ERROR_MODEL``) says how large the held-out relative error of the loss that
``fit_final`` predicts at a target (N_T, D_T) is, from the ladder's design alone.  Five features of
a design were measured (:func:`design_features`):

- ``x_N`` = ln(N_T / largest fitted N): the extrapolation distance in model size;
- ``x_M`` = ln+(M_T / largest fitted M) + ln+(smallest fitted M / M_T), M = D / N tokens per
  parameter: the extrapolation distance in tokens per parameter (0 when the ladder's tokens per
  parameter bracket the target's);
- ``ln_k``: the log of the number of distinct sizes (sizes within a factor 10^0.08 of a size's
  smallest are one size: :func:`size_groups`);
- ``spacing`` = ln(largest / smallest fitted N) / (k - 1), in ln N;
- ``ln_runs_per_size`` = ln(runs / k).

``benchmarks/plan_ladder.py`` fitted ln max(|L_pred / L - 1|, 1e-4) on them by weighted least
squares (every sub-ladder weighing one) over random sub-ladders of four public ladders, kept the
features whose 90% bootstrap interval excludes 0 (x_N and x_M; the number of sizes, the spacing
and the runs per size showed no measurable effect within their measured ranges) and refitted:

    ln |error| = -4.663 + 0.455 x_N + 0.258 x_M + e,   e ~ N(0, 1.147^2)

It also checked the model on held-out sub-ladders; ``ERROR_MODEL.provenance`` says what it was
fitted on, and ``benchmarks/plan_ladder.md`` gives the figures.

:func:`plan_ladder` searches a grid of designs (number of sizes, the largest size, the spacing,
the longest run's tokens per parameter, token counts per size; each within the range measured),
keeps those of at least ``MIN_RUNS`` runs whose compute, C = 6 N D summed over the runs, fits the
budget, and returns the design of smallest predicted error, the cheapest among those within 2% of
it (:class:`LadderPlan`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpadvisor.errors import InvalidInputError
from hpadvisor.laws.compute import CHINCHILLA_6ND

#: Sizes closer than this in log10 N to a group's smallest are one size of the ladder.
GROUP_LOG10 = 0.08
#: The floor on a relative error before its log is taken (a loss is logged to about 4 digits).
ERROR_FLOOR = 1e-4
FEATURES = ("x_N", "x_M", "ln_k", "spacing", "ln_runs_per_size")
#: z of the central 80% band of a normal distribution.
Z80 = 1.2815515655446004


def size_groups(N: Any) -> np.ndarray:
    """The ladder size each run belongs to (0, 1, ... from the smallest): sorted unique N, a new
    size where N is more than 10^0.08 (x1.2) above the current size's smallest."""
    N = np.asarray(N, float)
    order = np.sort(np.unique(N))
    labels: dict[float, int] = {}
    start, g = order[0], 0
    for n in order:
        if math.log10(n / start) > GROUP_LOG10:
            start, g = n, g + 1
        labels[float(n)] = g
    return np.array([labels[float(n)] for n in N], int)


def design_features(N_fit: Any, D_fit: Any, N_target: float, D_target: float) -> dict[str, float]:
    """The error model's features of a ladder (the fitted runs' N and D) for one target (N, D)."""
    N, D = np.asarray(N_fit, float), np.asarray(D_fit, float)
    M, MT = D / N, D_target / N_target
    k = int(size_groups(N).max()) + 1
    return {
        "x_N": math.log(N_target / float(N.max())),
        "x_M": max(0.0, math.log(MT / float(M.max()))) + max(0.0, math.log(float(M.min()) / MT)),
        "ln_k": math.log(k),
        "spacing": math.log(float(N.max()) / float(N.min())) / (k - 1) if k > 1 else 0.0,
        "ln_runs_per_size": math.log(N.size / k),
    }


def fit_error_model(X: Any, err: Any, weights: Any = None) -> dict[str, Any]:
    """Weighted least squares of ln max(err, 1e-4) on [1, X] (X: one row per observation, columns
    ``FEATURES``): the constants (intercept first), sigma (the weighted residual sd) and the count."""
    X, err = np.asarray(X, float), np.asarray(err, float)
    w = np.ones(err.size) if weights is None else np.asarray(weights, float)
    y = np.log(np.maximum(np.abs(err), ERROR_FLOOR))
    A = np.column_stack([np.ones(err.size), X])
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    res = y - A @ coef
    sigma = float(np.sqrt(np.sum(w * res**2) / (np.sum(w) * (1 - A.shape[1] / err.size))))
    return {"coef": [float(c) for c in coef], "sigma": sigma, "observations": int(err.size)}


@dataclass(frozen=True)
class ErrorModel:
    """ln |relative error| at the target = coef . [1, features], residual sd ``sigma``; the
    features' measured ranges (``ranges``: name -> (least, most)) bound where it is used."""

    coef: tuple[float, ...]
    sigma: float
    ranges: dict[str, tuple[float, float]]
    features: tuple[str, ...] = FEATURES  # the features coef[1:] multiply
    observations: int = 0
    fits: int = 0
    provenance: str = ""

    def log_error(self, features: dict[str, float]) -> float:
        return self.coef[0] + sum(c * features[f] for c, f in zip(self.coef[1:], self.features, strict=True))

    def error(self, features: dict[str, float]) -> tuple[float, float, float]:
        """(median, 10th, 90th percentile) of the relative error the model predicts."""
        m = self.log_error(features)
        return math.exp(m), math.exp(m - Z80 * self.sigma), math.exp(m + Z80 * self.sigma)

    def constants(self) -> dict[str, float]:
        return {"intercept": self.coef[0], **dict(zip(self.features, self.coef[1:], strict=True)), "sigma": self.sigma}


PROVENANCE = ("hpadvisor.fit_final (the Chinchilla form, form='chinchilla', no bootstrap; the default form='auto' gave the same typical error on 32 of them) on random sub-ladders of four public "
              "ladders (Epoch's re-extraction of the Chinchilla runs, Porian et al.'s tuned isoFLOPs, Gemstones "
              "(hot, to 350B tokens), (Mis)Fitting's best lr per horizon), each scored at its largest sizes' runs "
              "(>= 1 token per parameter); benchmarks/plan_ladder.py")
# Fitted by benchmarks/plan_ladder.py (``model``), which prints this literal.
ERROR_MODEL = ErrorModel(
    # 148 sub-ladders (37 per ladder; 4 refused by fit_final), 1,083 (sub-ladder, target) rows;
    # regenerated 2026-12-08 with fit_final as of f75750c (its outlier rule; was 6 refused, 1,076 rows,
    # -4.6651 + 0.4535 x_N + 0.2497 x_M, sigma 1.1414, with the fitting code of 2026-12-07 21:53Z).
    # With every feature, the 90% bootstrap intervals over sub-ladders: x_N [0.287, 0.606], x_M
    # [0.177, 0.342]; ln_k [-0.419, 0.326], spacing [-0.609, 0.549] and ln_runs_per_size
    # [-0.209, 0.020] include 0, so (by the rule fixed in the benchmark) the model keeps x_N and x_M.
    coef=(-4.6632, 0.4545, 0.2583),
    sigma=1.1474,
    ranges={
        'x_N': (0.5671, 2.956),
        'x_M': (0, 3.124),
        'ln_k': (1.099, 2.079),
        'spacing': (0.2738, 1.143),
        'ln_runs_per_size': (0.62, 4.115),
        'target_tokens_per_param': (1.07, 183.8),
        'tokens_per_param': (0.1384, 7237),
        'smallest_size': (5.173e+06, 5.173e+06),
    },
    features=('x_N', 'x_M'),
    observations=1083,
    fits=148,
    provenance=PROVENANCE,
)


@dataclass(frozen=True)
class LadderPlan:
    """A ladder to run before the target: its sizes, each size's token counts, their compute, and the
    error the error model predicts at the target, with what that model was fitted on."""

    budget: float
    target_params: float
    target_tokens: float
    sizes: tuple[float, ...]  # parameters, largest first
    tokens: tuple[tuple[float, ...], ...]  # per size, its runs' token counts, longest first
    flops: float  # C = 6 N D summed over every run
    features: dict[str, float]
    predicted_error: tuple[float, float, float]  # median, 10th and 90th percentile of |L_pred / L - 1|
    alternatives: tuple[dict[str, Any], ...]  # the best design for each other number of sizes
    error_model: dict[str, Any]  # constants, ranges and what they were fitted on
    notes: tuple[str, ...] = ()
    runs: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", sum(len(t) for t in self.tokens))

    @property
    def budget_fraction(self) -> float:
        return self.flops / self.budget

    def to_dict(self) -> dict[str, Any]:
        med, lo, hi = self.predicted_error
        return {
            "budget": self.budget, "target": {"params": self.target_params, "tokens": self.target_tokens,
                                              "tokens_per_param": self.target_tokens / self.target_params},
            "ladder": [{"params": n, "tokens": list(t), "tokens_per_param": [d / n for d in t],
                        "flops": float(sum(_flops(n, d) for d in t))} for n, t in zip(self.sizes, self.tokens, strict=True)],
            "runs": self.runs, "flops": self.flops, "budget_fraction": self.budget_fraction,
            "features": self.features,
            "predicted_error": {"median": med, "p10": lo, "p90": hi},
            "alternatives": list(self.alternatives),
            "error_model": self.error_model,
            "notes": list(self.notes),
        }


def _flops(N: float, D: float) -> float:
    return float(CHINCHILLA_6ND.flops(N, D))


#: The design grid plan_ladder searches (each axis also clipped to the error model's measured range).
SIZES_GRID = (3, 4, 5, 6, 7, 8)
RUNS_PER_SIZE_GRID = (1, 2, 3, 4, 5, 6, 8)
#: A plan has at least this many runs: fit_final refused 4 of the 40 measured sub-ladders of 6-9 runs
#: (a coefficient beyond 1e30, or R^2 below 0.5) and none of the 108 of 10 runs or more.
MIN_RUNS = 10
STEP = 0.05  # grid step of x_N, spacing and x_M, in ln units


def _check_inputs(budget: Any, target: Any, tokens: Any) -> tuple[float, float, float]:
    out = []
    for name, v in (("budget", budget), ("target", target), ("tokens", tokens)):
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise InvalidInputError(f"`{name}` must be a number, not {v!r}.") from None
        if not (math.isfinite(x) and x > 0):
            raise InvalidInputError(f"`{name}` must be a finite number > 0, not {v!r}.")
        out.append(x)
    return out[0], out[1], out[2]


def _grid(lo: float, hi: float) -> np.ndarray:
    return np.arange(lo, hi + STEP / 2, STEP) if hi > lo else np.array([lo])


def _design(N_T: float, M_T: float, k: int, x_N: float, spacing: float, x_M: float, r: int) -> dict[str, Any]:
    """A design's sizes (largest first), its token counts per size (the longest at M_T e^-x_M tokens
    per parameter, each next one half as long), its compute and its features."""
    sizes = [N_T * math.exp(-x_N - spacing * i) for i in range(k)]
    M_hi = M_T * math.exp(-x_M)
    tokens = [[n * M_hi * 0.5**j for j in range(r)] for n in sizes]
    flops = sum(_flops(n, d) for n, ts in zip(sizes, tokens, strict=True) for d in ts)
    # the longest run is at or below M_T, so x_M is the whole distance in tokens per parameter
    feats = {"x_N": x_N, "x_M": x_M, "ln_k": math.log(k), "spacing": spacing, "ln_runs_per_size": math.log(r)}
    return {"sizes": sizes, "tokens": tokens, "flops": flops, "features": feats, "k": k, "r": r}


def _best_of(model: ErrorModel, N_T: float, M_T: float, k: int, r: int, budget: float,
             n_floor: float) -> tuple[dict[str, Any] | None, float]:
    """The best design with k sizes and r token counts per size within ``budget`` (None if none),
    and the cost of the cheapest design of the grid with k and r."""
    rg = model.ranges
    xN, sp, xM = np.meshgrid(_grid(*rg["x_N"]), _grid(max(rg["spacing"][0], math.log(10) * GROUP_LOG10), rg["spacing"][1]),
                             _grid(*rg["x_M"]), indexing="ij")
    ok = N_T * np.exp(-xN - sp * (k - 1)) >= n_floor
    # sum over sizes of 6 N_i D_ij: N_i = N_T e^(-x_N - s i), D_ij = N_i M_T e^(-x_M) 2^-j
    unit = _flops(N_T, N_T * M_T)
    flops = unit * np.exp(-2 * xN - xM) * sum(np.exp(-2 * sp * i) for i in range(k)) * (2 - 2.0 ** (1 - r))
    if not ok.any():
        return None, math.inf
    cheapest = float(flops[ok].min())
    ok &= flops <= budget
    if not ok.any():
        return None, cheapest
    values = {"x_N": xN, "x_M": xM, "ln_k": math.log(k), "spacing": sp, "ln_runs_per_size": math.log(r)}
    log_err = model.coef[0] + sum(c * values[f] for c, f in zip(model.coef[1:], model.features, strict=True))
    log_err = np.broadcast_to(log_err, xN.shape)
    lo = float(log_err[ok].min())
    near = ok & (log_err <= lo + math.log(1.02))
    i = np.flatnonzero(near.ravel())[np.argmin(flops.ravel()[near.ravel()])]
    d = _design(N_T, M_T, k, float(xN.ravel()[i]), float(sp.ravel()[i]), float(xM.ravel()[i]), r)
    d["log_error"] = float(log_err.ravel()[i])
    return d, cheapest


def plan_ladder(budget: float, target: float, tokens: float, *, model: ErrorModel | None = None) -> LadderPlan:
    """The ladder (sizes, token counts) that fits ``budget`` FLOPs and whose error at the target run
    (``target`` parameters, ``tokens`` tokens), by the error model, is smallest.

    Every design of the grid (number of sizes, largest size, spacing, the longest run's tokens per
    parameter, token counts per size; each axis within the error model's measured range) is priced,
    C = 6 N D per run summed, each token count a run of its own, and scored; among the designs within
    2% of the smallest predicted error the cheapest is chosen.  Raises InvalidInputError when no
    design within the measured range fits the budget.
    """
    model = ERROR_MODEL if model is None else model
    budget, N_T, D_T = _check_inputs(budget, target, tokens)
    M_T = D_T / N_T
    rg = model.ranges
    m_lo, m_hi = rg["tokens_per_param"]
    if not m_lo <= M_T <= m_hi:
        raise InvalidInputError(
            f"the target's {M_T:.3g} tokens per parameter (`tokens` / `target`) is outside the {m_lo:.3g}-{m_hi:.3g} "
            "the ladders behind the error model were trained at: give a target run within that range.")
    n_floor = rg["smallest_size"][0]
    # 0.01: the ranges are written to 4 digits (ln 2 = 0.6931)
    ks = [k for k in SIZES_GRID if rg["ln_k"][0] - 0.01 <= math.log(k) <= rg["ln_k"][1] + 0.01] or [3]
    rs = [r for r in RUNS_PER_SIZE_GRID if rg["ln_runs_per_size"][0] - 0.01 <= math.log(r) <= rg["ln_runs_per_size"][1] + 0.01] or [1]
    designs, cheapest = [], math.inf
    for k in ks:
        for r in rs:
            if k * r < MIN_RUNS:
                continue
            d, c = _best_of(model, N_T, M_T, k, r, budget, n_floor)
            cheapest = min(cheapest, c)
            if d is not None:
                designs.append(d)
    if not math.isfinite(cheapest):
        raise InvalidInputError(
            f"a `target` of {N_T:.3g} parameters is too small for a ladder: its sizes would fall below "
            f"{n_floor:.3g} parameters, the smallest the ladder error model was measured on.")
    if not designs:
        floor_cost = MIN_RUNS * _flops(n_floor, n_floor * M_T)
        if budget < floor_cost:
            raise InvalidInputError(
                f"a `budget` of {budget:.3g} FLOPs is too small for any useful ladder: {MIN_RUNS} runs of the smallest "
                f"size measured ({n_floor:.3g} parameters) at the target's {M_T:.3g} tokens per parameter cost "
                f"{floor_cost:.3g}, and the cheapest ladder for this target {cheapest:.3g} FLOPs.")
        raise InvalidInputError(
            f"a `budget` of {budget:.3g} FLOPs cannot reach a {N_T:.3g}-parameter `target`: the cheapest ladder "
            f"whose largest size is within e^{rg['x_N'][1]:.2f} = {math.exp(rg['x_N'][1]):.3g}x of the target (the "
            f"extrapolation the error model was measured on) costs {cheapest:.3g} FLOPs; raise `budget` or lower `target`.")
    best_log = min(d["log_error"] for d in designs)
    best = min((d for d in designs if d["log_error"] <= best_log + math.log(1.02)),
               key=lambda d: (d["flops"], d["log_error"]))
    alternatives = []
    for k in ks:
        of_k = [d for d in designs if d["k"] == k]
        if of_k and k != best["k"]:
            lo_k = min(d["log_error"] for d in of_k)
            a = min((d for d in of_k if d["log_error"] <= lo_k + math.log(1.02)), key=lambda d: d["flops"])
            alternatives.append({"sizes": k, "largest": a["sizes"][0], "smallest": a["sizes"][-1],
                                 "runs_per_size": a["r"], "longest_tokens_per_param": a["tokens"][0][0] / a["sizes"][0],
                                 "flops": a["flops"], "predicted_error": math.exp(a["log_error"])})
    notes = []
    t_lo, t_hi = rg["target_tokens_per_param"]
    if not t_lo <= M_T <= t_hi:
        notes.append(f"the error model was checked at targets of {t_lo:.3g}-{t_hi:.3g} tokens per parameter; at "
                     f"{M_T:.3g} its figure extrapolates")
    target_cost = _flops(N_T, D_T)
    if target_cost <= budget:
        notes.append(f"the budget pays for the target run itself ({target_cost:.3g} FLOPs): a ladder "
                     "predicts it only as a check before launching it")
    if best["flops"] < 0.5 * budget:
        notes.append(f"the plan spends {best['flops'] / budget:.0%} of the budget: a design closer to the target "
                     "lies outside the range the error model was measured on (it has no figure for it)")
    notes.append("each token count is costed as a run of its own; shorter token counts taken as cooled-down checkpoints "
                 "of the longest run cost less")
    return LadderPlan(
        budget=budget, target_params=N_T, target_tokens=D_T, sizes=tuple(best["sizes"]),
        tokens=tuple(tuple(t) for t in best["tokens"]), flops=best["flops"], features=best["features"],
        predicted_error=model.error(best["features"]), alternatives=tuple(alternatives),
        error_model={"constants": model.constants(), "ranges": {k: list(v) for k, v in model.ranges.items()},
                     "fitted_on": model.provenance, "observations": model.observations, "fits": model.fits},
        notes=tuple(notes))
