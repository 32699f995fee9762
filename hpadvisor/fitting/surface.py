"""A smooth local surface through one (N, D) setting's runs: where the optimum is, how sharp it is.

The loss of an lr x batch sweep near its best run is a bowl in (ln lr, ln batch).  It is not
symmetric: an lr twice too high costs about twice as much as one twice too low (measured on the
Step Law sweeps).  The model, in x = ln(lr / lr*) and z = ln(B / B*), is

    ln L = ln L* + a(x) x^2 + b(z) z^2 + c x z,
    a(x) = a_lo for x < 0, a_hi for x >= 0;  b(z) = b_lo for z < 0, b_hi for z >= 0.

It is fitted by least squares on ln L over the runs within ``window`` (default 2%) of the
setting's best loss, with the optimum (lr*, B*) as free parameters bounded by the sampled range.
Judging an lr/batch law by the loss on this surface, not by the distance to the grid's argmin, is
what the flat basin of real sweeps calls for (the Step Law sweeps have 4-13 grid points within 0.25% of each setting's best).

The same coefficients give the sensitivity figure `check` uses: the relative loss cost of an lr
(batch) off by a factor r is exp(a ln^2 r) - 1 (see hpadvisor.laws.sensitivity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpadvisor.errors import FitError
from hpadvisor.fitting.core import single_thread

#: Default window: runs within 2% of the setting's best loss shape the surface.
WINDOW = 0.02


@dataclass(frozen=True)
class Surface:
    """A fitted local surface; coefficients are in ln-loss per (ln ratio)^2."""

    log_loss_opt: float
    log_lr_opt: float
    log_batch_opt: float
    a_lo: float
    a_hi: float
    b_lo: float
    b_hi: float
    cross: float
    n_runs: int
    rms: float  # rms residual of ln loss over the runs used
    batch_located: bool  # False when the setting sampled fewer than 3 batch sizes
    lr_range: tuple[float, float]
    batch_range: tuple[float, float]

    @property
    def lr_opt(self) -> float:
        return math.exp(self.log_lr_opt)

    @property
    def batch_opt(self) -> float:
        return math.exp(self.log_batch_opt)

    @property
    def loss_opt(self) -> float:
        return math.exp(self.log_loss_opt)

    def log_cost(self, lr, batch) -> np.ndarray:
        """ln L(lr, B) - ln L* on the surface."""
        x = np.log(np.asarray(lr, dtype=float)) - self.log_lr_opt
        z = np.log(np.asarray(batch, dtype=float)) - self.log_batch_opt
        return log_cost(x, z, self.a_lo, self.a_hi, self.b_lo, self.b_hi, self.cross)

    def regret(self, lr, batch) -> np.ndarray:
        """Relative loss above the surface's optimum at (lr, B): L(lr, B) / L* - 1."""
        return np.expm1(self.log_cost(lr, batch))

    def loss(self, lr, batch) -> np.ndarray:
        return np.exp(self.log_loss_opt + self.log_cost(lr, batch))

    def inside(self, lr: float, batch: float) -> bool:
        """Whether (lr, B) lies within the lr and batch range of the runs used."""
        return (self.lr_range[0] <= lr <= self.lr_range[1]
                and self.batch_range[0] <= batch <= self.batch_range[1])

    def is_bowl(self) -> bool:
        """True when every quadrant is convex (4 a b > c^2): the optimum is a minimum."""
        if not self.batch_located:
            return self.a_lo > 0 and self.a_hi > 0
        return all(4 * a * b > self.cross**2 for a in (self.a_lo, self.a_hi) for b in (self.b_lo, self.b_hi))

    def plateau(self, tolerance: float = 0.0025) -> dict[str, tuple[float, float]]:
        """lr and batch ranges (at the other's optimum) within ``tolerance`` of the best loss."""
        t = math.log1p(tolerance)

        def span(lo: float, hi: float, opt: float) -> tuple[float, float]:
            # a side with (almost) no curvature: that side of the plateau is unbounded
            down = math.exp(-math.sqrt(t / lo)) if lo > 0 else 0.0
            up = math.exp(math.sqrt(t / hi)) if hi > 0 and t / hi < 700.0**2 else math.inf
            return opt * down, opt * up

        out = {"lr": span(self.a_lo, self.a_hi, self.lr_opt)}
        if self.batch_located:
            out["batch"] = span(self.b_lo, self.b_hi, self.batch_opt)
        return out


def log_cost(x, z, a_lo, a_hi, b_lo, b_hi, cross) -> np.ndarray:
    """The surface's ln-loss increase at x = ln(lr/lr*), z = ln(B/B*)."""
    x = np.asarray(x, dtype=float)
    z = np.asarray(z, dtype=float)
    return (np.where(x < 0, a_lo, a_hi) * x * x + np.where(z < 0, b_lo, b_hi) * z * z + cross * x * z)


