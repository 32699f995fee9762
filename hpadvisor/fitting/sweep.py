"""Fitting lr* and B* power laws to lr x batch sweeps (``hpadvisor fit sweep``).

Two procedures, both in Step Law's form lr* = a N^alpha D^beta, B* = b D^gamma (B in tokens):

``near-best`` (default; Step Law's own, their code/fit_tool.py): per (N, D) setting keep the runs
    whose loss is within ``tolerance`` (0.25%) of the setting's best; ordinary least squares of
    ln lr and ln B on ln N, ln D over those runs; row bootstrap for intervals.
``surface``: per setting, the optimum of the smooth local surface (hpadvisor.fitting.surface);
    least squares over the settings' optima; settings resampled for intervals.

Measured on the Step Law dense sweeps fitted on N < 1e9, the near-best procedure lands closer to
the optimum of the held-out 1.07B settings (regret 0.05-0.08% on their surfaces) than the surface
optima do (0.06-0.14%): averaging the flat basin's near-best runs is the more robust estimate.
Every setting's surface still gives the plateau, the sensitivity figure (lr off by 2x, batch off
by 2x) and the loss regret used to judge held-out predictions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from hpadvisor.errors import DataError, FitError, InvalidInputError
from hpadvisor.fitting import acceptance
from hpadvisor.fitting.core import bootstrap, interval
from hpadvisor.fitting.surface import WINDOW, Surface, fit_surface
from hpadvisor.laws.fitted_forms import BY_PARAM_COUNT
from hpadvisor.laws.lr_batch import STEPLAW
from hpadvisor.laws.sensitivity import STEPLAW_SENSITIVITY

if TYPE_CHECKING:
    from hpadvisor.laws.sensitivity import FittedSweep

METHODS = ("near-best", "surface")
COEFS = ("lr_coef", "lr_exp_n", "lr_exp_d", "bs_coef", "bs_exp_d")
SENS = ("lr_lo", "lr_hi", "batch_lo", "batch_hi", "cross")


@dataclass
class Setting:
    """One (N, D) setting of the sweep."""

    N: float
    D: float
    runs: int
    diverged: int
    best_lr: float
    best_batch: float
    best_loss: float
    near_best: int
    held_out: bool
    surface: Surface | None = None
    surface_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "N": self.N, "D": self.D, "runs": self.runs, "diverged": self.diverged,
            "best_run": {"lr": self.best_lr, "batch_tokens": self.best_batch, "loss": self.best_loss},
            "runs_within_tolerance": self.near_best, "held_out": self.held_out,
        }
        s = self.surface
        if s is not None:
            plateau = s.plateau()
            out["surface"] = {
                "lr_opt": s.lr_opt, "batch_tokens_opt": s.batch_opt if s.batch_located else None,
                "loss_opt": s.loss_opt, "runs": s.n_runs, "rms_log_residual": s.rms,
                "is_minimum": s.is_bowl(),
                "plateau_0.25%": {k: [float(v[0]), float(v[1])] for k, v in plateau.items()},
            }
        elif self.surface_error:
            out["surface"] = {"error": self.surface_error}
        return out


@dataclass
class SweepFit:
    law: Any
    method: str
    settings: list[Setting]
    intervals: dict[str, tuple[float, float]]
    n_boot: int
    failed_boot: int
    sensitivity: dict[str, float]
    sensitivity_source: str
    holdout: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    rows_used: int = 0
    rows_excluded: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # a weak fit's (fitting.acceptance), written to its law file

    def comparison(self) -> dict[str, Any]:
        """The fitted constants beside Step Law's published ones, and whether each lies inside
        the bootstrap interval."""
        out = {}
        for k in COEFS:
            pub = getattr(STEPLAW, k)
            row: dict[str, Any] = {"fitted": float(getattr(self.law, k)), "steplaw_paper": pub}
            if k in self.intervals:
                lo, hi = self.intervals[k]
                row["paper_inside_interval"] = bool(lo <= pub <= hi)
            out[k] = row
        return out

    def info(self) -> dict[str, Any]:
        """What the law file's ``fit:`` section records."""
        return {
            "kind": "sweep",
            "method": self.method,
            "param_count": "non-embedding" if type(self.law).key == "steplaw-fit" else "total",
            "rows_used": self.rows_used,
            "rows_excluded": dict(self.rows_excluded),
            "settings": [s.to_dict() for s in self.settings],
            "bootstrap": {"resamples": self.n_boot, "failed": self.failed_boot,
                          "interval_95": {k: [float(a), float(b)] for k, (a, b) in self.intervals.items()}},
            "sensitivity": {"source": self.sensitivity_source,
                            **{k: float(v) for k, v in self.sensitivity.items()}},
            "comparison_with_steplaw_paper": self.comparison(),
            "holdout": self.holdout,
            "notes": list(self.notes),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
        }


