"""Whether a fit may be used: one rule for every fit hpadvisor makes (final losses, lr x batch
sweeps, critical batch, loss curves).

A fit that is **not usable** is refused: :class:`FitError`, one line naming why, exit 2, and no law
file written (a law file is written only from an accepted fit):

* a constant is not finite, or absurd: a coefficient beyond 1e30 in size, an exponent beyond 10
  (``io.plausible``, which the law-file reader applies too);
* a constant whose sign the law's form fixes has the other sign (a loss exponent <= 0: the loss
  would not fall with N or D);
* the law explains less than half the variance of what it was fitted to (R^2 below 0.5);
* an estimate lies outside its own 95% bootstrap interval (the resamples disagree with the fit);
* a quantity the law gives is not finite or beyond its bound (a sweep's loss cost of a 2x lr error
  above 100%: the cost is ~0.5% on Step Law's sweeps).

A fit that is usable but **weak** is kept with warnings, written to its law file's
``fit.warnings`` and repeated by every command that reads the file:

* R^2 below 0.9;
* fewer than 3 data points per fitted constant: too few to test the form (R^2 and the intervals
  assume it holds; five random points fit a power law with R^2 > 0.9 about 1 time in 70);
* an exponent whose 95% interval is wider than 1 (its value is not determined by the data);
* a constant with a conventional sign that the fit turned (a sweep's lr falling with D...);
* the fit's own warnings (a constant on a bound of its search range, runs without an lr decay);
* the optimiser stopped at its evaluation limit before converging.  Not a refusal by itself: on the
  Multi-Power-Law 100M runs, constant + cosine lr stops so (the drop's constants are barely
  determined by two runs) yet predicts six held-out runs' final losses within 0.38% on average
  (tests/test_curve_intervals_realdata.py); R^2, the constants and their intervals decide.  The law
  file says ``converged: false`` beside the warning, and the law-file reader accepts
  ``converged: false`` only with a warning that says why.

:func:`judge` applies the rule to an :class:`Evidence`; ``accept_final``, ``accept_sweep``,
``accept_batch`` and ``accept_curves`` gather the evidence of each kind of fit result and return
it with its ``warnings`` set.  They read the results by attribute, so this module imports none of
the fitting modules.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from hpadvisor.errors import FitError
from hpadvisor.io import plausible

R2_FLOOR = 0.5
R2_WEAK = 0.9
POINTS_PER_CONSTANT = 3
MAX_COEFFICIENT = plausible.MAX_COEFFICIENT  # the bounds a law file is read with too (io.plausible)
MAX_EXPONENT = plausible.MAX_EXPONENT
EXPONENT_WIDTH = 1.0
#: A sweep law's predicted loss cost of a 2x lr or batch error above this is not a loss surface.
MAX_SENSITIVITY = 1.0


@dataclass(frozen=True)
class Evidence:
    """What the rule looks at; every field but ``what`` and ``constants`` may be left out."""

    what: str  # "the chinchilla fit": how messages name the fit
    constants: Mapping[str, float]
    exponents: Sequence[str] = ()  # which constants are exponents
    positive: Sequence[str] = ()  # constants the form needs > 0 (refused otherwise)
    expected_sign: Mapping[str, int] = field(default_factory=dict)  # conventional signs (weak otherwise)
    r2: float | None = None
    r2_of: str = "the data"
    r2_floor: float | None = R2_FLOOR
    r2_weak: float = R2_WEAK
    intervals: Mapping[str, Sequence[float]] = field(default_factory=dict)
    converged: bool | None = None
    points: int | None = None
    points_of: str = "points"
    fitted: int | None = None  # constants fitted (default: all)
    derived: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # quantity -> (value, most)
    own_warnings: Sequence[str] = ()
    unpinned: Sequence[str] = ()  # constants the fit left on a bound of their search range
    fix: str = "check the data (units, diverged runs, the right loss column) or give more runs"


def _refuse(e: Evidence, why: str) -> FitError:
    return FitError(f"{e.what} is not usable: {why}; {e.fix}. No law file written.")


def judge(e: Evidence) -> tuple[str, ...]:
    """The warnings of a usable fit (empty when it is sound); :class:`FitError` when it is not usable."""
    for name, value in e.constants.items():
        v = float(value)
        problem = plausible.constant_problem(name, v, exponent=name in e.exponents)
        if problem:
            raise _refuse(e, problem)
        if name in e.positive and not v > 0:
            raise _refuse(e, f"{name} = {v:.4g} must be > 0 (the loss would not fall as it grows)"
                          if name in e.exponents else f"{name} = {v:.4g} must be > 0")
    if e.r2 is not None and e.r2_floor is not None and not (e.r2 >= e.r2_floor):
        shown = f"{e.r2:.3g}" if math.isfinite(e.r2) else str(e.r2)
        raise _refuse(e, f"R^2 {shown} on {e.r2_of}, below {e.r2_floor:g} (the law explains less than half "
                         "of what it was fitted to)")
    for name, (value, most) in e.derived.items():
        if not (math.isfinite(value) and abs(value) <= most):
            raise _refuse(e, f"{name} = {value:.3g}, beyond {most:g}")
    for name, iv in sorted(e.intervals.items(), key=lambda kv: kv[0] not in e.exponents):  # exponents first
        if name not in e.constants or len(iv) != 2:
            continue
        problem = plausible.interval_problem(name, e.constants[name], iv[0], iv[1])
        if problem:
            raise _refuse(e, f"{problem} (the resamples do not agree with the fit)")
    warnings = list(e.own_warnings)
    if e.converged is False:
        warnings.append(f"weak fit: the optimiser stopped before converging, with {', '.join(e.unpinned)} on a bound of "
                        "its search range: the data do not determine it." if e.unpinned else
                        "weak fit: the optimiser stopped at its evaluation limit before converging: the constants "
                        "are near, not at, the best fit.")
    if e.r2 is not None and math.isfinite(e.r2) and e.r2 < e.r2_weak:
        warnings.append(f"weak fit: R^2 {e.r2:.3g} on {e.r2_of} (below {e.r2_weak:g}); predictions from it "
                        "are rough.")
    fitted = len(e.constants) if e.fitted is None else e.fitted
    if e.points is not None and e.points < POINTS_PER_CONSTANT * fitted:
        # Not "the constants are barely determined": the bootstrap intervals say how well they are
        # (Zhang et al.'s 5 models give d_exp 0.468 [0.393, 0.535]); what so few points cannot do is
        # test the form itself, which R^2 and the intervals assume.
        warnings.append(f"weak fit: {e.points} {e.points_of} for {fitted} constants (fewer than "
                        f"{POINTS_PER_CONSTANT} per constant): too few to test the law's form, which its R^2 and "
                        f"intervals take as given; check it on held-out {e.points_of} (`holdout`) or add more.")
    for name in e.exponents:
        span = e.intervals.get(name)
        if span is not None and len(span) == 2 and float(span[1]) - float(span[0]) > EXPONENT_WIDTH:
            warnings.append(f"weak fit: exponent {name}'s 95% interval [{float(span[0]):.3g}, {float(span[1]):.3g}] is "
                            f"wider than {EXPONENT_WIDTH:g}: the data do not determine it.")
    for name, sign in e.expected_sign.items():
        v = float(e.constants.get(name, math.nan))
        if math.isfinite(v) and v * sign <= 0:
            warnings.append(f"weak fit: {name} = {v:.3g}, of the sign no published law has "
                            f"({'> 0' if sign > 0 else '< 0'} expected).")
    return tuple(dict.fromkeys(warnings))  # each once, in order


# -- the fits' evidence --------------------------------------------------------------------------

R = TypeVar("R")


def _safe(f: Any, *args: Any) -> float:
    """A law's output as a float; inf when the arithmetic overflows or fails."""
    try:
        with np.errstate(all="ignore"):
            return float(f(*args))
    except (OverflowError, ZeroDivisionError, ValueError, FloatingPointError):
        return math.inf