def fit_surface(lr, batch, loss, *, window: float = WINDOW) -> Surface:
    """Fit the asymmetric bowl to one setting's runs (lr > 0, batch > 0, loss > 0, no NaN).

    Raises FitError when the runs cannot locate an optimum (fewer than 3 learning rates within
    the window, or fewer than 6 runs).
    """
    from scipy.optimize import least_squares

    lr = np.asarray(lr, dtype=float)
    batch = np.asarray(batch, dtype=float)
    loss = np.asarray(loss, dtype=float)
    y_all = np.log(loss)
    keep = y_all <= y_all.min() + math.log1p(window)
    u, v, y = np.log(lr[keep]), np.log(batch[keep]), y_all[keep]
    n_lr = np.unique(np.round(u, 6)).size
    n_bs = np.unique(np.round(v, 6)).size
    if n_lr < 3 or u.size < 5:
        raise FitError(
            f"Optimal parameters not found: only {n_lr} learning rates ({u.size} runs) within "
            f"{window:.1%} of the best loss; a setting needs at least 3 lrs around its optimum."
        )
    with_batch = n_bs >= 3 and u.size >= 8
    p0, lo, hi, vs = _start(u, v, y, with_batch)
    unpack, resid, jac = _bowl(u, v, y, with_batch, vs)
    margin = np.where(np.isfinite(hi - lo), (hi - lo) * 1e-9, 0.0)
    p0 = np.clip(p0, lo + margin, hi - margin)
    with single_thread():
        sol = least_squares(resid, p0, jac=jac, bounds=(lo, hi), method="trf", x_scale="jac",
                            xtol=1e-12, ftol=1e-12, gtol=1e-12)
    if not np.all(np.isfinite(sol.x)):
        raise FitError("Optimal parameters not found: the local surface fit did not converge.")
    q = unpack(sol.x)
    return Surface(
        log_loss_opt=float(q[0]), log_lr_opt=float(q[1]), log_batch_opt=float(q[2]),
        a_lo=float(q[3]), a_hi=float(q[4]), b_lo=float(q[5]), b_hi=float(q[6]), cross=float(q[7]),
        n_runs=int(u.size), rms=float(np.sqrt(np.mean(sol.fun**2))), batch_located=with_batch,
        lr_range=(float(np.exp(u.min())), float(np.exp(u.max()))),
        batch_range=(float(np.exp(v.min())), float(np.exp(v.max()))),
    )


def _start(u: np.ndarray, v: np.ndarray, y: np.ndarray, with_batch: bool) -> tuple[np.ndarray, np.ndarray,
                                                                                    np.ndarray, float]:
    """(start, lower bounds, upper bounds, the batch optimum's start): an ordinary quadratic
    through the same runs (linear least squares), the optimum bounded by the sampled range."""
    i0 = int(np.argmin(y))
    u0, v0 = u[i0], v[i0]
    du, dv = u - u0, v - v0
    cols = [np.ones_like(u), du, du * du] + ([dv, dv * dv, du * dv] if with_batch else [])
    coef, *_ = np.linalg.lstsq(np.column_stack(cols), y, rcond=None)
    a0 = max(coef[2], 1e-4)
    us = u0 - coef[1] / (2 * a0)
    vs = v0
    b0, c0 = 0.0, 0.0
    if with_batch:
        b0 = max(coef[4], 1e-4)
        c0 = float(coef[5])
        H = np.array([[2 * a0, c0], [c0, 2 * b0]])
        if np.all(np.linalg.eigvalsh(H) > 0):
            step = -np.linalg.solve(H, [coef[1], coef[3]])
            us, vs = u0 + step[0], v0 + step[1]
    us = float(np.clip(us, u.min(), u.max()))
    vs = float(np.clip(vs, v.min(), v.max()))
    y_start = float(np.min(y))
    if with_batch:
        return (np.array([y_start, us, vs, a0, a0, b0, b0, c0]),
                np.array([-np.inf, u.min(), v.min(), 0, 0, 0, 0, -np.inf], dtype=float),
                np.array([np.inf, u.max(), v.max(), np.inf, np.inf, np.inf, np.inf, np.inf], dtype=float), vs)
    return (np.array([y_start, us, a0, a0]), np.array([-np.inf, u.min(), 0, 0], dtype=float),
            np.array([np.inf, u.max(), np.inf, np.inf], dtype=float), vs)


def _bowl(u: np.ndarray, v: np.ndarray, y: np.ndarray, with_batch: bool, vs: float):
    """(unpack, residual, Jacobian) of the bowl; without the batch, its optimum is fixed at ``vs``."""

    def unpack(p):
        if with_batch:
            return p
        return np.array([p[0], p[1], vs, p[2], p[3], 0.0, 0.0, 0.0])

    def resid(p):
        q = unpack(p)
        return q[0] + log_cost(u - q[1], v - q[2], *q[3:]) - y

    def jac(p):
        q = unpack(p)
        x, z = u - q[1], v - q[2]
        xn, xp = np.minimum(x, 0), np.maximum(x, 0)
        zn, zp = np.minimum(z, 0), np.maximum(z, 0)
        d_us = -(2 * q[3] * xn + 2 * q[4] * xp + q[7] * z)
        if not with_batch:
            return np.column_stack([np.ones_like(u), d_us, xn * xn, xp * xp])
        d_vs = -(2 * q[5] * zn + 2 * q[6] * zp + q[7] * x)
        return np.column_stack([np.ones_like(u), d_us, d_vs, xn * xn, xp * xp, zn * zn, zp * zp, x * z])

    return unpack, resid, jac
