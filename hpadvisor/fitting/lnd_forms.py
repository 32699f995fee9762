"""The L(N, D) forms ``fit final`` chooses between, and the rule that chooses.

Every form is fitted on ln L, in log-sum-exp form, by the Huber loss (delta 1e-3) of
hpadvisor.fitting.core:

* ``chinchilla``: ln L = LSE(a - alpha ln N, b - beta ln D, e), (a, b, e, alpha, beta);
* ``chinchilla-ndexp``: the same with the data exponent beta (N / 1e9)^beta_exp_n,
  (a, b, e, alpha, beta, beta_exp_n).

Starts: a non-negative least-squares grid over the two exponents (the best (alpha, beta) pairs of
L ~ E + A N^-alpha + B D^-beta, rows divided by L), as the extrapolation benchmark
(benchmarks/lnd_extrapolate.py) fitted them.

**The default's rule (``select_margin``)**, fixed in benchmarks/lnd_extrapolate.md before it was
scored: split the user's runs along ``split_along`` (N, or C = 6ND), the top quarter of ln(axis)'s
range being the inner validation set; fit both forms on the rest; ``chinchilla-ndexp`` is chosen
only when its mean relative error on the validation runs is at most 0.75 x Chinchilla's and the
validation runs hold at least two distinct values of the axis.  Otherwise Chinchilla, the Epoch way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpadvisor.errors import FitError, InvalidInputError
from hpadvisor.fitting import core
from hpadvisor.laws.fitted_forms import NDEXP_N0, ChinchillaNDExp
from hpadvisor.laws.loss import Chinchilla

NDEXP_NAMES = ("E", "A", "B", "alpha", "beta", "beta_exp_n")
#: ``chinchilla-ndexp`` replaces Chinchilla only when its inner-split error is at most this fraction.
MARGIN = 0.75
#: The inner validation set: runs in the top (1 - INNER_CUT) of the ln(axis) range.
INNER_CUT = 0.75
SPLIT_AXES = ("N", "C")
_ALPHAS = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45, 0.6, 0.8, 1.0])
_LN_N0 = math.log(NDEXP_N0)


def _lse_weights(terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top = terms.max(axis=0)
    ex = np.exp(terms - top)
    s = ex.sum(axis=0)
    return top + np.log(s), ex / s


def chinchilla_model(lnN: np.ndarray, lnD: np.ndarray) -> tuple[Any, Any]:
    """(predict, jac) of ``chinchilla`` at the runs: L, and d ln L / d (a, b, e, alpha, beta)."""

    def predict(p):
        a, b, e, al, be = p
        with np.errstate(over="ignore"):
            return np.exp(_lse_weights(np.stack([a - al * lnN, b - be * lnD, np.full_like(lnN, e)]))[0])

    def jac(p):
        a, b, e, al, be = p
        w = _lse_weights(np.stack([a - al * lnN, b - be * lnD, np.full_like(lnN, e)]))[1]
        return np.stack([w[0], w[1], w[2], -w[0] * lnN, -w[1] * lnD], axis=1)

    return predict, jac


def ndexp_model(lnN: np.ndarray, lnD: np.ndarray) -> tuple[Any, Any]:
    """(predict, jac) of ``chinchilla-ndexp`` at the runs: L, and d ln L / d p."""
    x = lnN - _LN_N0

    def parts(p):
        a, b, e, al, be, k = p
        with np.errstate(over="ignore", invalid="ignore"):
            ekx = np.exp(k * x)
            terms = np.stack([a - al * lnN, b - be * ekx * lnD, np.full_like(lnN, e)])
            return ekx, *_lse_weights(terms)

    def predict(p):
        with np.errstate(over="ignore"):
            return np.exp(parts(p)[1])

    def jac(p):
        ekx, _, w = parts(p)
        return np.stack([w[0], w[1], w[2], -w[0] * lnN, -w[1] * lnD * ekx, -w[1] * lnD * p[4] * ekx * x], axis=1)

    return predict, jac


def fit_chinchilla_params(N, D, loss, *, starts=None, delta: float = 1e-3) -> np.ndarray:
    """(E, A, B, alpha, beta) minimising the Huber loss of ln L over ``starts``, LSE parameters
    (a, b, e, alpha, beta); default: the non-negative least-squares starts."""
    lnN, lnD = np.log(N), np.log(D)
    predict, jac = chinchilla_model(lnN, lnD)
    if starts is None:
        starts = nnls_starts(lnN, lnD, np.asarray(loss, float))
    res = core.huber_log_fit(predict, loss, starts, delta=delta, jac=jac)
    a, b, e, al, be = res.params
    with np.errstate(over="ignore"):  # a runaway fit: inf, refused by fit_final as not finite
        return np.array([np.exp(e), np.exp(a), np.exp(b), al, be])


def nnls_starts(lnN: np.ndarray, lnD: np.ndarray, L: np.ndarray, top: int = 4) -> list[np.ndarray]:
    """LSE starts (a, b, e, alpha, beta) from the best (alpha, beta) of a grid by non-negative least
    squares of L on [N^-alpha, D^-beta, 1], rows divided by L."""
    from scipy.optimize import nnls

    found = []
    ones = np.ones_like(lnN)
    for al in _ALPHAS:
        for be in _ALPHAS:
            X = np.column_stack([np.exp(-al * lnN), np.exp(-be * lnD), ones]) / L[:, None]
            scale = np.abs(X).max(axis=0)
            scale[scale == 0] = 1.0
            c, res = nnls(X / scale, np.ones_like(L))
            found.append((res, al, be, c / scale))
    found.sort(key=lambda t: t[0])
    floor = 1e-3 * float(np.min(L))
    return [np.array([math.log(max(c[0], floor * math.exp(al * lnN.min()))),
                      math.log(max(c[1], floor * math.exp(be * lnD.min()))), math.log(max(c[2], floor)), al, be])
            for _, al, be, c in found[:top]]


def fit_ndexp(N, D, loss, *, starts: list[np.ndarray] | None = None) -> np.ndarray:
    """(E, A, B, alpha, beta, beta_exp_n) of ``chinchilla-ndexp`` (Huber delta 1e-3 on ln L)."""
    lnN, lnD, L = np.log(N), np.log(D), np.asarray(loss, float)
    predict, jac = ndexp_model(lnN, lnD)
    if starts is None:
        starts = [np.append(s, k) for s in nnls_starts(lnN, lnD, L, top=2) for k in (-0.1, 0.0, 0.1)]
    res = core.huber_log_fit(predict, L, starts, jac=jac, max_nfev=4000)
    return ndexp_constants(res.params)


def ndexp_constants(p: np.ndarray) -> np.ndarray:
    a, b, e, al, be, k = p
    with np.errstate(over="ignore"):
        return np.array([math.exp(min(e, 700)), math.exp(min(a, 700)), math.exp(min(b, 700)), al, be, k])


def ndexp_params(c: np.ndarray) -> np.ndarray:
    """LSE parameters of ``chinchilla-ndexp`` constants (a warm start); a constant at 0 starts at e^-690."""
    E, A, B, al, be, k = (float(x) for x in c)
    return np.array([math.log(max(A, 1e-300)), math.log(max(B, 1e-300)), math.log(max(E, 1e-300)), al, be, k])


def _law_loss(cls, names: tuple[str, ...], c, N, D) -> np.ndarray:
    """The loss of law ``cls`` with constants ``c`` (in ``names`` order) at the runs ``N``, ``D``."""
    law = cls(**{k: float(v) for k, v in zip(names, c, strict=True)})
    with np.errstate(all="ignore"):
        return np.asarray(law.loss(np.asarray(N, float), np.asarray(D, float)), float)


def ndexp_loss(c, N, D) -> np.ndarray:
    """``chinchilla-ndexp``'s loss (ChinchillaNDExp) with constants (E, A, B, alpha, beta, beta_exp_n)."""
    return _law_loss(ChinchillaNDExp, NDEXP_NAMES, c, N, D)


