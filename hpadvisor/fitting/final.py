"""Fit L(N, D) to a team's final losses: the Chinchilla form the Epoch way, or Kaplan's form.

Chinchilla, following Besiroglu et al. (2024): L = E + A/N^alpha + B/D^beta in log-sum-exp form,
log L = LSE(a - alpha ln N, b - beta ln D, e) with A = e^a, B = e^b, E = e^e, fitted by the
Huber loss (delta 1e-3) on log L from a grid of starts (hpadvisor.fitting.core), then a bootstrap
over runs for parameter intervals, prediction intervals (parameter spread times the fit's own
relative residuals) and the compute-optimal allocation's interval.

Which points a fit used is part of its result: rows with a non-finite or non-positive loss are
dropped and counted; ``drop_highest_loss`` removes the K highest-loss runs, as Epoch did (their
five highest-loss runs, where training was shortest, pull B six-fold: Besiroglu et al. 2024, arXiv:2404.10102).

Outliers: after a first fit, the runs that stand apart are left out, listed, and the law refitted
once; ``outlier_sigma`` 0 keeps every run.  With z a run's |log-loss residual| in robust standard
deviations (1.4826 x the median absolute deviation of the residuals, at least 1e-4), sorted in
decreasing order, the first k runs are left out for the largest k with z_(k) > ``outlier_sigma``
(default 10) and z_(k) >= OUTLIER_GAP (1.5) x z_(k+1): the smallest residual left out is at least
1.5x the largest one kept.  A threshold that cuts through a continuum of residuals would cut the
form's misfit of a regime, not a broken run: on (Mis)Fitting's ladder the three 100-step runs sit
at 11.0, 9.8 and 8.8 sd, and none is left out.  On Epoch's 245 Chinchilla runs four runs are left
out, 13-45 robust sd above the fit (3.7-5.0 nats: large models stopped after 0.25-0.7B tokens);
the next largest residual is 6.1 sd, so any threshold from 6.2 to 13 gives the same fit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from hpadvisor.errors import DataError, FitError, HpAdvisorError, InvalidInputError
from hpadvisor.fitting import acceptance, core, lnd_forms
from hpadvisor.laws.base import Provenance
from hpadvisor.laws.loss import CHINCHILLA_EPOCH, KAPLAN

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


# Epoch's grid of initialisations (their notebook: e, a, b, alpha, beta over coarse ranges).
_GRID = (np.arange(0, 30, 5.0), np.arange(0, 30, 5.0), np.arange(-1, 1.5, 0.5),
         np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5))
_COARSE = (np.array([0, 10, 20.0]), np.array([0, 10, 20.0]), np.array([-1, 0, 1.0]),
           np.array([0.2, 0.5, 1.0]), np.array([0.2, 0.5, 1.0]))


def fit_chinchilla_params(N, D, loss, *, starts=None, delta: float = 1e-3) -> np.ndarray:
    """(E, A, B, alpha, beta) minimising the Huber loss of log L over ``starts`` (LSE form; default
    the 243-point grid)."""
    return lnd_forms.fit_chinchilla_params(N, D, loss, starts=starts or core.grid_starts(*_COARSE), delta=delta)


def _from_constants(c: np.ndarray) -> np.ndarray:
    E, A, B, al, be = c
    # a constant that underflowed to 0 (E = 0, on its bound) starts from e^-690, not ln 0 = -inf
    E, A, B = (max(float(x), 1e-300) if x == 0 else x for x in (E, A, B))
    with np.errstate(divide="ignore", invalid="ignore"):  # a negative constant: nan, a start the fit skips
        return np.array([np.log(A), np.log(B), np.log(E), al, be])


NDEXP_NAMES = lnd_forms.NDEXP_NAMES
#: The forms ``fit final`` fits (``auto``: the rule of fitting.lnd_forms chooses chinchilla or chinchilla-ndexp).
FORMS = ("auto", "chinchilla", "chinchilla-ndexp", "kaplan")
#: The forms whose spread enters the prediction interval (each fitted on every run).
SPREAD_FORMS = ("chinchilla", "chinchilla-ndexp", "kaplan")


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
    form: str = "chinchilla"
    selection: dict[str, Any] | None = None  # the default's rule and its evidence (form auto)
    forms: dict[str, dict[str, float]] | None = None  # every spread form's constants, fitted on every run

    def intervals(self, level: float = 0.95) -> dict[str, list[float]]:
        if len(self.samples) < 2:
            return {}
        lo, hi = core.interval(self.samples, level)
        # a constant on the bound of its range (E = 0): its interval reaches the bound
        lo = np.where(self.estimate == 0, np.minimum(lo, 0.0), lo)
        return {n: [float(a), float(b)] for n, a, b in zip(self.names, lo, hi, strict=True)}

    def _law_from(self, vec: np.ndarray):
        return dataclasses.replace(self.law, **dict(zip(self.names, map(float, vec), strict=True)))

    def allocation(self, C: float, level: float = 0.95) -> dict[str, Any]:
        """Compute-optimal N and D at budget C (C = 6ND) with bootstrap intervals."""
        if not hasattr(self.law, "optimal_params"):
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
            "form": self.form,
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
        for key in ("holdout", "selection", "forms"):
            if getattr(self, key) is not None:
                info[key] = getattr(self, key)
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
#: A run left out stands apart: its residual is at least this multiple of the largest one kept (module notes).
OUTLIER_GAP = 1.5


def _check_ladder(ladder: Ladder, form: str) -> None:
    """A ladder a ``form`` fit can use, else DataError naming what is missing."""
    n = ladder.loss.size
    k = {"chinchilla": 5, "chinchilla-ndexp": 6, "kaplan": 4}.get(form, 5)
    if n <= min(k, 5):
        left_out = "".join(f"; {v} left out: {why}" for why, v in ladder.dropped.items())
        raise DataError(f"{n} runs for {k} parameters{left_out}: a {form} fit needs more runs than parameters.")
    if np.unique(np.stack([ladder.N, ladder.D]), axis=1).shape[1] < 2:
        raise DataError("every run has the same (N, D): give runs at several model and data sizes.")
    if np.unique(ladder.N).size < 2 or np.unique(ladder.D).size < 2:
        raise DataError("the runs vary only one of N and D: L(N, D) needs both to vary.")
    if np.ptp(ladder.loss) <= 1e-9 * float(np.max(ladder.loss)):
        raise DataError(f"every run's loss is {ladder.loss[0]:g}: a law of how the loss falls with N and D "
                        "needs losses that differ (is the loss column the right one?).")
    if n <= k:
        raise DataError(f"{n} runs for {k} parameters: a {form} fit needs more runs than parameters.")


def _fitter(form: str, ladder: Ladder, starts: list | None) -> tuple[np.ndarray, Callable, tuple[str, ...], Any]:
    """(estimate, refit on rows idx warm-started from it, constant names, the form's base law)."""
    from hpadvisor.laws.fitted_forms import ChinchillaNDExp

    N, D, L = ladder.N, ladder.D, ladder.loss
    if form == "chinchilla":
        est = fit_chinchilla_params(N, D, L, starts=starts or core.grid_starts(*_COARSE))
        warm = [_from_constants(est)]
        return est, lambda idx: fit_chinchilla_params(N[idx], D[idx], L[idx], starts=warm), CHINCHILLA_NAMES, \
            CHINCHILLA_EPOCH
    if form == "chinchilla-ndexp":
        est = lnd_forms.fit_ndexp(N, D, L, starts=starts)
        warm_nd = [lnd_forms.ndexp_params(est)]
        return est, lambda idx: lnd_forms.fit_ndexp(N[idx], D[idx], L[idx], starts=warm_nd), NDEXP_NAMES, \
            ChinchillaNDExp()
    if form == "kaplan":
        est = _fit_kaplan(N, D, L)
        return est, lambda idx: _fit_kaplan(N[idx], D[idx], L[idx], start=est), KAPLAN_NAMES, KAPLAN
    raise InvalidInputError(f"unknown final-loss form '{form}'. Use {', '.join(FORMS)}.")


def _residual_z(ladder: Ladder, first) -> np.ndarray:
    """Each run's ln residual from the first fit ``first``, in robust sd (1.4826 x the median absolute
    deviation, floored at 1e-4: 0.01% of the loss, below a logged loss's precision, so exact data has
    no outliers)."""
    with np.errstate(all="ignore"):  # absurd first-fit constants (random losses) overflow: no outliers then
        r = np.log(ladder.loss) - np.log(np.asarray(first.loss(ladder.N, ladder.D), float))
    return r / max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 1e-4)