def _log_r2(observed: Sequence[float], predicted: Sequence[float]) -> float | None:
    """R^2 of log(predicted) against log(observed); None with fewer than 3 finite positive pairs."""
    y, p = np.asarray(observed, float), np.asarray(predicted, float)
    ok = np.isfinite(y) & np.isfinite(p) & (y > 0) & (p > 0)
    if ok.sum() < 3:
        return None
    ly, lp = np.log(y[ok]), np.log(p[ok])
    ss_tot = float(np.sum((ly - ly.mean()) ** 2))
    if ss_tot <= 0:
        return None
    return 1.0 - float(np.sum((ly - lp) ** 2)) / ss_tot


def _with(result: R, warnings: tuple[str, ...]) -> R:
    return dataclasses.replace(result, warnings=warnings)  # type: ignore[type-var]


#: An irreducible loss E below this fraction of the lowest loss fitted is E = 0, the bound of its range.
E_FLOOR = 1e-6


def accept_final(fit: R) -> R:
    """A final-loss fit (Chinchilla or Kaplan form): the loss exponents must be > 0.

    E = 0 (the fit drives the irreducible loss to the bound of its range, E >= 0) is a weak fit,
    not a refusal: the law is a plain sum of power laws, usable within and near its runs (Porian
    et al.'s long-warmup setups and (Mis)Fitting without its 17m runs are fitted so), but with no
    loss floor it falls without limit beyond them.
    """
    f: Any = fit
    constants = dict(zip(f.names, map(float, f.estimate), strict=True))
    exponents = [n for n in constants if n.startswith("alpha") or n.startswith("beta")]
    # E, A, B (N_c, D_c) and the loss exponents; beta_exp_n (how the data exponent changes with N) has either sign
    positive = [n for n in constants if n != "beta_exp_n"]
    intervals = dict(f.intervals())
    own = list(getattr(f, "warnings", ()))
    E = constants.get("E")
    if E is not None and 0 <= E < E_FLOOR * float(np.min(f.ladder.loss)):
        positive.remove("E")
        intervals.pop("E", None)  # an estimate on its bound: a percentile interval need not hold it
        own.append(f"weak fit: E = {E:.3g}, the irreducible loss, is on the bound of its range (E >= 0): these runs "
                   "show no loss floor, so the law falls without limit beyond them and its predictions far above "
                   "the largest run are likely too low.")
    e = Evidence(what=f"the {type(f.law).key} fit", constants=constants, exponents=exponents,
                 positive=positive, r2=float(f.quality.get("r2", math.nan)),
                 r2_of=f"the {f.ladder.loss.size} runs' losses", intervals=intervals,
                 points=int(f.ladder.loss.size), points_of="runs", own_warnings=tuple(own))
    return _with(fit, judge(e))