def _setting_key(n: float, d: float) -> tuple[float, float]:
    return float(f"{n:.4g}"), float(f"{d:.4g}")


def _ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    coef, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    if rank < X.shape[1]:
        raise FitError("Optimal parameters not found: the design is rank deficient.")
    return coef


def _law_coefs(N, D, lr, B) -> np.ndarray:
    lnN, lnD = np.log(N), np.log(D)
    one = np.ones_like(lnN)
    c_lr = _ols(np.column_stack([one, lnN, lnD]), np.log(lr))
    c_b = _ols(np.column_stack([one, lnD]), np.log(B))
    try:
        return np.array([math.exp(c_lr[0]), c_lr[1], c_lr[2], math.exp(c_b[0]), c_b[1]])
    except OverflowError:  # a near-singular design (a resample of two close sizes): no coefficients
        raise FitError("Optimal parameters not found: the prefactor overflows.") from None


#: The fitted settings must span at least this factor in N and in D for an exponent to be fitted.
MIN_SPREAD = 1.25


@dataclass
class _Columns:
    """The sweep table as arrays, with each run's setting index."""

    N: np.ndarray
    D: np.ndarray
    lr: np.ndarray
    B: np.ndarray
    loss: np.ndarray
    held: np.ndarray
    order: list[tuple[float, float]]  # the (N, D) settings, sorted
    gid: np.ndarray  # each run's index into order

    @classmethod
    def of(cls, table, holdout: np.ndarray | None) -> _Columns:
        df = table.frame
        N = df["N"].to_numpy(float)
        D = df["D"].to_numpy(float)
        held = np.zeros(len(df), dtype=bool) if holdout is None else np.asarray(holdout, dtype=bool)
        keys = [_setting_key(n, d) for n, d in zip(N, D, strict=True)]
        order = sorted(set(keys))
        index = {k: i for i, k in enumerate(order)}
        return cls(N=N, D=D, lr=df["lr"].to_numpy(float), B=df["batch_tokens"].to_numpy(float),
                   loss=df["loss"].to_numpy(float), held=held, order=order,
                   gid=np.array([index[k] for k in keys]))


@dataclass
class _Scan:
    """What the per-setting pass found: the settings, the non-diverged and near-best runs, the
    settings whose best run is on the edge of the grid, and how many settings vary each column."""

    settings: list[Setting]
    ok: np.ndarray  # non-diverged
    near: np.ndarray  # within tolerance of the setting's best
    edges: dict[str, list[Setting]]
    varied: dict[str, int]


def _check_options(method: str, n_boot: int, tolerance: float, window: float) -> None:
    if method not in METHODS:
        raise InvalidInputError(f"`method` must be one of {', '.join(METHODS)}, not '{method}'.")
    if n_boot < 0:
        raise InvalidInputError(f"`n_boot` must be >= 0 (0 = no intervals), not {n_boot}.")
    if not (0 < tolerance < 0.5):
        raise InvalidInputError(f"`tolerance` must be in (0, 0.5), e.g. 0.0025; got {tolerance:g}.")
    if not (0 < window < 1):
        raise InvalidInputError(f"`window` must be in (0, 1), e.g. 0.02; got {window:g}.")