def _outliers(ladder: Ladder, first, outlier_sigma: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The runs' residuals from a first fit in robust sd (:func:`_residual_z`) and the mask of those
    whose residual exceeds ``outlier_sigma`` robust sd and stands apart (:func:`left_out`, module
    notes), or None when there are none to leave out."""
    if not outlier_sigma or ladder.loss.size < OUTLIER_MIN_RUNS:
        return None
    z = _residual_z(ladder, first)
    out = left_out(z, outlier_sigma)
    return (z, out) if out.any() and (~out).sum() > 5 else None


def left_out(z: np.ndarray, outlier_sigma: float) -> np.ndarray:
    """The runs the outlier rule leaves out, given their residuals ``z`` in robust sd: the first k by
    |z|, for the largest k with |z|_(k) > ``outlier_sigma`` and |z|_(k) >= OUTLIER_GAP |z|_(k+1)."""
    a = np.abs(np.asarray(z, float))
    order = np.argsort(-a, kind="stable")
    s = np.append(a[order], 0.0)
    k = max((i + 1 for i in range(a.size) if s[i] > outlier_sigma and s[i] >= OUTLIER_GAP * s[i + 1]), default=0)
    out = np.zeros(a.size, bool)
    out[order[:k]] = True
    return out


def _without_outliers(ladder: Ladder, z: np.ndarray, out: np.ndarray, outlier_sigma: float) -> Ladder:
    """``ladder`` without the runs ``out`` (from :func:`_outliers`), listed in its source with their ``z``."""
    listed = [{"N": float(a), "D": float(b), "loss": float(c), "robust_sd": float(s)}
              for a, b, c, s in zip(ladder.N[out], ladder.D[out], ladder.loss[out], z[out], strict=True)]
    why = (f"outliers: |log residual| > {outlier_sigma:g} robust sd of a first fit and >= {OUTLIER_GAP:g}x every "
           "run kept (`outlier_sigma`)")
    return dataclasses.replace(ladder.subset(~out), dropped={**ladder.dropped, why: int(out.sum())},
                               source={**ladder.source, "outliers": listed})


def _make_law(form: str, ladder: Ladder, base, constants: dict[str, float], name: str):
    """The fitted law: the form's class for the ladder's parameter count, with its provenance."""
    from hpadvisor.laws.fitted_forms import BY_PARAM_COUNT

    rng = {"N": (float(ladder.N.min()), float(ladder.N.max())), "D": (float(ladder.D.min()), float(ladder.D.max()))}
    C = 6 * ladder.N * ladder.D
    fitted_range = (("N", *rng["N"]), ("D", *rng["D"])) + ((("C", float(C.min()), float(C.max())),)
                                                          if form != "kaplan" else ())
    form_of = base.provenance.citation if base.provenance.citation else type(base).title
    prov = Provenance(
        citation=f"fitted by hpadvisor on {ladder.source['file']} ({ladder.source['rows_used']} runs, "
        f"N = {ladder.param_count} parameters)",
        source=f"sha256 {ladder.source['sha256'][:16]}...; form of {form_of}",
        fitted_range=fitted_range,
        notes="; ".join(f"dropped {v}: {k}" for k, v in ladder.dropped.items()),
    )
    # The form records which parameter count N is, so `recommend --laws` feeds it the same one; a
    # Kaplan fit is its loss only (its lr and critical-batch constants are not fitted here).
    cls = BY_PARAM_COUNT[form][ladder.param_count]
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    return cls(**{**fields, **constants, "name": name, "provenance": prov})


def fit_final(ladder: Ladder, *, form: str = "auto", bootstrap: int = 200, seed: int = 0,
              name: str | None = None, holdout: Ladder | None = None,
              progress: Callable[[int], None] | None = None, starts: list | None = None,
              outlier_sigma: float = OUTLIER_SIGMA, split_along: str = "N") -> FinalFit:
    """Fit ``form`` (auto, the default as in ``fit final``; chinchilla, chinchilla-ndexp or kaplan) to
    ``ladder`` with a bootstrap over runs.

    ``auto`` applies the default's rule (fitting.lnd_forms.select_margin, along ``split_along``: N or
    C) and fits the chosen form; every form of SPREAD_FORMS is fitted on the same runs too, for the
    prediction interval.  ``starts`` replaces the chosen form's default starts (LSE parameters);
    each bootstrap refit starts from the full-data optimum.  ``outlier_sigma``: see the module notes.
    """
    if not (outlier_sigma == 0 or 3 <= outlier_sigma < np.inf):
        raise InvalidInputError(f"`outlier_sigma` must be 0 (keep every run) or at least 3, not {outlier_sigma:g}.")
    if form not in FORMS:
        raise InvalidInputError(f"unknown final-loss form '{form}'. Use {', '.join(FORMS)}.")
    lnd_forms.axis_values(ladder.N[:1], ladder.D[:1], split_along)  # `split_along` checked before any fit
    ladder = dataclasses.replace(ladder, source={**ladder.source, "rows_used": int(ladder.loss.size)})
    name = name if name is not None else f"{form}@fit"  # auto@fit becomes FORM@fit, the form chosen
    kw = dict(bootstrap=bootstrap, seed=seed, name=name, holdout=holdout, progress=progress, starts=starts)
    if form == "auto":
        return _fit_auto(ladder, outlier_sigma=outlier_sigma, split_along=split_along, **kw)
    _check_ladder(ladder, form)
    est, once, names, base = _fitter(form, ladder, starts)
    if not np.all(np.isfinite(est)):
        raise FitError("Optimal parameters not found: the fit did not converge to finite values.")
    constants = dict(zip(names, map(float, est), strict=True))
    found = _outliers(ladder, dataclasses.replace(base, **constants), outlier_sigma)
    if found is not None:
        fit = fit_final(_without_outliers(ladder, *found, outlier_sigma), form=form, outlier_sigma=0, **kw)
        q_all, _ = _quality(fit.law, ladder)
        return dataclasses.replace(fit, quality={**fit.quality, "including_outliers": q_all})
    law = _make_law(form, ladder, base, constants, name)
    quality, rel = _quality(law, ladder)
    fit = FinalFit(law=law, names=names, estimate=est, samples=np.empty((0, len(names))), failed_resamples=0,
                   residuals=rel, quality=quality, ladder=ladder, form=form)
    acceptance.accept_final(fit)  # a point fit that is not usable is refused before its bootstrap (random losses: 55 s)
    if bootstrap > 0:
        samples, failed = core.bootstrap(once, ladder.loss.size, bootstrap, seed=seed, progress=progress)
        fit = dataclasses.replace(fit, samples=samples, failed_resamples=failed)
    if holdout is not None and holdout.loss.size:
        q, _ = _quality(law, holdout)
        fit = dataclasses.replace(fit, holdout={"rows": int(holdout.loss.size), **q})
    return acceptance.accept_final(fit)  # refused if not usable; a weak fit carries its warnings


def _fit_auto(ladder: Ladder, *, outlier_sigma: float, split_along: str, **kw: Any) -> FinalFit:
    """The default: the rule's form (chinchilla if the chosen chinchilla-ndexp is refused), and the
    spread forms fitted on the same runs."""
    _check_ladder(ladder, "chinchilla")
    sel = lnd_forms.select_margin(ladder.N, ladder.D, ladder.loss, split_along)
    selection = sel.info()
    try:
        fit = fit_final(ladder, form=sel.chosen, outlier_sigma=outlier_sigma, **kw)
    except (FitError, DataError) as exc:
        if sel.chosen == "chinchilla":
            raise
        selection = {**selection, "chosen": "chinchilla", "fallback": f"chinchilla-ndexp was refused: {exc}"}
        fit = fit_final(ladder, form="chinchilla", outlier_sigma=outlier_sigma, **kw)
    forms = {fit.form: dict(zip(fit.names, map(float, fit.estimate), strict=True))}
    used = fit.ladder
    for other in SPREAD_FORMS:
        if other in forms:
            continue
        fit_form, names = _SPREAD_FITS[other]
        try:
            est = fit_form(used.N, used.D, used.loss)
        except FitError:
            continue
        if np.all(np.isfinite(est)):
            forms[other] = dict(zip(names, map(float, est), strict=True))
    name = str(kw.get("name", ""))
    if name.startswith("auto@"):  # the default name says the form chosen
        fit = dataclasses.replace(fit, law=dataclasses.replace(fit.law, name=fit.form + name[len("auto"):]))
    return dataclasses.replace(fit, selection=selection, forms=forms)


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


#: Each spread form's fit on the runs the chosen form used (default starts) and its constants' names.
_SPREAD_FITS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...]]] = {
    "chinchilla": (lnd_forms.fit_chinchilla_params, CHINCHILLA_NAMES),
    "chinchilla-ndexp": (lnd_forms.fit_ndexp, NDEXP_NAMES),
    "kaplan": (_fit_kaplan, KAPLAN_NAMES),
}


# -- prediction with an interval -----------------------------------------------------------------

#: The stated level of `predict`'s interval for a final-loss law.
LEVEL = 0.90
#: The interval's extrapolation term is (C_INNER e_in (1 + d))^2: e_in the chosen form's mean relative
#: error on the user's own inner split (``--law auto``), d the extrapolation distance, C_INNER =
#: sqrt(pi/2) fixed in advance (a normal error's sd over its mean absolute value), not fitted.  On four
#: development ladders (Epoch's Chinchilla points, Porian et al.'s tuned setup, Gemstones, (Mis)Fitting)
#: the stated 90% interval held 98% of 446 held-out losses (94, 100, 100, 100%), median half-width
#: 5.3% (benchmarks/lnd_default.py; lnd_extrapolate.md, method C).  K_DISTANCE (k d, method A,
#: calibrated leave-one-dataset-out: 76%) is kept at 0.
K_DISTANCE = 0.0
C_INNER = 1.2533141373155001


def _form_law(form: str, constants: dict[str, float]):
    """A bare law of ``form`` with ``constants`` (for the spread across forms)."""
    from hpadvisor.laws.fitted_forms import ChinchillaNDExp

    base = {"chinchilla": CHINCHILLA_EPOCH, "chinchilla-ndexp": ChinchillaNDExp(), "kaplan": KAPLAN}[form]
    return dataclasses.replace(base, **constants)


def extrapolation_distance(law, N: float, D: float) -> dict[str, Any]:
    """The largest N and D the law was fitted on against the requested ones, and
    d = ln+(N / largest N) + ln+(D / largest D) (0 inside the fitted range)."""
    ranges = law.provenance.range_dict()
    n_max = ranges.get("N", (math.nan, math.nan))[1]
    d_max = ranges.get("D", (math.nan, math.nan))[1]
    d = sum(max(0.0, math.log(x / top)) for x, top in ((N, n_max), (D, d_max)) if math.isfinite(top) and top > 0)
    return {"N": N, "D": D, "largest_fitted_N": n_max, "largest_fitted_D": d_max, "distance": d}


def _bootstrap_sd(law, fit: dict[str, Any], N: float, D: float) -> tuple[float | None, str]:
    """Standard deviation of ln L over the recorded bootstrap refits, or (None, why not)."""
    boot = fit.get("bootstrap") or {}
    samples = np.asarray(boot.get("samples") or [], float)
    estimate = fit.get("estimate") or {}
    # The samples' columns: recorded since 2026-12-01; before, the fit's own parameter order (a
    # re-saved file may have sorted the estimate's keys, so never their order).
    names = tuple(boot.get("columns") or next((n for n in (CHINCHILLA_NAMES, KAPLAN_NAMES, NDEXP_NAMES)
                                                if set(n) == set(estimate)), ()))
    if samples.ndim != 2 or samples.shape[0] < 2 or not names or samples.shape[1] != len(names):
        return None, "no bootstrap in the law file: refit with `bootstrap` N for an interval"
    edited = [n for n in names if not math.isclose(float(getattr(law, n, math.nan)), float(estimate.get(n, math.nan)),
                                                   rel_tol=1e-9)]
    if edited:
        return None, (f"no interval: the law's {', '.join(edited)} {'differs' if len(edited) == 1 else 'differ'} "
                      "from the fitted estimate the bootstrap belongs to (an edited law file).")
    with np.errstate(all="ignore"):
        preds = np.array([float(dataclasses.replace(law, **dict(zip(names, map(float, row), strict=True))).loss(N, D))
                          for row in samples])
    preds = preds[np.isfinite(preds) & (preds > 0)]
    return (float(np.std(np.log(preds), ddof=1)) if preds.size >= 2 else None), "every bootstrap refit overflowed"


def _form_spread(fit: dict[str, Any], N: float, D: float) -> tuple[float, dict[str, float]]:
    """Standard deviation of ln L across the recorded forms (0 with fewer than two), and each form's loss."""
    by_form: dict[str, float] = {}
    for form, constants in (fit.get("forms") or {}).items():
        if form in SPREAD_FORMS and isinstance(constants, dict):
            try:
                with np.errstate(all="ignore"):
                    v = float(_form_law(form, {k: float(x) for k, x in constants.items()}).loss(N, D))
            except (TypeError, ValueError, HpAdvisorError):
                continue
            if math.isfinite(v) and v > 0:
                by_form[form] = v
    logs = np.log(list(by_form.values()))
    return (float(np.std(logs, ddof=1)) if logs.size >= 2 else 0.0), by_form


