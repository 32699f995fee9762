"""One robust fitter for every law: Huber loss on log residuals, several starts, bootstrap.

The objective is the one Hoffmann et al. (2022) and Besiroglu et al. (2024) use: the Huber loss
(delta 1e-3) of log(prediction) - log(observation), which is close to least absolute deviations
in relative terms and so resists outliers.  It is minimised with scipy's ``least_squares`` (trust
region reflective, ``loss='huber'``, ``f_scale=delta``), whose objective is 2 x the standard Huber
sum, so the minimiser is the same.  ``least_squares`` measures convergence on the residual vector
itself, which avoids L-BFGS-B stopping early on a tiny objective (its relative change is measured
against max(|f|, 1), and a Huber objective with delta 1e-3 sums to about 1e-3).

Small fits ran 60-80x faster with one BLAS thread than multi-threaded on a 2-core machine: every fit
runs inside :func:`single_thread`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpadvisor.errors import FitError

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FitResult:
    """Best parameters over the starts, with the objective they reach."""

    params: np.ndarray
    objective: float
    converged: bool
    n_starts: int
    n_converged: int
    message: str

    def residuals(self, predict: Predict, observed: np.ndarray) -> np.ndarray:
        """Relative errors prediction/observation - 1 at the best parameters."""
        return np.asarray(predict(self.params), dtype=float) / observed - 1.0


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Limit BLAS to one thread while fitting (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: the fit is correct either way, only slower
        yield
        return
    with threadpool_limits(limits=1):
        yield


#: A grid of more than SCREEN_ABOVE starts (Chinchilla's 243) is screened by default: every start
#: runs AUTO_SCREEN[0] evaluations, the AUTO_SCREEN[1] best go on to convergence.  On Epoch's data
#: and the 21 protocols of benchmarks/lnd_extrapolate.py the screened fit reaches the same minimum
#: (objective equal to 7 digits; constants equal but for an E on its bound 0) in a quarter of the
#: CPU (180 s -> 46 s over the 21); on runs without a law in them (random losses, loss rising with
#: N) the starts that ran to the evaluation limit -- 8-13 s before a refusal -- stop at 30.
SCREEN_ABOVE = 64
AUTO_SCREEN = (30, 10)


def huber_log_fit(
    predict: Predict,
    observed: np.ndarray,
    starts: Sequence[np.ndarray],
    *,
    bounds: tuple[Sequence[float], Sequence[float]] | None = None,
    delta: float = 1e-3,
    weights: np.ndarray | None = None,
    max_nfev: int | None = None,
    jac: Callable[[np.ndarray], np.ndarray] | None = None,
    screen: tuple[int, int] | str | None = "auto",
) -> FitResult:
    """Minimise sum Huber_delta(log predict(p) - log observed) from each start; keep the best.

    ``predict(p)`` returns predictions aligned with ``observed`` (all > 0).  A start where the
    prediction is not positive and finite is skipped.  Raises :class:`FitError` when no start
    gives a finite fit.  ``jac(p)``, if given, is the Jacobian of log(predict(p)) by the parameters
    (rows = observations); without it least_squares uses finite differences.
    ``screen=(nfev, keep)``: run every start for at most ``nfev`` evaluations, then only the
    ``keep`` best (lowest objective) on to convergence — for slow fits whose starts mostly end in
    the same minimum.  ``n_starts`` still counts every start.  ``"auto"`` (the default) screens a
    grid of more than SCREEN_ABOVE starts with AUTO_SCREEN, ``None`` never screens.
    """
    if isinstance(screen, str):
        screen = AUTO_SCREEN if len(starts) > SCREEN_ABOVE else None
    y = np.asarray(observed, dtype=float)
    if y.ndim != 1 or y.size == 0 or np.any(~np.isfinite(y)) or np.any(y <= 0):
        raise FitError("observations must be a non-empty 1-D array of finite values > 0.")
    opts = dict(bounds=bounds, delta=delta, weights=weights, jac=jac)
    if screen is not None and len(starts) > screen[1]:
        res = _screened(predict, observed, starts, screen, max_nfev=max_nfev, **opts)
        if res is not None:
            return res
    residual, residual_jac = _log_residuals(predict, np.log(y), weights, jac)
    best, n_ok = _best_of_starts(residual, None if jac is None else residual_jac, starts, bounds, delta, max_nfev)
    if best is None:
        raise FitError(
            "Optimal parameters not found: no starting point gave a finite fit. "
            "Check the data (units, diverged runs) or give more points."
        )
    return FitResult(
        params=np.asarray(best.x, dtype=float),
        objective=float(best.cost),
        converged=bool(best.success),
        n_starts=len(starts),
        n_converged=n_ok,
        message=str(best.message),
    )


def _screened(predict: Predict, observed: np.ndarray, starts: Sequence[np.ndarray], screen: tuple[int, int], *,
              max_nfev: int | None, **opts: Any) -> FitResult | None:
    """Every start for ``screen[0]`` evaluations, the ``screen[1]`` best on to convergence; None
    when no start gave a finite fit."""
    nfev, keep = screen
    short = []
    for x0 in starts:
        try:
            short.append(huber_log_fit(predict, observed, [x0], max_nfev=nfev, **opts))
        except FitError:
            continue
    if not short:
        return None
    best_short = sorted(short, key=lambda r: r.objective)[:keep]
    res = huber_log_fit(predict, observed, [r.params for r in best_short], max_nfev=max_nfev, **opts)
    return FitResult(params=res.params, objective=res.objective, converged=res.converged,
                     n_starts=len(starts), n_converged=res.n_converged, message=res.message)


def _log_residuals(predict: Predict, log_y: np.ndarray, weights: np.ndarray | None,
                   jac: Callable[[np.ndarray], np.ndarray] | None) -> tuple[Callable, Callable]:
    """(residual, its Jacobian) of log predict(p) - log y, weighted; a non-positive or non-finite
    prediction is a large finite residual, so the optimiser steps back from it."""
    w = None if weights is None else np.sqrt(np.asarray(weights, dtype=float))

    def residual(p: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            pred = np.asarray(predict(p), dtype=float)
            r = np.where(pred > 0, np.log(np.where(pred > 0, pred, 1.0)), -50.0) - log_y
        r = np.where(np.isfinite(r), r, 50.0)
        return r if w is None else r * w

    def residual_jac(p: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            J = np.asarray(jac(p), dtype=float)  # type: ignore[misc]
        J = np.where(np.isfinite(J), J, 0.0)
        return J if w is None else J * w[:, None]

    return residual, residual_jac


def _best_of_starts(residual: Callable, residual_jac: Callable | None, starts: Sequence[np.ndarray],
                    bounds: tuple[Sequence[float], Sequence[float]] | None, delta: float,
                    max_nfev: int | None) -> tuple[Any, int]:
    """least_squares (Huber, TRF) from each start: (the lowest-cost solution or None, how many converged)."""
    from scipy.optimize import least_squares

    lb, ub = (-np.inf, np.inf) if bounds is None else (np.asarray(bounds[0], float), np.asarray(bounds[1], float))
    best = None
    n_ok = 0
    with single_thread():
        for x0 in starts:
            x0 = np.asarray(x0, dtype=float)
            if bounds is not None:
                # nudge inside finite bounds (inf - 1e-12 * inf would be nan)
                with np.errstate(invalid="ignore"):
                    lo_in = np.where(np.isfinite(lb), lb + 1e-12 * np.abs(lb), lb)
                    hi_in = np.where(np.isfinite(ub), ub - 1e-12 * np.abs(ub), ub)
                x0 = np.clip(x0, lo_in, hi_in)
            if not np.all(np.isfinite(residual(x0))):
                continue
            try:
                with np.errstate(all="ignore"):  # scipy's trust-region steps can overflow on a runaway start
                    sol = least_squares(
                        residual, x0, jac="2-point" if residual_jac is None else residual_jac,
                        bounds=(lb, ub), loss="huber", f_scale=delta, method="trf",
                        x_scale="jac", max_nfev=max_nfev, xtol=1e-12, ftol=1e-12, gtol=1e-12,
                    )
            except (ValueError, np.linalg.LinAlgError):
                continue
            if not np.all(np.isfinite(sol.x)) or not np.isfinite(sol.cost):
                continue
            n_ok += int(sol.success)
            if best is None or sol.cost < best.cost:
                best = sol
    return best, n_ok


def grid_starts(*axes: Sequence[float]) -> list[np.ndarray]:
    """Every combination of the given per-parameter start values (Epoch's grid of initialisations)."""
    mesh = np.meshgrid(*[np.asarray(a, dtype=float) for a in axes], indexing="ij")
    return [np.array(p) for p in zip(*(m.ravel() for m in mesh), strict=True)]


def bootstrap(
    fit_once: Callable[[np.ndarray], np.ndarray],
    n_rows: int,
    n_boot: int,
    *,
    seed: int = 0,
    groups: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Refit on ``n_boot`` resamples; return (parameter samples, number of failed resamples).

    ``fit_once(indices)`` fits on the rows ``indices`` and returns the parameter vector.  With
    ``groups``, whole groups are resampled (a cluster bootstrap: e.g. every run of one (N, D)
    setting together), which keeps the within-setting structure a sweep fit relies on.
    """
    rng = np.random.default_rng(seed)
    samples = []
    failed = 0
    if groups is not None:
        labels, inverse = np.unique(groups, return_inverse=True)
        members = [np.flatnonzero(inverse == i) for i in range(len(labels))]
    for i in range(n_boot):
        if groups is None:
            idx = rng.integers(0, n_rows, size=n_rows)
        else:
            pick = rng.integers(0, len(members), size=len(members))
            idx = np.concatenate([members[j] for j in pick])
        try:
            samples.append(np.asarray(fit_once(idx), dtype=float))
        except FitError:
            failed += 1
        if progress is not None:
            progress(i + 1)
    if not samples:
        raise FitError("Optimal parameters not found: every bootstrap resample failed to fit.")
    return np.vstack(samples), failed


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap samples along axis 0."""
    tail = (1.0 - level) / 2.0 * 100.0
    return np.percentile(samples, tail, axis=0), np.percentile(samples, 100.0 - tail, axis=0)
