"""Fit L(N, D) to a team's final losses: the Chinchilla form the Epoch way, or Kaplan's form.

Chinchilla, following Besiroglu et al. (2024): L = E + A/N^alpha + B/D^beta in log-sum-exp form,
log L = LSE(a - alpha ln N, b - beta ln D, e) with A = e^a, B = e^b, E = e^e, fitted by the
Huber loss (delta 1e-3) on log L from a grid of starts (hpadvisor.fitting.core), then a bootstrap
over runs for parameter intervals, prediction intervals (parameter spread times the fit's own
relative residuals) and the compute-optimal allocation's interval.

Which points a fit used is part of its result: rows with a non-finite or non-positive loss are
dropped and counted; ``drop_highest_loss`` removes the K highest-loss runs, as Epoch did (their
five highest-loss runs, where training was shortest, pull B six-fold: Besiroglu et al. 2024, arXiv:2404.10102).

Outliers: after a first fit, a run whose log-loss residual exceeds ``outlier_sigma`` (default 10)
robust standard deviations (1.4826 x the median absolute deviation of the residuals, at least
1e-4) is left out, listed, and the law refitted once; 0 keeps every run.  On Epoch's 245 Chinchilla runs this leaves
out four runs, 13-45 robust sd above the fit (3.7-5.0 nats: large models stopped after 0.25-0.7B
tokens); the next largest residual is 6.1 sd, so any threshold from 6.2 to 13 gives the same fit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from hpadvisor.errors import DataError, FitError, InvalidInputError
from hpadvisor.fitting import acceptance, core
from hpadvisor.laws.base import Provenance
from hpadvisor.laws.loss import CHINCHILLA_EPOCH, KAPLAN, Chinchilla

CHINCHILLA_NAMES = ("E", "A", "B", "alpha", "beta")
#: A final loss above this is a run that blew up, not a cross-entropy (squaring 1e308 overflowed).
MAX_LOSS = 1e6
KAPLAN_NAMES = ("N_c", "D_c", "alpha_N", "alpha_D")


@dataclass(frozen=True)
class Ladder:
    """Final losses of several (N, D) runs, in base units, and what was left out."""

    N: np.ndarray
    D: np.ndarray
    loss: np.ndarray
    source: dict[str, Any]
    dropped: dict[str, int] = field(default_factory=dict)
    param_count: str = "total"

    def subset(self, mask: np.ndarray) -> Ladder:
        return dataclasses.replace(self, N=self.N[mask], D=self.D[mask], loss=self.loss[mask])


def read_ladder(path: str, *, mapping: dict[str, str] | None = None, drop_highest_loss: int = 0,
                param_count: str | None = None) -> Ladder:
    """Read a final-loss table: N, loss, and D (or C, with D = C / 6N)."""
    from hpadvisor.fitting.data import (  # the alias table every fit input shares
        COLUMNS,
        check_size,
        param_count_of,
    )
    from hpadvisor.io.tables import read_table, row_label

    frame = read_table(path, columns=COLUMNS, required=["N", "loss"], mapping=mapping,
                       numeric=["N", "D", "C", "loss"], what="ladder")
    digest, n_column = frame.attrs["sha256"], frame.attrs["column_of"]["N"]
    if "D" not in frame.columns and "C" not in frame.columns:
        raise DataError(
            f"ladder '{path}' has neither a tokens column nor a compute column (accepted: tokens, D, "
            f"flops, compute, Training FLOP). Found: {', '.join(map(str, frame.columns))}."
        )
    N = frame["N"].to_numpy(float)
    D = frame["D"].to_numpy(float) if "D" in frame.columns else frame["C"].to_numpy(float) / (6.0 * N)
    loss = frame["loss"].to_numpy(float)
    for name, arr in (("N", N), ("D", D)):
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"ladder '{path}', {row_label(frame, row)}: {name} = {arr[row]:g} must be a "
                            "finite number > 0.")
        check_size("ladder", path, name, float(arr.min()), derived=name == "D" and "D" not in frame.columns,
                   most_seen=float(arr.max()))
    dropped: dict[str, int] = {}
    with np.errstate(invalid="ignore"):  # NaN compares False: it is caught by isfinite
        diverged = ~np.isfinite(loss) | (loss <= 0) | (loss > MAX_LOSS)  # 1e308: a run that blew up
    if diverged.any():
        dropped[f"non-finite, non-positive or above {MAX_LOSS:.0e} loss (diverged)"] = int(diverged.sum())
    keep = ~diverged
    if keep.sum() == 0:
        raise DataError(f"ladder '{path}': every run diverged (no finite positive loss); nothing to fit.")
    if drop_highest_loss:
        if drop_highest_loss < 0 or drop_highest_loss >= keep.sum():
            raise InvalidInputError(f"`drop_highest_loss` must be between 0 and {int(keep.sum()) - 1}.")
        order = np.argsort(np.where(keep, loss, -np.inf))[::-1]
        keep[order[:drop_highest_loss]] = False
        dropped[f"the {drop_highest_loss} highest-loss runs (`drop_highest_loss`)"] = drop_highest_loss
    if param_count is None:  # the N column's name says, else total (Chinchilla's and Epoch's N)
        param_count = param_count_of(n_column) or "total"
    info = {"file": Path(path).name, "sha256": digest, "rows": int(len(loss)),
            "rows_used": int(keep.sum())}
    return Ladder(N=N[keep], D=D[keep], loss=loss[keep], source=info, dropped=dropped, param_count=param_count)


# -- the Chinchilla form -------------------------------------------------------------------------


def _chinchilla_predict(lnN: np.ndarray, lnD: np.ndarray) -> tuple[Callable, Callable]:
    def log_pred(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b, e, al, be = p
        terms = np.stack([a - al * lnN, b - be * lnD, np.full_like(lnN, e)])
        top = terms.max(axis=0)
        ex = np.exp(terms - top)
        s = ex.sum(axis=0)
        return top + np.log(s), ex / s

    def predict(p):
        return np.exp(log_pred(p)[0])

    def jac(p):
        w = log_pred(p)[1]
        return np.stack([w[0], w[1], w[2], -w[0] * lnN, -w[1] * lnD], axis=1)

    return predict, jac


# Epoch's grid of initialisations (their notebook: e, a, b, alpha, beta over coarse ranges).
_GRID = (np.arange(0, 30, 5.0), np.arange(0, 30, 5.0), np.arange(-1, 1.5, 0.5),
         np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5))
_COARSE = (np.array([0, 10, 20.0]), np.array([0, 10, 20.0]), np.array([-1, 0, 1.0]),
           np.array([0.2, 0.5, 1.0]), np.array([0.2, 0.5, 1.0]))


def _to_constants(p: np.ndarray) -> np.ndarray:
    a, b, e, al, be = p
    with np.errstate(over="ignore"):  # a runaway fit: inf, refused by fit_final as not finite
        return np.array([np.exp(e), np.exp(a), np.exp(b), al, be])


def fit_chinchilla_params(N, D, loss, *, starts=None, delta: float = 1e-3) -> np.ndarray:
    """(E, A, B, alpha, beta) minimising the Huber loss of log L over ``starts`` (LSE form)."""
    lnN, lnD = np.log(N), np.log(D)
    predict, jac = _chinchilla_predict(lnN, lnD)
    if starts is None:
        starts = core.grid_starts(*_COARSE)
    res = core.huber_log_fit(predict, loss, starts, delta=delta, jac=jac)
    return _to_constants(res.params)


def _from_constants(c: np.ndarray) -> np.ndarray:
    E, A, B, al, be = c
    with np.errstate(divide="ignore"):  # a constant that underflowed to 0: -inf, a start the fit skips
        return np.array([np.log(A), np.log(B), np.log(E), al, be])


@dataclass(frozen=True)
class FinalFit:
    law: Any
    names: tuple[str, ...]
    estimate: np.ndarray
    samples: np.ndarray
    failed_resamples: int
    residuals: np.ndarray  # relative residuals on the fitted runs
    quality: dict[str, float]
    ladder: Ladder
    holdout: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()  # a weak fit's (fitting.acceptance), written to its law file

    def intervals(self, level: float = 0.95) -> dict[str, list[float]]:
        if len(self.samples) < 2:
            return {}
        lo, hi = core.interval(self.samples, level)
        return {n: [float(a), float(b)] for n, a, b in zip(self.names, lo, hi, strict=True)}

    def predict_interval(self, N: float, D: float, level: float = 0.95) -> tuple[float, float, float]:
        """(loss, low, high): bootstrap predictions times resampled relative residuals."""
        point = float(self.law.loss(N, D))
        if len(self.samples) < 2:
            return point, point, point
        laws = [self._law_from(s) for s in self.samples]
        preds = np.array([float(lw.loss(N, D)) for lw in laws])
        rng = np.random.default_rng(0)
        eps = rng.choice(self.residuals, size=preds.size, replace=True)
        lo, hi = core.interval((preds * (1 + eps))[:, None], level)
        return point, float(lo[0]), float(hi[0])

    def _law_from(self, vec: np.ndarray):
        return dataclasses.replace(self.law, **dict(zip(self.names, map(float, vec), strict=True)))

    def allocation(self, C: float, level: float = 0.95) -> dict[str, Any]:
        """Compute-optimal N and D at budget C (C = 6ND) with bootstrap intervals."""
        if not isinstance(self.law, Chinchilla):
            return {}
        n, d = float(self.law.optimal_params(C)), float(self.law.optimal_tokens(C))
        out: dict[str, Any] = {"compute": C, "params": n, "tokens": d, "tokens_per_param": d / n}
        if len(self.samples) >= 2:
            ns = np.array([float(self._law_from(s).optimal_params(C)) for s in self.samples])
            lo, hi = core.interval(np.stack([ns, C / (6 * ns), C / (6 * ns) / ns], axis=1), level)
            out["interval"] = {"params": [float(lo[0]), float(hi[0])], "tokens": [float(lo[1]), float(hi[1])],
                               "tokens_per_param": [float(lo[2]), float(hi[2])]}
        return out

    def fit_info(self) -> dict[str, Any]:
        info = {
            "kind": "final",
            "method": "Huber (delta 1e-3) on log loss, least_squares from a grid of starts; "
                      "bootstrap over runs" if self.names == CHINCHILLA_NAMES else
                      "Huber (delta 1e-3) on log loss, least_squares; bootstrap over runs",
            "param_count": self.ladder.param_count,
            "data": self.ladder.source,
            "dropped": self.ladder.dropped,
            "estimate": {n: float(v) for n, v in zip(self.names, self.estimate, strict=True)},
            "intervals_95": self.intervals(),
            "bootstrap": {"resamples": int(len(self.samples)), "failed": int(self.failed_resamples),
                          "columns": list(self.names),
                          "samples": [[float(x) for x in row] for row in self.samples[:200]]},
            "residuals": [float(r) for r in self.residuals[:2000]],
            "quality": self.quality,
        }
        if self.holdout is not None:
            info["holdout"] = self.holdout
        if self.warnings:
            info["warnings"] = list(self.warnings)
        return info


def _quality(law, ladder: Ladder) -> tuple[dict[str, float], np.ndarray]:
    with np.errstate(all="ignore"):  # absurd constants overflow here; the acceptance rule then refuses them
        pred = np.asarray(law.loss(ladder.N, ladder.D), float)
        rel = pred / ladder.loss - 1
        ss_res = float(np.sum((ladder.loss - pred) ** 2))
    ss_tot = float(np.sum((ladder.loss - ladder.loss.mean()) ** 2))
    return ({"mean_relative_error": float(np.mean(np.abs(rel))), "max_relative_error": float(np.max(np.abs(rel))),
             "r2": 1 - ss_res / ss_tot if ss_tot > 0 else float("nan"), "points": int(rel.size)}, rel)


OUTLIER_SIGMA = 10.0  # the default threshold, in robust standard deviations
OUTLIER_MIN_RUNS = 12  # fewer runs give no usable robust scale


def fit_final(ladder: Ladder, *, form: str = "chinchilla", bootstrap: int = 200, seed: int = 0,
              name: str = "chinchilla@fit", holdout: Ladder | None = None,
              progress: Callable[[int], None] | None = None, starts: list | None = None,
              outlier_sigma: float = OUTLIER_SIGMA) -> FinalFit:
    """Fit ``form`` (chinchilla or kaplan) to ``ladder`` with a bootstrap over runs.

    ``starts`` (Chinchilla, in (a, b, e, alpha, beta)) replaces the default 243-point grid; each
    bootstrap refit starts from the full-data optimum.  ``outlier_sigma``: see the module notes.
    """
    if not (outlier_sigma == 0 or 3 <= outlier_sigma < np.inf):
        raise InvalidInputError(f"`outlier_sigma` must be 0 (keep every run) or at least 3, not {outlier_sigma:g}.")
    n = ladder.loss.size
    ladder = dataclasses.replace(ladder, source={**ladder.source, "rows_used": int(n)})
    k = 5 if form == "chinchilla" else 4
    if n <= k:
        left_out = "".join(f"; {v} left out: {why}" for why, v in ladder.dropped.items())
        raise DataError(f"{n} runs for {k} parameters{left_out}: a {form} fit needs more runs than parameters.")
    if np.unique(np.stack([ladder.N, ladder.D]), axis=1).shape[1] < 2:
        raise DataError("every run has the same (N, D): give runs at several model and data sizes.")
    if np.unique(ladder.N).size < 2 or np.unique(ladder.D).size < 2:
        raise DataError("the runs vary only one of N and D: L(N, D) needs both to vary.")
    if np.ptp(ladder.loss) <= 1e-9 * float(np.max(ladder.loss)):
        raise DataError(f"every run's loss is {ladder.loss[0]:g}: a law of how the loss falls with N and D "
                        "needs losses that differ (is the loss column the right one?).")
    if form == "chinchilla":
        est = fit_chinchilla_params(ladder.N, ladder.D, ladder.loss, starts=starts or core.grid_starts(*_COARSE))
        warm = [_from_constants(est)]

        def once(idx):
            return fit_chinchilla_params(ladder.N[idx], ladder.D[idx], ladder.loss[idx], starts=warm)

        names, base = CHINCHILLA_NAMES, CHINCHILLA_EPOCH
    elif form == "kaplan":
        est = _fit_kaplan(ladder.N, ladder.D, ladder.loss)
        warm_k = est

        def once(idx):
            return _fit_kaplan(ladder.N[idx], ladder.D[idx], ladder.loss[idx], start=warm_k)

        names, base = KAPLAN_NAMES, KAPLAN
    else:
        raise InvalidInputError(f"unknown final-loss form '{form}'. Use chinchilla or kaplan.")
    if not np.all(np.isfinite(est)):
        raise FitError("Optimal parameters not found: the fit did not converge to finite values.")
    constants = dict(zip(names, map(float, est), strict=True))
    if outlier_sigma and n >= OUTLIER_MIN_RUNS:
        first = dataclasses.replace(base, **constants)
        with np.errstate(all="ignore"):  # absurd first-fit constants (random losses) overflow: no outliers then
            r = np.log(ladder.loss) - np.log(np.asarray(first.loss(ladder.N, ladder.D), float))
        # floor 1e-4 (0.01% of the loss, below a logged loss's precision): exact data has no outliers
        scale = max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 1e-4)
        out = np.abs(r) > outlier_sigma * scale
        if out.any() and (~out).sum() > 5:
            listed = [{"N": float(a), "D": float(b), "loss": float(c), "robust_sd": float(z)}
                      for a, b, c, z in zip(ladder.N[out], ladder.D[out], ladder.loss[out], r[out] / scale, strict=True)]
            why = f"outliers: |log residual| > {outlier_sigma:g} robust sd of a first fit (`outlier_sigma`)"
            kept = dataclasses.replace(ladder.subset(~out), dropped={**ladder.dropped, why: int(out.sum())},
                                       source={**ladder.source, "outliers": listed})
            fit = fit_final(kept, form=form, bootstrap=bootstrap, seed=seed, name=name, holdout=holdout,
                            progress=progress, starts=starts, outlier_sigma=0)
            q_all, _ = _quality(fit.law, ladder)
            return dataclasses.replace(fit, quality={**fit.quality, "including_outliers": q_all})
    rng = {"N": (float(ladder.N.min()), float(ladder.N.max())), "D": (float(ladder.D.min()), float(ladder.D.max()))}
    C = 6 * ladder.N * ladder.D
    fitted_range = (("N", *rng["N"]), ("D", *rng["D"])) + ((("C", float(C.min()), float(C.max())),)
                                                          if form == "chinchilla" else ())
    prov = Provenance(
        citation=f"fitted by hpadvisor on {ladder.source['file']} ({ladder.source['rows_used']} runs, "
        f"N = {ladder.param_count} parameters)",
        source=f"sha256 {ladder.source['sha256'][:16]}...; form of {base.provenance.citation}",
        fitted_range=fitted_range,
        notes="; ".join(f"dropped {v}: {k}" for k, v in ladder.dropped.items()),
    )
    # The form records which parameter count N is, so `recommend --laws` feeds it the same one; a
    # Kaplan fit is its loss only (its lr and critical-batch constants are not fitted here).
    from hpadvisor.laws.fitted_forms import BY_PARAM_COUNT

    cls = BY_PARAM_COUNT[form][ladder.param_count]
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    law = cls(**{**fields, **constants, "name": name, "provenance": prov})
    quality, rel = _quality(law, ladder)
    fit = FinalFit(law=law, names=names, estimate=est, samples=np.empty((0, len(names))), failed_resamples=0,
                   residuals=rel, quality=quality, ladder=ladder)
    acceptance.accept_final(fit)  # a point fit that is not usable is refused before its bootstrap (random losses: 55 s)
    if bootstrap > 0:
        samples, failed = core.bootstrap(once, n, bootstrap, seed=seed, progress=progress)
        fit = dataclasses.replace(fit, samples=samples, failed_resamples=failed)
    if holdout is not None and holdout.loss.size:
        q, _ = _quality(law, holdout)
        fit = dataclasses.replace(fit, holdout={"rows": int(holdout.loss.size), **q})
    return acceptance.accept_final(fit)  # refused if not usable; a weak fit carries its warnings


def _fit_kaplan(N, D, loss, start=None) -> np.ndarray:
    """Kaplan's L = [(N_c/N)^(aN/aD) + D_c/D]^aD, in logs: (ln N_c, ln D_c, aN, aD)."""
    lnN, lnD = np.log(N), np.log(D)

    def predict(p):
        lnc, lndc, an, ad = p
        with np.errstate(all="ignore"):
            inner = np.exp((an / ad) * (lnc - lnN)) + np.exp(lndc - lnD)
            return inner**ad

    starts = [np.array([np.log(start[0]), np.log(start[1]), start[2], start[3]])] if start is not None else \
        core.grid_starts([np.log(1e13), np.log(1e14)], [np.log(1e13), np.log(1e14)], [0.05, 0.1], [0.08, 0.15])
    res = core.huber_log_fit(predict, loss, starts,
                             bounds=([0, 0, 1e-3, 1e-3], [80, 80, 2, 2]))
    lnc, lndc, an, ad = res.params
    return np.array([np.exp(lnc), np.exp(lndc), an, ad])