def inner_error(fit: dict[str, Any]) -> float:
    """The chosen form's mean relative error on the user's own inner split (``--law auto``), else 0."""
    sel = fit.get("selection") or {}
    try:
        v = float((sel.get("inner_error") or {}).get(sel.get("chosen"), 0.0) or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) and v > 0 else 0.0


def predict_with_fit(law, fit: dict[str, Any], N: float, D: float, level: float = LEVEL,
                     k_distance: float | None = None, c_inner: float | None = None) -> dict[str, Any]:
    """Loss at (N, D) with a ``level`` prediction interval from a law file's fit section.

    Half-width in ln L: z sqrt(s_b^2 + s_f^2 + s_r^2 + (k d)^2 + (c e_in (1 + d))^2); s_b the bootstrap refits' spread,
    s_f the spread across the recorded forms (fit.forms), s_r the robust sd (1.4826 MAD) of the fit's
    ln residuals, d the extrapolation distance (``extrapolation_distance``), k = K_DISTANCE (0), and
    (C_INNER e_in (1 + d))^2 with e_in the user's own inner-split error (``inner_error``).
    """
    from statistics import NormalDist

    point = float(law.loss(N, D))
    dist = extrapolation_distance(law, N, D)
    out: dict[str, Any] = {"loss": point, "interval": None, "level": level, "form": fit.get("form", type(law).key),
                           "extrapolation": dist}
    s_b, why = _bootstrap_sd(law, fit, N, D)
    if s_b is None:
        return {**out, "note": why}
    if inner_error(fit) == 0 and (C_INNER if c_inner is None else c_inner) > 0:
        out["note"] = ("the law file holds no inner-split error (fitted with a form other than auto): the interval has "
                       "no extrapolation term and is too narrow far from the runs; refit with the default form")
    s_f, by_form = _form_spread(fit, N, D)
    res = np.log1p(np.asarray(fit.get("residuals") or [], float))
    res = res[np.isfinite(res)]
    s_r = 1.4826 * float(np.median(np.abs(res - np.median(res)))) if res.size else 0.0
    k = K_DISTANCE if k_distance is None else k_distance
    c = C_INNER if c_inner is None else c_inner
    s_d, s_x = k * dist["distance"], c * inner_error(fit) * (1 + dist["distance"])
    half = NormalDist().inv_cdf(0.5 + level / 2) * math.sqrt(s_b**2 + s_f**2 + s_r**2 + s_d**2 + s_x**2)
    out["interval"] = [point * math.exp(-half), point * math.exp(half)]
    out["spread"] = {"bootstrap": s_b, "forms": s_f, "residuals": s_r, "distance": s_d, "inner_split": s_x}
    if by_form:
        out["by_form"] = by_form
    return out