def accept_sweep(fit: R) -> R:
    """An lr x batch sweep fit: the law's optima against each setting's (log R^2, a warning only:
    a sweep's grid makes the measured optima coarse), and its loss-cost sensitivity bounded."""
    f: Any = fit
    law = f.law
    names = ("lr_coef", "lr_exp_n", "lr_exp_d", "bs_coef", "bs_exp_d")
    constants = {k: float(getattr(law, k)) for k in names}
    used = [s for s in f.settings if not s.held_out]
    if f.method == "near-best":
        lr_seen = [s.best_lr for s in used]
        bs_seen = [s.best_batch for s in used]
    else:
        lr_seen = [s.surface.lr_opt if s.surface is not None else math.nan for s in used]
        bs_seen = [s.surface.batch_opt if s.surface is not None and s.surface.batch_located else math.nan
                   for s in used]
    r2s = [r for r in (_log_r2(lr_seen, [_safe(law.lr, s.N, s.D) for s in used]),
                       _log_r2(bs_seen, [_safe(law.batch_tokens, s.D) for s in used])) if r is not None]
    sens = {f"the loss cost of {k.replace('_', ' ')}": (_safe(getattr(law, k)), MAX_SENSITIVITY)
            for k in ("lr_2x_high", "lr_2x_low", "batch_2x_high", "batch_2x_low")}
    e = Evidence(what="the sweep fit", constants=constants, exponents=("lr_exp_n", "lr_exp_d", "bs_exp_d"),
                 positive=("lr_coef", "bs_coef"), expected_sign={"lr_exp_n": -1, "bs_exp_d": 1},
                 r2=min(r2s) if r2s else None, r2_of=f"the {len(used)} settings' best lr and batch (log)",
                 r2_floor=None, r2_weak=R2_FLOOR, intervals=dict(f.intervals), points=len(used),
                 points_of="(N, D) settings", fitted=3, derived=sens,
                 own_warnings=tuple(getattr(f, "warnings", ())),
                 fix="the sweep is too noisy or too sparse for it: widen the local surfaces (`window`), use "
                     "`method` near-best, or add runs")
    return _with(fit, judge(e))