def _scan_settings(table, c: _Columns, notes: list[str], *, tolerance: float, window: float,
                   diverged_factor: float) -> _Scan:
    """Per (N, D) setting: its best run, the runs near it, the diverged ones and its local surface."""
    loss, lr, B, held = c.loss, c.lr, c.B, c.held
    finite = np.isfinite(loss) & (loss > 0)
    if not finite.any():
        raise DataError(f"sweep '{table.path}': all {len(loss)} runs diverged (no finite loss > 0).")
    scan = _Scan(settings=[], ok=np.zeros(len(loss), dtype=bool), near=np.zeros(len(loss), dtype=bool),
                 edges={"lr": [], "batch": []}, varied={"lr": 0, "batch": 0, "loss": 0})
    for g, (n, d) in enumerate(c.order):
        rows = np.flatnonzero(c.gid == g)
        fin = rows[finite[rows]]
        if fin.size == 0:
            notes.append(f"setting N={n:.3g}, D={d:.3g}: all {rows.size} runs diverged; dropped.")
            continue
        best = fin[np.argmin(loss[fin])]
        good = fin[loss[fin] <= diverged_factor * loss[best]]
        scan.ok[good] = True
        within = good[loss[good] <= loss[best] * (1 + tolerance)]
        scan.near[within] = True
        part = held[rows]
        if part.any() and not part.all():
            raise InvalidInputError(
                f"`holdout` selects only some runs of the setting N={n:.3g}, D={d:.3g}; it must "
                f"select whole (N, D) settings, e.g. 'N >= 1e9'."
            )
        s = Setting(N=n, D=d, runs=int(rows.size), diverged=int(rows.size - good.size),
                    best_lr=float(lr[best]), best_batch=float(B[best]), best_loss=float(loss[best]),
                    near_best=int(within.size), held_out=bool(part.all()))
        if not part.all():
            for what, values in (("lr", lr), ("batch", B)):
                tried = np.unique(values[good])
                scan.varied[what] += tried.size > 1
                if tried.size > 1 and values[best] in (tried[0], tried[-1]):
                    scan.edges[what].append(s)
            scan.varied["loss"] += bool(np.ptp(loss[good]) > 1e-9 * loss[best])
        try:
            s.surface = fit_surface(lr[good], B[good], loss[good], window=window)
        except FitError as exc:
            s.surface_error = str(exc).replace("Optimal parameters not found: ", "")
        scan.settings.append(s)
    return scan


def _training_settings(table, scan: _Scan, notes: list[str]) -> list[Setting]:
    """The settings fitted on; refused when they cannot determine the law, noted when the grid's
    edge holds a best run."""
    train_settings = [s for s in scan.settings if not s.held_out]
    if not train_settings:
        raise InvalidInputError("`holdout` selects every setting; nothing is left to fit on.")
    if len(train_settings) < 2:
        raise InvalidInputError(
            f"sweep '{table.path}' has one (N, D) setting only (N={train_settings[0].N:.3g}, "
            f"D={train_settings[0].D:.3g}); a law in N and D needs sweeps at several N and D."
        )
    tN = {s.N for s in train_settings}
    tD = {s.D for s in train_settings}
    if len(tN) < 2 or len(tD) < 2:
        which = "N" if len(tN) < 2 else "D"
        raise InvalidInputError(
            f"sweep '{table.path}': every fitted setting has the same {which}; lr* = a N^alpha D^beta "
            f"needs settings at 2+ values of N and 2+ values of D."
        )
    for what, word in (("loss", "the loss does not vary"), ("lr", "only one lr was run"),
                       ("batch", "only one batch size was run")):
        if not scan.varied[what]:
            raise FitError(f"Optimal parameters not found: in every setting {word}, so no optimum in lr "
                           "and batch can be located; sweep lr and batch around their optima in each setting.")
    for what, flag in (("lr", "lr"), ("batch", "batch size")):
        edges = scan.edges[what]
        if edges:
            shown = ", ".join(f"N={e.N:.3g} D={e.D:.3g}" for e in edges[:3])
            notes.append(f"{len(edges)} of {len(train_settings)} settings ran their best {flag} at the edge "
                         f"of the {flag}s they tried ({shown}{' ...' if len(edges) > 3 else ''}): their "
                         f"optimum may lie beyond it; extend the grid there.")
    return train_settings