def chin_loss(c, N, D) -> np.ndarray:
    """Chinchilla's loss with constants (E, A, B, alpha, beta)."""
    return _law_loss(Chinchilla, NDEXP_NAMES[:5], c, N, D)


def axis_values(N: np.ndarray, D: np.ndarray, split_along: str) -> np.ndarray:
    if split_along not in SPLIT_AXES:
        raise InvalidInputError(f"`split_along` must be N or C, not {split_along!r}.")
    return N if split_along == "N" else 6.0 * N * D


def inner_split(values: np.ndarray) -> np.ndarray:
    """Inner validation mask: ln(axis) >= ln(min) + 0.75 (ln(max) - ln(min)); at least two distinct
    values are kept to fit on."""
    la = np.log(values)
    valid = la >= la.min() + INNER_CUT * (la.max() - la.min()) - 1e-12
    if np.unique(la[~valid]).size < 2:
        order = np.unique(la)
        valid = la >= order[min(2, order.size - 1)]
    return valid


@dataclass(frozen=True)
class Selection:
    """The rule's choice and its evidence (written to the law file's fit section)."""

    chosen: str
    scores: dict[str, float]  # mean relative error on the inner validation runs
    train_runs: int
    valid_runs: int
    valid_values: int  # distinct axis values among the validation runs
    split_along: str
    reason: str

    def info(self) -> dict[str, Any]:
        return {"rule": "select-margin", "chosen": self.chosen, "split_along": self.split_along,
                "inner_error": {k: (v if math.isfinite(v) else None) for k, v in self.scores.items()},
                "inner_train_runs": self.train_runs, "inner_valid_runs": self.valid_runs,
                "inner_valid_values": self.valid_values, "reason": self.reason}