def accept_batch(fit: R) -> R:
    """A critical-batch fit: the power law against each model's own critical batch (log R^2)."""
    f: Any = fit
    law = f.law
    constants = {"coef": float(law.coef), "d_exp": float(law.d_exp), "n_exp": float(law.n_exp)}
    used = [m for m in f.models if not m.held_out]
    r2 = _log_r2([m.b_crit for m in used], [_safe(law.critical_batch_tokens, m.N, m.D if m.D is not None else m.N)
                                             for m in used])
    fitted = 1 + int(constants["d_exp"] != 0) + int(constants["n_exp"] != 0)
    e = Evidence(what="the critical-batch fit", constants=constants, exponents=("d_exp", "n_exp"),
                 positive=("coef",), r2=r2, r2_of=f"the {len(used)} models' critical batches (log)",
                 intervals=dict(f.intervals), points=len(used), points_of="models", fitted=fitted,
                 own_warnings=tuple(getattr(f, "warnings", ())))
    return _with(fit, judge(e))


#: How a curve fit says a constant ended on a bound of its search range (``curves.at_bounds``).
_AT_BOUND = re.compile(r"^(\w+) = \S+ is at the (?:lower|upper) bound of its range")


def accept_curves(fit: R) -> R:
    """A loss-curve fit: R^2 of its worst-fitted run (a flat run's R^2, undefined, is not judged)."""
    f: Any = fit
    constants = {k: float(v) for k, v in f.law.constants().items()}
    r2s = [float(r.r2) for r in f.runs if not math.isnan(float(r.r2))]
    unpinned = [m.group(1) for w in f.warnings if (m := _AT_BOUND.match(w))]
    if not r2s:
        raise _refuse(Evidence(what=f"the {type(f.law).key} fit", constants={}),
                      "no run's loss varies (R^2 undefined on every run): there is nothing to fit")
    worst = min(r2s)
    name = next((r.name for r in f.runs if float(r.r2) == worst), "")
    # the worst run's misfit comes from its first steps (a refit without them is usable): say so, and how to fit so
    early = (getattr(f, "early_misfit", None) or {}).get(name, "")
    e = Evidence(what=f"the {type(f.law).key} fit", constants=constants,
                 exponents=[k for k in constants if plausible.is_exponent(k, type(f.law).key)],
                 r2=worst, r2_of=f"run {name}" if name else "the runs", converged=bool(f.converged),
                 intervals=dict(f.intervals), points=sum(int(r.points) for r in f.runs), points_of="loss points",
                 fitted=len(constants) - len(getattr(f, "fixed", {}) or {}),
                 own_warnings=tuple(f.warnings), unpinned=unpinned,
                 fix=early or "check that each log's lr is the one it ran with (unscaled) and that the loss is per token")
    return _with(fit, judge(e))