def _fit_data(method: str, c: _Columns, scan: _Scan, train_settings: list[Setting]) -> tuple[np.ndarray, ...]:
    """The points the law is fitted to: the near-best runs, or one optimum per setting."""
    if method == "near-best":
        sel = np.flatnonzero(~c.held & scan.ok & scan.near)
        data: tuple[np.ndarray, ...] = (c.N[sel], c.D[sel], c.lr[sel], c.B[sel])
    else:
        usable = [s for s in train_settings if s.surface is not None and s.surface.batch_located]
        if len(usable) < 3:
            raise FitError(
                f"Optimal parameters not found: only {len(usable)} settings have a located optimum "
                f"on their local surface (3 needed); try `method` near-best or a wider `window`."
            )
        data = tuple(np.array(v) for v in zip(*[(s.N, s.D, s.surface.lr_opt, s.surface.batch_opt)
                                                 for s in usable if s.surface is not None], strict=True))
    for var, values in (("N", data[0]), ("D", data[1])):
        spread = float(values.max() / values.min())
        if spread < MIN_SPREAD:
            raise FitError(
                f"Optimal parameters not found: the fitted settings' {var} spans only "
                f"{100 * (spread - 1):.2g}% ({values.min():.4g}-{values.max():.4g}), so the exponent in "
                f"{var} is not determined; sweep settings at least {MIN_SPREAD}x apart in {var}."
            )
    return data


def _sweep_coefs(data: tuple[np.ndarray, ...]) -> np.ndarray:
    try:
        return _law_coefs(*data)
    except FitError:
        raise FitError(
            "Optimal parameters not found: N and D of the fitted settings are collinear (e.g. a "
            "fixed tokens-per-parameter ladder); lr* = a N^alpha D^beta needs N and D varied "
            "independently."
        ) from None


def _sweep_intervals(data: tuple[np.ndarray, ...], n_boot: int, seed: int,
                     progress: Callable[[int], None] | None) -> tuple[dict[str, tuple[float, float]], int]:
    """95% bootstrap intervals of the constants (rows resampled; with one row per setting under
    the surface method, that resamples settings) and the number of failed resamples."""
    if n_boot <= 0:
        return {}, 0

    def fit_once(idx: np.ndarray) -> np.ndarray:
        return _law_coefs(*(v[idx] for v in data))

    samples, failed = bootstrap(fit_once, data[0].size, n_boot, seed=seed, groups=None, progress=progress)
    lo, hi = interval(samples)
    return {k: (float(a), float(b)) for k, a, b in zip(COEFS, lo, hi, strict=True)}, failed


def _sweep_sensitivity(train_settings: list[Setting], window: float, notes: list[str]) -> tuple[dict[str, Any], str]:
    """Sensitivity: medians of the surface coefficients over the fitted settings (else the
    published calibration)."""
    bowls = [s.surface for s in train_settings
             if s.surface is not None and s.surface.batch_located and s.surface.is_bowl()]
    if bowls:
        sens = dict(zip(SENS, np.median([[b.a_lo, b.a_hi, b.b_lo, b.b_hi, b.cross] for b in bowls], axis=0),
                        strict=True))
        return sens, f"this sweep: median over {len(bowls)} settings' local surfaces (window {window:.1%})"
    notes.append("no setting's surface located an optimum in lr and batch: the sensitivity is the "
                 "steplaw-sensitivity calibration, not this sweep's.")
    return ({k: getattr(STEPLAW_SENSITIVITY, k) for k in SENS},
            "published calibration (steplaw-sensitivity): no setting of this sweep located its optimum")