def _inner_error(fit_fn, loss_fn, N, D, L, valid) -> float:
    try:
        c = fit_fn(N[~valid], D[~valid], L[~valid])
    except FitError:
        return math.inf
    err = np.abs(loss_fn(c, N[valid], D[valid]) / L[valid] - 1)
    return float(np.mean(err)) if np.all(np.isfinite(err)) else math.inf


def select_margin(N: np.ndarray, D: np.ndarray, loss: np.ndarray, split_along: str = "N") -> Selection:
    """The default's rule (module notes): ``chinchilla`` unless ``chinchilla-ndexp`` extrapolates
    clearly better on the user's own split."""
    values = axis_values(N, D, split_along)
    valid = inner_split(values)
    n_values = int(np.unique(np.round(np.log(values[valid]), 9)).size)
    scores = {"chinchilla": _inner_error(fit_chinchilla_params, chin_loss, N, D, loss, valid),
              "chinchilla-ndexp": _inner_error(fit_ndexp, ndexp_loss, N, D, loss, valid)}
    chin, nd = scores["chinchilla"], scores["chinchilla-ndexp"]
    if n_values < 2:
        chosen, reason = "chinchilla", (f"the inner validation runs are at one {split_along} only: the split cannot "
                                        "show how the error grows with the distance")
    elif nd <= MARGIN * chin:
        chosen, reason = "chinchilla-ndexp", (f"on the largest {split_along} of your runs it is {nd:.2%} off against "
                                              f"Chinchilla's {chin:.2%} (at most {MARGIN:g} x)")
    else:
        chosen, reason = "chinchilla", (f"chinchilla-ndexp is {nd:.2%} off on the largest {split_along} of your runs "
                                        f"against Chinchilla's {chin:.2%}: not clearly better (at most {MARGIN:g} x)")
    return Selection(chosen=chosen, scores=scores, train_runs=int((~valid).sum()), valid_runs=int(valid.sum()),
                     valid_values=n_values, split_along=split_along, reason=reason)