def predict_with_fit(law, fit: dict[str, Any], N: float, D: float, level: float = 0.95) -> dict[str, Any]:
    """Loss at (N, D) with the prediction interval recorded in a law file's fit section."""
    point = float(law.loss(N, D))
    boot = fit.get("bootstrap") or {}
    samples = np.asarray(boot.get("samples") or [], float)
    residuals = np.asarray(fit.get("residuals") or [], float)
    estimate = fit.get("estimate") or {}
    # The samples' columns: recorded since 2026-12-01; before, the fit's own parameter order (a
    # re-saved file may have sorted the estimate's keys, so never their order).
    names = tuple(boot.get("columns") or next((n for n in (CHINCHILLA_NAMES, KAPLAN_NAMES)
                                                if set(n) == set(estimate)), ()))
    if samples.ndim != 2 or samples.shape[0] < 2 or not names or samples.shape[1] != len(names):
        return {"loss": point, "interval": None,
                "note": "no bootstrap in the law file: refit with `bootstrap` N for an interval"}
    edited = [n for n in names if not math.isclose(float(getattr(law, n, math.nan)), float(estimate.get(n, math.nan)),
                                                   rel_tol=1e-9)]
    if edited:
        return {"loss": point, "interval": None,
                "note": f"no interval: the law's {', '.join(edited)} {'differs' if len(edited) == 1 else 'differ'} "
                        "from the fitted estimate the "
                        "bootstrap belongs to (an edited law file)."}
    preds = np.array([float(dataclasses.replace(law, **dict(zip(names, map(float, row), strict=True))).loss(N, D))
                      for row in samples])
    if residuals.size:
        rng = np.random.default_rng(0)
        preds = preds * (1 + rng.choice(residuals, size=preds.size, replace=True))
    lo, hi = core.interval(preds[:, None], level)
    return {"loss": point, "interval": [float(lo[0]), float(hi[0])]}