def _sweep_law(table, train_settings: list[Setting], coefs: np.ndarray, sens: dict[str, Any], sens_source: str,
               *, method: str, tolerance: float, window: float, n_rows: int, name: str):
    from hpadvisor.laws.base import Provenance

    cls = cast("dict[str, type[FittedSweep]]", BY_PARAM_COUNT["sweep"])[table.param_count]
    fN = [s.N for s in train_settings]
    fD = [s.D for s in train_settings]
    ratios = [s.D / s.N for s in train_settings]
    return cls(
        **dict(zip(COEFS, (float(c) for c in coefs), strict=True)),
        **{k: float(v) for k, v in sens.items()},
        name=name,
        provenance=Provenance(
            citation=f"fitted by hpadvisor on {table.path}",
            source=f"{table.path} (sha256 {table.sha256[:12]}); method {method}"
            + (f", tolerance {tolerance:.2%}" if method == "near-best" else f", window {window:.1%}"),
            fitted_range=(("N", min(fN), max(fN)), ("D", min(fD), max(fD)), ("D/N", min(ratios), max(ratios))),
            notes=f"Step Law form fitted on {len(train_settings)} (N, D) settings, {n_rows} "
            f"{'runs' if method == 'near-best' else 'optima'}; N = {table.param_count} parameters; "
            f"B in tokens. Sensitivity from {sens_source}.",
        ),
    )


def fit_sweep(
    table,
    *,
    method: str = "near-best",
    tolerance: float = 0.0025,
    window: float = WINDOW,
    diverged_factor: float = 1.5,
    n_boot: int = 1000,
    seed: int = 0,
    holdout: np.ndarray | None = None,
    name: str = "steplaw-fit",
    progress: Callable[[int], None] | None = None,
) -> SweepFit:
    """Fit the Step-Law-form laws to ``table`` (from read_fit_table: N, D, lr, batch_tokens, loss)."""
    _check_options(method, n_boot, tolerance, window)
    notes = list(table.notes)
    cols = _Columns.of(table, holdout)
    scan = _scan_settings(table, cols, notes, tolerance=tolerance, window=window, diverged_factor=diverged_factor)
    n_div = int((~scan.ok).sum())
    if n_div:
        notes.append(f"{n_div} diverged runs excluded (loss not finite or above {diverged_factor:g}x "
                     f"their setting's best).")
    train_settings = _training_settings(table, scan, notes)
    data = _fit_data(method, cols, scan, train_settings)
    coefs = _sweep_coefs(data)
    n_rows = data[0].size
    intervals, failed = _sweep_intervals(data, n_boot, seed, progress)
    sens, sens_source = _sweep_sensitivity(train_settings, window, notes)
    law = _sweep_law(table, train_settings, coefs, sens, sens_source, method=method, tolerance=tolerance,
                     window=window, n_rows=n_rows, name=name)
    report = [_holdout_row(law, s) for s in scan.settings if s.held_out]
    excluded = {"diverged": n_div}
    if cols.held.any():
        excluded["held_out"] = int(cols.held.sum())
    return acceptance.accept_sweep(SweepFit(  # refused if not usable; a weak fit carries its warnings
        law=law, method=method, settings=scan.settings, intervals=intervals, n_boot=n_boot,
        failed_boot=failed, sensitivity={k: float(v) for k, v in sens.items()},
        sensitivity_source=sens_source, holdout=report, notes=notes, rows_used=int(n_rows),
        rows_excluded=excluded))


def _holdout_row(law, s: Setting) -> dict[str, Any]:
    """Prediction for a held-out setting, judged by loss regret on that setting's own surface."""
    plr, pB = float(law.lr(s.N, s.D)), float(law.batch_tokens(s.D))
    row: dict[str, Any] = {"N": s.N, "D": s.D, "predicted": {"lr": plr, "batch_tokens": pB},
                           "best_run": {"lr": s.best_lr, "batch_tokens": s.best_batch, "loss": s.best_loss}}
    surf = s.surface
    if surf is not None and surf.batch_located:
        row["surface_optimum"] = {"lr": surf.lr_opt, "batch_tokens": surf.batch_opt}
        row["loss_regret"] = float(surf.regret(plr, pB))
        row["inside_sampled_range"] = surf.inside(plr, pB)
    else:
        row["loss_regret"] = None
        row["note"] = s.surface_error or "no surface in batch: regret not measured"
    return row


def sensitivity_law(fit: SweepFit, name: str):
    """The sweep's sensitivity alone, as a steplaw-sensitivity law (to replace the published one)."""
    from hpadvisor.laws.sensitivity import LossSensitivity

    return LossSensitivity(**fit.sensitivity, name=name,
                           provenance=dataclasses.replace(fit.law.provenance, fitted_range=()))
