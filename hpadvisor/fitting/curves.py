"""Fitting the curve laws (multi-power, LR-annealing) to logged loss curves.

The objective is the shared one (:func:`hpadvisor.fitting.core.huber_log_fit`: Huber, delta 1e-3,
on log loss, several starts), as both papers fit (Luo et al. 2025; Tissue et al. 2024).  Each run brings its own
per-step lr sequence; the loss-drop terms of the multi-power law are planned once per run
(:class:`hpadvisor.laws.curves.DropPlan`) and the Jacobian is analytic, so one fit on three
curves of ~24k steps takes about a second.  A parameter bootstrap resamples whole runs' points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hpadvisor.errors import FitError, InvalidInputError
from hpadvisor.fitting import acceptance
from hpadvisor.fitting.core import FitResult, bootstrap, huber_log_fit, interval
from hpadvisor.laws.base import Provenance
from hpadvisor.laws.curves import (
    BY_NAME,
    WARMUP_FORMS,
    AnnealingLaw,
    ConvPlan,
    DropPlan,
    MultiPowerLaw,
    NoiseConvolutionLaw,
    annealing_area,
    apply_warmup,
    check_sequence,
    check_steps,
    lowest_lr,
    warmup_end,
)


@dataclass(frozen=True)
class Curve:
    """One training run: its per-step lr (index = step) and the logged loss at some steps."""

    name: str
    lr: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        lr = check_sequence(self.lr, f"run '{self.name}'")
        steps = check_steps(self.steps, lr.size - 1, f"run '{self.name}'")
        loss = np.asarray(self.loss, dtype=float)
        if loss.shape != steps.shape:
            raise InvalidInputError(f"run '{self.name}': {steps.size} steps but {loss.size} losses.")
        if np.any(~np.isfinite(loss)) or np.any(loss <= 0):
            raise InvalidInputError(f"run '{self.name}': losses must be finite and > 0.")
        object.__setattr__(self, "lr", lr)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "loss", loss)


@dataclass(frozen=True)
class RunQuality:
    name: str
    points: int
    r2: float
    mean_rel_error: float
    max_rel_error: float
    final_rel_error: float

    def to_dict(self) -> dict:
        """Plain values; R^2 of a flat curve (no variance to explain) is None, not NaN."""
        return {k: ((float(v) if np.isfinite(v) else None) if isinstance(v, (float, np.floating)) else v)
                for k, v in dataclasses.asdict(self).items()}


def quality(name: str, pred: np.ndarray, loss: np.ndarray) -> RunQuality:
    rel = pred / loss - 1.0
    ss_res = float(np.sum((pred - loss) ** 2))
    ss_tot = float(np.sum((loss - loss.mean()) ** 2))
    return RunQuality(
        name=name, points=int(loss.size), r2=1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        mean_rel_error=float(np.mean(np.abs(rel))), max_rel_error=float(np.max(np.abs(rel))),
        final_rel_error=float(rel[-1]),
    )


@dataclass(frozen=True)
class CurveFit:
    """A fitted curve law with its per-run fit quality and (optional) bootstrap intervals."""

    law: MultiPowerLaw | AnnealingLaw
    runs: tuple[RunQuality, ...]
    objective: float
    converged: bool
    n_starts: int
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    n_boot: int = 0
    fixed: dict[str, float] = field(default_factory=dict)
    method: str = "converged"
    stopped: str = ""
    warnings: tuple[str, ...] = ()
    selection: dict = field(default_factory=dict)
    #: the bootstrap's parameter vectors (one row per resample, columns as ``intervals``' keys)
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: runs left out of the fit and predicted from their lr alone (``holdout``)
    holdout: tuple[RunQuality, ...] = ()
    #: runs whose points were thinned for the fit: name -> (points logged, points fitted)
    thinned: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: runs with loss points inside their warmup, not fitted: name -> (points, warmup end step)
    in_warmup: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the first step whose loss was fitted (``from_step``; None: every point after the warmup)
    from_step: int | None = None
    #: runs with loss points before ``from_step``, not fitted: name -> points
    before_from: dict[str, int] = field(default_factory=dict)
    #: runs whose misfit comes from their first steps: name -> what to do (:func:`_early_refit`)
    early_misfit: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def notes(self) -> tuple[str, ...]:
        """What was done to the data before fitting (said with the result)."""
        return tuple(f"run {name}: {n:,} loss point{'s' if n > 1 else ''} before step {self.from_step:,} "
                     "(`from_step`) not fitted" for name, n in self.before_from.items()
                     ) + self._warmup_notes() + tuple(f"run {name}: {n:,} loss points, fitted as its first and last and {m - 2:,} means of "
                               f"{(n - 2) / (m - 2):.3g} consecutive points between (`max_points`)"
                               for name, (n, m) in self.thinned.items())

    def _warmup_notes(self) -> tuple[str, ...]:
        """The loss points not fitted because they lie inside their run's warmup: one line per
        (points, warmup end), naming every run it holds for ("2 runs (a, b): ...")."""
        runs: dict[tuple[int, int], list[str]] = {}
        for name, (n, w) in self.in_warmup.items():
            runs.setdefault((n, w), []).append(name)
        return tuple((f"run {names[0]}: " if len(names) == 1 else f"{len(names)} runs ({', '.join(names)}): ")
                     + f"{n:,} loss point{'s' if n > 1 else ''}{' each' if len(names) > 1 else ''} before the "
                     f"warmup ends (step {w:,}, where the lr's initial rise ends) not fitted: the laws describe "
                     "the loss after the warmup" for (n, w), names in runs.items())

    def holdout_summary(self) -> dict:
        """Mean over the held-out runs of each run's mean relative error, and the worst final point."""
        if not self.holdout:
            return {}
        worst = max(self.holdout, key=lambda r: abs(r.final_rel_error))
        return {"runs": [r.to_dict() for r in self.holdout],
                "mean_rel_error": float(np.mean([r.mean_rel_error for r in self.holdout])),
                "worst_final_rel_error": float(worst.final_rel_error), "worst_final_run": worst.name}

    @property
    def caveats(self) -> tuple[str, ...]:
        """What the reader of the intervals must know (said with them, in the law file too)."""
        return (BOOTSTRAP_SCOPE,) if self.intervals else ()

    def info(self) -> dict:
        """The ``fit`` block of the law file (data files and hashes are added by the caller)."""
        out = {
            "objective": "Huber(delta=1e-3) on log loss, " + (
                ("least_squares trf to convergence, "
                 + ("finite-difference Jacobian; starts from a grid over (alpha, c, gamma, q) with (L0, A, b1, b2) "
                    f"solved linearly at each point, the best {START_KEEP} screened; a fit not converged after "
                    f"{CONV_CAP} evaluations goes on with the kernel's timescale c/gamma as a constant"
                    if isinstance(self.law, NoiseConvolutionLaw)
                    else "analytic Jacobian")) if self.method == "converged"
                else "Luo et al.'s procedure: L-BFGS-B on the saturated-drop law from a grid, then at most "
                     "200 AdamW steps from C=1, beta=0.5, gamma=0.5"),
            "method": self.method,
            "warmup": type(self.law).warmup,
            "starts": self.n_starts,
            "converged": bool(self.converged),
            "runs": {r.name: {k: v for k, v in r.to_dict().items() if k != "name"} for r in self.runs},
        }
        if self.stopped:
            out["stopped"] = self.stopped
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.selection:
            out["warmup_selection"] = self.selection
        if self.holdout:
            out["holdout"] = self.holdout_summary()
        if self.thinned:
            out["thinned"] = {k: {"points": n, "fitted": m} for k, (n, m) in self.thinned.items()}
        if self.from_step is not None:
            out["from_step"] = self.from_step
            if self.before_from:
                out["not_fitted_before_from_step"] = {k: {"points": n} for k, n in self.before_from.items()}
        if self.in_warmup:
            out["not_fitted_in_warmup"] = {k: {"points": n, "warmup_end": w} for k, (n, w) in self.in_warmup.items()}
        if self.fixed:
            out["fixed"] = {k: float(v) for k, v in self.fixed.items()}
        if self.intervals:
            out["bootstrap"] = {"resamples": self.n_boot, "interval_95": {
                k: [float(lo), float(hi)] for k, (lo, hi) in self.intervals.items()}, "scope": BOOTSTRAP_SCOPE}
        return out


#: Measured by benchmarks/curves_bootstrap.py (the authors' split of the Multi-Power-Law data).
BOOTSTRAP_SCOPE = (
    "the bootstrap resamples the logged points, so its intervals say how well the points pin each "
    "constant, not how far a predicted curve can be off: on the Multi-Power-Law data (3 runs fitted "
    "a size) the 95% bands they give held-out final losses are at most +-0.07% wide and hold none of "
    "the 36 (both laws; errors 0.04-0.97%); `holdout` RUN measures the extrapolation error instead"
)


#: The drop-sum plan while fitting: exact terms over the last 128 steps before each logged point,
#: dyadic blocks (16 per size) farther back; within 4e-7 relative of the exact sum on the MPL
#: schedules (the default plan, used for prediction: 1e-7), with about half the terms, so a
#: Jacobian costs half as much.
FIT_PLAN = {"near": 128, "blocks": 16}
#: A fitted run with R^2 below this is reported as not fitted (the MPL runs: 0.9996-0.99995).
POOR_R2 = 0.9
#: Loss points a run is fitted on at most (fit_curves' max_points; more are fitted as block means):
#: above every run the cross-lab benchmark fits (MPL 96-172 points, lr_scheduling_sweep's val curves
#: up to 312), so those fits are unchanged; a per-step log (PKU's 100M runs, 32,908 steps) is fitted
#: on 320 means.  From 2000 to 320 the PKU fits' held-out errors moved by at most 0.15 points
#: (annealing 0.43 / 1.22 / 0.80% -> 0.46 / 1.13 / 0.78%, noise-convolution 0.16 / 0.52 / 0.01% ->
#: 0.18 / 0.46 / 0.05%, multipower ->811 1.37% -> 1.52%) and their CPU fell (multipower 14-20 s ->
#: 0.5-2.7 s); benchmarks/curves_crosslab.md, "Fit speed".
MAX_FIT_POINTS = 320
#: Multi-start screening: every start runs 40 evaluations, the best one goes on to convergence.
#: On the MPL data all four starts end in the same minimum; screening gives the same parameters
#: in a fraction of the time (25M via the logged lr: 11 s -> about 4 s).
SCREEN = (40, 1)


# -- per-law models --------------------------------------------------------------------------------

class _Model:
    """predict(p) and the Jacobian of log predict(p) over all runs' points."""

    names: tuple[str, ...]
    #: the multi-start screening (huber_log_fit's ``screen``)
    screen: tuple[int, int] = SCREEN
    #: evaluations of the final least-squares run before :meth:`finish` takes over (None: scipy's own limit)
    max_nfev: int | None = None
    #: constants of the law held at a value, not fitted (recorded in the law file)
    fixed: dict[str, float] = {}

    def __init__(self, curves: Sequence[Curve], warmup: str) -> None:
        self.curves = list(curves)
        self.warmup = warmup
        self.S1 = []
        eta = []
        for c in curves:
            seq, delta = apply_warmup(c.lr, warmup)
            self.S1.append(np.cumsum(seq)[c.steps])
            eta.append(seq[c.steps])
            self._add(seq, delta, c.steps)
        self.S1_all = np.concatenate(self.S1)
        self.eta_at = np.concatenate(eta)  # the lr at each logged step
        self.logS1 = np.log(self.S1_all)

    def finish(self, res: FitResult, predict, loss: np.ndarray, bounds) -> FitResult:
        """The fit after its least-squares run (``predict`` and ``loss``: the points it was fitted on):
        unchanged here; a law whose fits can stop short of convergence carries them on."""
        return res

    def _power(self, L0, A, alpha):
        pw = self.S1_all ** -alpha
        return L0 + A * pw, pw

    def _power_starts(self, loss: np.ndarray) -> list[tuple[float, float, float]]:
        """(L0, A, alpha) starts of the power term L0 + A S1^-alpha: L0 at 0.75 and 0.9 x the lowest
        loss, alpha 0.3 and 0.6, A through the median loss at the median lr area."""
        lo = float(loss.min())
        return [(l0, (float(np.median(loss)) - l0) / float(np.median(self.S1_all)) ** -alpha, alpha)
                for l0 in (0.75 * lo, 0.9 * lo) for alpha in (0.3, 0.6)]


class _MultiPower(_Model):
    names = MultiPowerLaw.params

    def _add(self, seq, delta, steps):
        self.plans = getattr(self, "plans", [])
        self.plans.append(DropPlan.build(seq, delta, steps, **FIT_PLAN))

    def predict(self, p):
        L0, A, alpha, B, C, beta, gamma = p
        base, _ = self._power(L0, A, alpha)
        ld = np.concatenate([pl.drop(B, C, beta, gamma) for pl in self.plans])
        return base - ld

    def jac(self, p):
        L0, A, alpha, B, C, beta, gamma = p
        base, pw = self._power(L0, A, alpha)
        lds, grads = zip(*(pl.drop_and_grad(B, C, beta, gamma) for pl in self.plans), strict=True)
        pred = base - np.concatenate(lds)
        g = np.concatenate(grads)
        J = np.column_stack([np.ones_like(pw), pw, -A * pw * self.logS1, -g])
        return J / pred[:, None]

    def starts(self, loss: np.ndarray, peak: float) -> list[np.ndarray]:
        C = 0.05 * peak ** -0.4  # C * eta^-gamma * (eta * ~20 steps) ~ 1 (gamma ~ 0.6)
        B = 0.2 * (loss.max() - loss.min()) / peak
        return [np.array([l0, A, alpha, B, C, 0.5, 0.6]) for l0, A, alpha in self._power_starts(loss)]

    def bounds(self, loss):
        return ([0.0, 1e-9, 1e-3, 0.0, 1e-9, 1e-3, 0.0], [float(loss.min()), np.inf, 5.0, np.inf, np.inf, 10.0, 3.0])


class _Annealing(_Model):
    names = AnnealingLaw.params

    def __init__(self, curves, warmup, lam: float | None):
        self.lam_fixed = lam
        self.fixed = {} if lam is None else {"lam": float(lam)}
        self.deltas = []
        super().__init__(curves, warmup)
        if lam is not None:
            self.names = ("L0", "A", "alpha", "C")

    def _add(self, seq, delta, steps):
        self.deltas.append((delta, steps))

    def _s2(self, lam, grad=False):
        outs = [annealing_area(d, lam, grad=grad) for d, _ in self.deltas]
        if not grad:
            return np.concatenate([o[s] for o, (_, s) in zip(outs, self.deltas, strict=True)])
        return (np.concatenate([o[0][s] for o, (_, s) in zip(outs, self.deltas, strict=True)]),
                np.concatenate([o[1][s] for o, (_, s) in zip(outs, self.deltas, strict=True)]))

    def _unpack(self, p):
        if self.lam_fixed is None:
            return p
        return (*p, self.lam_fixed)

    def predict(self, p):
        L0, A, alpha, C, lam = self._unpack(p)
        base, _ = self._power(L0, A, alpha)
        return base - C * self._s2(lam)

    def jac(self, p):
        L0, A, alpha, C, lam = self._unpack(p)
        base, pw = self._power(L0, A, alpha)
        S2, dS2 = self._s2(lam, grad=True)
        pred = base - C * S2
        cols = [np.ones_like(pw), pw, -A * pw * self.logS1, -S2]
        if self.lam_fixed is None:
            cols.append(-C * dS2)
        return np.column_stack(cols) / pred[:, None]

    def starts(self, loss, peak):
        lam = 0.999 if self.lam_fixed is None else self.lam_fixed
        C = 0.5 * (loss.max() - loss.min()) * (1 - lam) / peak
        return [np.array([l0, A, alpha, C] + ([lam] if self.lam_fixed is None else []))
                for l0, A, alpha in self._power_starts(loss)]

    def bounds(self, loss):
        lb = [0.0, 1e-9, 1e-3, 0.0] + ([0.9] if self.lam_fixed is None else [])
        ub = [float(loss.min()), np.inf, 5.0, np.inf] + ([0.99999] if self.lam_fixed is None else [])
        return lb, ub


#: The noise-convolution law's starts kept from its grid (ranked by the linear solve's error).
START_KEEP = 4
#: ... each screened for this many evaluations (finite-difference Jacobians: 9 predictions each),
#: the best one on to convergence.
CONV_SCREEN = (12, 1)
#: The best start runs at most CONV_CAP evaluations in the law's constants; a fit not converged by
#: then goes on in the timescale parametrisation (:meth:`_Convolution.finish`).  Where the runs'
#: best fit is the exponential-kernel limit (c and gamma growing together), the law's own constants
#: crept toward it until least_squares' limit of 800 evaluations and stopped unconverged; from the
#: cap the continuation converges in 1-2 s.  On the cross-lab protocols (a)-(f) every fit that
#: converged without a cap reaches the same objective (within 6e-9 relative) or a lower one, the
#: three that did not now converge at a lower one, and the 27 fits' CPU fell 248 -> 174 s (a cap of
#: 300: 207 s); the PKU per-step pair is the exception, 22 s at 300 and 30 s at 100, same objective
#: (benchmarks/curves_crosslab.md, "Cap and continue").
CONV_CAP = 100


class _Convolution(_Model):
    """The noise-convolution law: eight fitted constants; eta_ref (the clock's reference lr) is
    fixed at the runs' highest lr.  Starts come from a grid over (alpha, c, gamma, q), on which the
    law is linear in (L0, A, b1, b2): a non-negative least-squares solve per grid point."""

    names = NoiseConvolutionLaw.params[:-1]
    screen = CONV_SCREEN
    max_nfev = CONV_CAP

    def __init__(self, curves, warmup):
        self.seqs, self.areas, self.plans, self.at = [], [], [], []
        super().__init__(curves, warmup)
        self.eta_ref = max(float(c.lr.max()) for c in curves)
        self.fixed = {"eta_ref": self.eta_ref}  # the clock's reference lr: the runs' highest

    def _add(self, seq, delta, steps):
        self.seqs.append(seq[: int(steps.max()) + 1])
        self.areas.append(np.cumsum(self.seqs[-1]))
        self.plans.append(ConvPlan.build(steps))
        self.at.append(steps)

    def _noise(self, law, b1, b2) -> np.ndarray:
        out = []
        for seq, S1, plan, t in zip(self.seqs, self.areas, self.plans, self.at, strict=True):
            w, clock = law.weights(seq, S1, b1, b2)
            out.append(plan.sum(w, clock, clock[t], law.c, law.gamma))
        return np.concatenate(out)

    def predict(self, p):
        """The law at ``p``.  A finite-difference Jacobian moves one constant at a time: the noise
        sum is kept from the last call when only L0 or A moved (:meth:`_noise_sum`), and each run's
        block moments when only c or gamma moved (:meth:`_moments`) -- the same numbers, computed once."""
        law = NoiseConvolutionLaw(*p, self.eta_ref)
        return law.L0 + law.A * self.S1_all ** -law.alpha + self._noise_sum(law)

    def _noise_sum(self, law) -> np.ndarray:
        """The noise term at every fitted point, kept while alpha, b1, b2, c, gamma and q are."""
        key = (law.alpha, law.b1, law.b2, law.c, law.gamma, law.q)
        if getattr(self, "_noise_at", None) != key:
            parts, moments = self._moments(law)
            self._noise_at, self._noise_kept = key, np.concatenate([
                plan.sum(w, clock, clock[t], law.c, law.gamma, moments=mo)
                for plan, (w, clock), mo, t in zip(self.plans, parts, moments, self.at, strict=True)])
        return self._noise_kept

    def _moments(self, law) -> tuple[list, list]:
        """Each run's (weights, clock) and block moments (ConvPlan.moments), kept while alpha, b1, b2
        and q are (they do not depend on c or gamma)."""
        key = (law.alpha, law.b1, law.b2, law.q)
        if getattr(self, "_moments_at", None) != key:
            parts = [law.weights(seq, S1, law.b1, law.b2, fall=fall, clock=clock)
                     for seq, S1, fall, clock in zip(self.seqs, self.areas, self._falls(law), self._clocks(law),
                                                     strict=True)]
            self._moments_at, self._moments_kept = key, (
                parts, [plan.moments(w, clock) for plan, (w, clock) in zip(self.plans, parts, strict=True)])
        return self._moments_kept

    def _falls(self, law) -> list[np.ndarray]:
        """Each run's S1^-alpha, kept while alpha is (a Jacobian column moving b1, b2 or q reuses it)."""
        if getattr(self, "_fall_at", None) != law.alpha:
            self._fall_at, self._fall = law.alpha, [law.fall(S1) for S1 in self.areas]
        return self._fall

    def _clocks(self, law) -> list[np.ndarray]:
        """Each run's clock, kept while q is (a column moving alpha, b1 or b2 reuses it)."""
        if getattr(self, "_clock_at", None) != law.q:
            self._clock_at, self._clock = law.q, [law.clock(seq) for seq in self.seqs]
        return self._clock

    jac = None  # finite differences: eight constants, a few ms an evaluation

    def starts(self, loss: np.ndarray, peak: float) -> list[np.ndarray]:
        from scipy.optimize import nnls

        cands = []
        wts = 1.0 / loss
        for alpha in (0.35, 0.5):
            for q in (1.0, 1.4):
                for c in (2 * self.eta_ref, 8 * self.eta_ref, 32 * self.eta_ref):
                    for gamma in (1.1, 1.4, 1.8):
                        law = NoiseConvolutionLaw(1.0, 1.0, alpha, 0.0, 0.0, c, gamma, q, self.eta_ref)
                        X = np.column_stack([np.ones_like(loss), self.S1_all ** -alpha,
                                             self._noise(law, 1.0, 0.0), self._noise(law, 0.0, 1.0)])
                        scale = np.abs(X).max(axis=0)
                        if not np.all(np.isfinite(X)) or np.any(scale <= 0):
                            continue
                        beta, _ = nnls(X / scale * wts[:, None], loss * wts)
                        L0, A, b1, b2 = beta / scale
                        if A <= 0 or L0 >= loss.min():
                            continue
                        sse = float(np.sum(((X / scale) @ beta - loss) ** 2 * wts ** 2))
                        cands.append((sse, np.array([L0, A, alpha, b1, b2, c, gamma, q])))
        cands.sort(key=lambda x: x[0])
        return [x for _, x in cands[:START_KEEP]] or [np.array([0.8 * loss.min(), 0.5, 0.45, 30.0, 30.0,
                                                                4 * self.eta_ref, 1.3, 1.0])]

    def bounds(self, loss):
        return ([0.0, 1e-9, 1e-3, 0.0, 0.0, 1e-12, 1.001, 0.0],
                [float(loss.min()), np.inf, 5.0, np.inf, np.inf, np.inf, 6.0, 2.0])

    def finish(self, res: FitResult, predict, loss: np.ndarray, bounds) -> FitResult:
        """An unconverged fit carried on from where it stopped, in the timescale parametrisation
        (L0, A, alpha, B1, B2, ln tau, gamma, q): c = gamma tau, b1,2 = B1,2 c^gamma, the same law,
        in which the kernel's exponential limit exp(-D / tau) is gamma alone going to its bound; kept
        when it lowers the objective."""
        if res.converged:
            return res
        # B1, B2 keep the b's bounds (0, inf); ln tau >= ln(c's lower bound), so c = gamma tau stays above it
        ts_bounds = tuple(np.r_[b[:5], np.log(b[5]), b[6:]] for b in (np.asarray(x, dtype=float) for x in bounds))
        try:
            with np.errstate(all="ignore"):
                more = huber_log_fit(lambda x: predict(self.from_timescale(x)), loss, [self.to_timescale(res.params)],
                                     bounds=ts_bounds, screen=None)
        except FitError:  # no finite fit from there: the unconverged fit stands, as a weak fit
            return res
        if not more.objective < res.objective:
            return res
        return dataclasses.replace(res, params=self.from_timescale(more.params), objective=more.objective,
                                   converged=more.converged, message=more.message)

    @staticmethod
    def to_timescale(p: np.ndarray) -> np.ndarray:
        """(L0, A, alpha, b1, b2, c, gamma, q) -> (L0, A, alpha, b1 c^-gamma, b2 c^-gamma, ln(c / gamma), gamma, q)."""
        L0, A, alpha, b1, b2, c, gamma, q = p
        with np.errstate(all="ignore"):
            return np.array([L0, A, alpha, b1 * c ** -gamma, b2 * c ** -gamma, np.log(c / gamma), gamma, q])

    @staticmethod
    def from_timescale(x: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_timescale`."""
        L0, A, alpha, B1, B2, ln_tau, gamma, q = x
        c = gamma * np.exp(ln_tau)
        return np.array([L0, A, alpha, B1 * c ** gamma, B2 * c ** gamma, c, gamma, q])


# -- Luo et al.'s fitting procedure ----------------------------------------------------------------

METHODS = ("converged", "luo")

#: Luo et al. 2025's procedure for the multi-power law (their repository's src/fitting.py and
#: src/config.py, thu-yao-01-luo/MultiPowerLaw): stage 1 fits L0 + A S1^-alpha - B (peak - eta_t),
#: the law with every lr drop fully felt, by L-BFGS-B from a 5 x 3 x 3 x 3 grid (L0 = min loss
#: +-0.2, A and alpha from a log-log regression +-0.1, B 100..1000); stage 2 starts there with
#: C = 1, beta = 0.5, gamma = 0.5 and takes at most 200 AdamW steps on the Huber (delta 1e-3) sum
#: (lr 5e-2 for L0, A, B, C and 5e-3 for alpha, beta, gamma; torch's AdamW defaults: betas 0.9,
#: 0.999, eps 1e-8, weight decay 0.01), stopping after 20 steps without improvement or when the
#: gradient norm falls below 1e-5, and keeps the best parameters seen.  The few steps keep the drop
#: shape near its start: an implicit prior, not a converged fit.
LUO = {"max_steps": 200, "lr_scale": 5e-2, "lr_shape": 5e-3, "betas": (0.9, 0.999), "eps": 1e-8,
       "weight_decay": 0.01, "patience": 20, "grad_tol": 1e-5, "shape_start": (1.0, 0.5, 0.5),
       "B_grid": (100.0, 550.0, 1000.0)}
_DELTA = 1e-3


def _huber(r: np.ndarray) -> np.ndarray:
    a = np.abs(r)
    return np.where(a < _DELTA, 0.5 * r * r, _DELTA * (a - 0.5 * _DELTA))


def _luo_fit(model: _MultiPower, loss: np.ndarray, idx: np.ndarray | None = None) -> tuple[np.ndarray, float, str, int]:
    """Luo et al.'s two-stage procedure on the points ``idx``: (params, objective, why it stopped, stage-1 starts)."""
    from scipy.optimize import minimize
    from scipy.stats import linregress

    sel = slice(None) if idx is None else idx
    y = loss[sel]
    ly = np.log(y)
    S1 = model.S1_all[sel]
    eta = model.eta_at[sel]
    peak = max(float(c.lr.max()) for c in model.curves)
    lo = float(y.min())
    slope, intercept, *_ = linregress(np.log(S1), np.log(y - lo + 0.01))
    logS1 = np.log(S1)

    def stage1(p):
        L0, A, alpha, B = p
        pw = S1 ** -alpha
        pred = L0 + A * pw - B * (peak - eta)
        if np.any(pred <= 0) or not np.all(np.isfinite(pred)):
            return 1e10, np.zeros(4)
        r = ly - np.log(pred)
        g = -np.clip(r, -_DELTA, _DELTA) / pred
        return float(_huber(r).sum()), np.array([g.sum(), (g * pw).sum(), (g * -A * pw * logS1).sum(),
                                                  (g * -(peak - eta)).sum()])

    best = None
    grid = [np.linspace(lo - 0.2, lo + 0.2, 5), np.linspace(np.exp(intercept) - 0.1, np.exp(intercept) + 0.1, 3),
            np.linspace(-slope - 0.1, -slope + 0.1, 3), LUO["B_grid"]]
    starts = np.array(np.meshgrid(*grid, indexing="ij")).reshape(4, -1).T
    with np.errstate(all="ignore"):
        for x0 in starts:
            res = minimize(stage1, np.maximum(x0, 0.0), jac=True, method="L-BFGS-B", bounds=[(0, None)] * 4,
                           options={"maxiter": 100000, "ftol": 1e-9, "gtol": 1e-6})
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
    if best is None or best.fun >= 1e10:
        raise FitError("Optimal parameters not found: the saturated-drop start of Luo et al.'s procedure failed.")
    p = np.array([*best.x, *LUO["shape_start"]], dtype=float)
    lrs = np.array([LUO["lr_scale"]] * 2 + [LUO["lr_shape"]] + [LUO["lr_scale"]] * 2 + [LUO["lr_shape"]] * 2)
    b1, b2 = LUO["betas"]
    m1 = np.zeros(7)
    m2 = np.zeros(7)
    best_p, best_obj, min_obj, stale = p.copy(), np.inf, np.inf, 0
    why = f"{LUO['max_steps']} steps"
    with np.errstate(all="ignore"):
        for t in range(1, LUO["max_steps"] + 1):
            pred = model.predict(p)[sel]
            if np.any(pred <= 0) or not np.all(np.isfinite(pred)):
                why = f"non-positive prediction at step {t}"
                break
            r = ly - np.log(pred)
            obj = float(_huber(r).sum())
            g = -(np.clip(r, -_DELTA, _DELTA)[:, None] * model.jac(p)[sel]).sum(axis=0)
            p = p * (1.0 - lrs * LUO["weight_decay"])  # torch AdamW: decoupled decay, then the Adam step
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b2 * m2 + (1 - b2) * g * g
            p = p - lrs * (m1 / (1 - b1**t)) / (np.sqrt(m2 / (1 - b2**t)) + LUO["eps"])
            if obj < min_obj:
                min_obj, stale = obj, 0
            else:
                stale += 1
            if t - 1 > LUO["patience"] and stale >= LUO["patience"]:
                why = f"no improvement for {LUO['patience']} steps (step {t})"
                break
            if np.linalg.norm(g) < LUO["grad_tol"]:
                why = f"gradient norm below {LUO['grad_tol']:g} (step {t})"
                break
            if obj < best_obj:
                best_obj, best_p = obj, p.copy()
    if not np.isfinite(best_obj):
        raise FitError("Optimal parameters not found: Luo et al.'s procedure gave no finite fit.")
    return best_p, best_obj, why, len(starts)


# -- the fit ---------------------------------------------------------------------------------------

def fit_curves(
    curves: Sequence[Curve],
    law: str = "noise-convolution",
    *,
    warmup: str | None = None,
    lam: float | None = 0.999,
    n_boot: int = 0,
    seed: int = 0,
    name: str | None = None,
    citation: str | None = None,
    method: str = "converged",
    holdout: Sequence[str] = (),
    max_points: int | None = MAX_FIT_POINTS,
    from_step: int | None = None,
) -> CurveFit:
    """Fit ``law`` ('noise-convolution', the default; 'multipower' or 'annealing') to ``curves``;
    returns the fitted law and its quality.  The default is the law with the lowest cross-lab score
    (benchmarks/curves_crosslab.md, "The product default"); ``law="multipower"`` gives the former
    default.

    ``holdout``: names of runs left out of the fit (of everything: warmup selection included) and
    predicted from their lr alone; their errors are :attr:`CurveFit.holdout`.
    ``max_points``: a run with more loss points is fitted on that many block means of its
    points (a log with the loss at every step would otherwise cost GBs; None keeps all).

    ``warmup``: 'as-run' | 'peak' | 'skip', or 'auto' (:func:`select_warmup`: the convention that
    best predicts the later part of the runs); default :data:`DEFAULT_WARMUP`.
    ``lam``: the annealing law's lambda, fixed (published 0.999) or None to fit it.
    ``method``: 'converged' (multi-start least squares to convergence) or 'luo' (the multi-power
    law's authors' two-stage procedure, :data:`LUO`).
    ``from_step``: fit only the loss points from this step on (:func:`cut_before`; the lr before it
    still enters the law's lr sums), for a log whose first steps fall from the initial loss.
    """
    request = _Request(warmup=warmup, lam=lam, n_boot=n_boot, seed=seed, name=name, citation=citation,
                       method=method, holdout=tuple(holdout), max_points=max_points, from_step=from_step)
    return _fit(curves, law, request, diagnose=True)


@dataclass(frozen=True)
class _Request:
    """fit_curves' options."""

    warmup: str | None = None
    lam: float | None = 0.999
    n_boot: int = 0
    seed: int = 0
    name: str | None = None
    citation: str | None = None
    method: str = "converged"
    holdout: tuple[str, ...] = ()
    max_points: int | None = MAX_FIT_POINTS
    from_step: int | None = None


def _fit(curves: Sequence[Curve], law: str, o: _Request, diagnose: bool) -> CurveFit:
    """:func:`fit_curves`; with ``diagnose``, a fit refused because of its runs' first steps says
    so (:func:`_early_refit`)."""
    _check_request(law, o.method, curves, o.max_points)
    if o.holdout:
        fitted_runs, held = split_holdout(curves, o.holdout)
        fit = _fit(fitted_runs, law, dataclasses.replace(o, holdout=()), diagnose)
        return dataclasses.replace(fit, holdout=evaluate(fit.law, cut_before(held, o.from_step)[0]))
    given = curves
    curves, before_from = cut_before(curves, o.from_step)
    curves, in_warmup, thinned = _prepared(curves, o.max_points)
    selection: dict = {}
    warmup = o.warmup or DEFAULT_WARMUP[law]
    if warmup == "auto":
        warmup, selection = select_warmup(curves, law, lam=o.lam, method=o.method)
    cls = WARMUP_FORMS.get((law, warmup))
    if cls is None:
        raise InvalidInputError(f"the {law} law has no '{warmup}' warmup convention here "
                                f"(use {', '.join(w for (name, w) in WARMUP_FORMS if name == law)}, or auto).")
    if o.lam is not None and not 0 < o.lam < 1:
        raise InvalidInputError(f"`lam` must be in (0, 1), not {o.lam:g}.")
    model = (_MultiPower(curves, warmup) if law == "multipower" else _Annealing(curves, warmup, o.lam)
             if law == "annealing" else _Convolution(curves, warmup))
    loss = np.concatenate([c.loss for c in curves])
    _check_enough_points(curves, law, loss.size, len(model.names), in_warmup)
    res, intervals, samples, (lb, ub) = _solve(model, loss, o.method, o.n_boot, o.seed)
    values = dict(zip(model.names, (float(x) for x in res.params), strict=True))
    fixed = dict(model.fixed)
    values.update(fixed)
    provenance = _provenance(curves, cls, warmup, o.method, o.citation,
                             o.lam if law == "annealing" else None, o.from_step)
    fitted = cls(**values, name=o.name or f"{cls.key}@fit", provenance=provenance)
    preds = np.split(model.predict(res.params), np.cumsum([c.loss.size for c in curves])[:-1])
    runs = tuple(quality(c.name, p, c.loss) for c, p in zip(curves, preds, strict=True))
    warnings = _fit_warnings(curves, runs, at_bounds(model.names, res.params, lb, ub))
    early = _early_refit(given, curves, runs, law, o) if diagnose else {}
    return acceptance.accept_curves(  # refused if not usable; a weak fit carries its warnings
        CurveFit(law=fitted, runs=runs, objective=res.objective, converged=res.converged,
                 n_starts=res.n_starts, intervals=intervals, n_boot=o.n_boot, fixed=fixed, method=o.method,
                 stopped=res.message if o.method == "luo" else "", selection=selection, warnings=warnings,
                 samples=samples, thinned=thinned, in_warmup=in_warmup, from_step=o.from_step,
                 before_from=before_from, early_misfit=early))


def _early_refit(given: Sequence[Curve], fitted: Sequence[Curve], runs: Sequence[RunQuality], law: str,
                 o: _Request) -> dict[str, str]:
    """When a fit is to be refused for its R^2 and some runs fall from their initial value
    (:func:`initial_fall`), the same fit from the latest of their suggested steps: if that one is
    usable, the first steps made the misfit, and the refusal says so (run name -> what to do);
    else, or when nothing falls so, {}.  Costs one more fit, on the way to a refusal only."""
    r2s = [float(r.r2) for r in runs if np.isfinite(r.r2)]
    if not r2s or min(r2s) >= acceptance.R2_FLOOR:
        return {}
    falls = {c.name: (at, c) for c in fitted if (at := initial_fall(c)) is not None and at > (o.from_step or 0)}
    if not falls:
        return {}
    at = max(a for a, _ in falls.values())
    try:
        refit = _fit(given, law, dataclasses.replace(o, from_step=at, n_boot=0), diagnose=False)
    except (FitError, InvalidInputError):
        return {}
    worst = min(float(r.r2) for r in refit.runs if np.isfinite(r.r2))
    return {name: f"the first {EARLY_FRACTION:.0%} of its steps (loss {c.loss[0]:.3g} at step {int(c.steps[0])}, "
                  f"falling from its initial value) lie outside the law's range and make the misfit: fitted from "
                  f"step {at} on, the worst run's R^2 is {worst:.3g}; fit from a later step (`from_step`, e.g. {at})"
            for name, (_, c) in falls.items()}


def _check_request(law: str, method: str, curves: Sequence[Curve], max_points: int | None) -> None:
    """Refuse a fit request that cannot be met (unknown law or method, no curves, too few points)."""
    if law not in CURVE_LAWS:
        raise InvalidInputError(f"`law` must be {', '.join(CURVE_LAWS[:-1])} or {CURVE_LAWS[-1]}, not '{law}'.")
    if method not in METHODS:
        raise InvalidInputError(f"`method` must be {' or '.join(METHODS)}, not '{method}'.")
    if method == "luo" and law != "multipower":
        raise InvalidInputError("`method` luo is the multi-power law's authors' procedure: use it with `law` multipower.")
    if not curves:
        raise InvalidInputError("no training curves to fit.")
    if max_points is not None and max_points < 10:
        raise InvalidInputError(f"`max_points` must be at least 10 (0 keeps every point), not {max_points}.")


def _prepared(curves: Sequence[Curve], max_points: int | None
              ) -> tuple[list[Curve], dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """The curves as fitted: points inside the warmup dropped, long runs thinned to ``max_points``
    block means; with what was done (in_warmup: name -> (points, warmup end); thinned: name ->
    (points logged, points fitted))."""
    ends = [warmup_end(c.lr) for c in curves]
    in_warmup = {c.name: (int(np.sum(c.steps < e)), e) for c, e in zip(curves, ends, strict=True) if c.steps[0] < e}
    out = [after_warmup(c, e) if c.steps[0] < e else c for c, e in zip(curves, ends, strict=True)]
    thinned = {c.name: (c.loss.size, max_points) for c in out if max_points and c.loss.size > max_points}
    out = [thin(c, max_points) if c.name in thinned and max_points else c for c in out]
    return out, in_warmup, thinned


def _check_enough_points(curves: Sequence[Curve], law: str, n_points: int, n_par: int,
                         in_warmup: dict[str, tuple[int, int]]) -> None:
    if n_points > n_par:
        return
    n_bad = sum(int(c.source.get("excluded", 0)) for c in curves)
    n_warm = sum(n for n, _ in in_warmup.values())
    dropped = ([f"{n_bad} excluded as diverged or spikes"] if n_bad else []) + \
              ([f"{n_warm} inside the warmup, not fitted"] if n_warm else [])
    raise FitError(
        f"{n_points} loss points for {n_par} parameters of the {law} law"
        f"{' (' + '; '.join(dropped) + ')' if dropped else ''}: give more points "
        "(log the loss more often) or more runs."
    )


def _solve(model: _Model, loss: np.ndarray, method: str, n_boot: int, seed: int):
    """The fit of ``model`` to ``loss`` (and its bootstrap): (FitResult, 95% intervals, bootstrap
    samples or None, (lower bounds, upper bounds))."""
    peak = max(float(c.lr.max()) for c in model.curves)
    lb, ub = model.bounds(loss)
    starts = model.starts(loss, peak)

    def fit_on(idx: np.ndarray | None, starts_: list[np.ndarray]):
        if method == "luo":
            p, obj, why, n = _luo_fit(model, loss, idx)  # type: ignore[arg-type]
            return FitResult(params=p, objective=obj, converged=True, n_starts=n, n_converged=n, message=why)
        if idx is None:
            predict, y, jac, screen = model.predict, loss, model.jac, model.screen
        else:
            predict, y, screen = (lambda p: model.predict(p)[idx]), loss[idx], None
            jac = None if model.jac is None else (lambda p: model.jac(p)[idx])
        res = huber_log_fit(predict, y, starts_, bounds=(lb, ub), jac=jac, screen=screen, max_nfev=model.max_nfev)
        return model.finish(res, predict, y, (lb, ub))

    with np.errstate(all="ignore"):
        res = fit_on(None, starts)
    intervals: dict[str, tuple[float, float]] = {}
    samples = None
    if n_boot > 0:
        samples, _ = bootstrap(lambda idx: fit_on(idx, [res.params]).params, loss.size, n_boot, seed=seed)
        lo_, hi_ = interval(samples)
        intervals = {k: (float(a), float(b)) for k, a, b in zip(model.names, lo_, hi_, strict=True)}
    return res, intervals, samples, (lb, ub)


def _provenance(curves: Sequence[Curve], cls, warmup: str, method: str, citation: str | None,
                lam: float | None, from_step: int | None = None) -> Provenance:
    """Where a fitted curve law comes from: its runs, files and fitted ranges."""
    steps_all = np.concatenate([c.steps for c in curves])
    lows = [lowest_lr(c.lr, int(c.steps.max())) for c in curves]  # each run's lowest lr after its warmup
    return Provenance(
        citation=citation or f"fitted by hpadvisor on {len(curves)} runs "
        f"({', '.join(c.name for c in curves)})",
        source="; ".join(sorted({str(c.source.get('file', c.name)) for c in curves})),
        fitted_range=(("steps", float(steps_all.min()), float(steps_all.max())),
                      ("peak_lr", float(min(c.lr.max() for c in curves)), max(float(c.lr.max()) for c in curves)),
                      ("warmup_steps", float(min(warmup_end(c.lr) for c in curves)),
                       float(max(warmup_end(c.lr) for c in curves))),
                      ("min_lr", min(lows), max(lows))),
        notes=f"{cls.title}; Huber (delta 1e-3) on log loss; warmup {warmup}"
        + ("; Luo et al.'s fitting procedure (stage-1 grid, then at most 200 AdamW steps)" if method == "luo" else "")
        + (f"; lambda fixed at {lam:g}" if lam is not None else "")
        + (f"; loss fitted from step {from_step}" if from_step is not None else ""),
    )


def _fit_warnings(curves: Sequence[Curve], runs: Sequence[RunQuality], bound_warnings: tuple[str, ...]
                  ) -> tuple[str, ...]:
    """The fit's own warnings: no run lowers its lr, a run the law does not fit, constants on a bound."""
    warnings = bound_warnings
    lows = [lowest_lr(c.lr, int(c.steps.max())) for c in curves]
    if not any(lo < 0.99 * c.lr.max() for lo, c in zip(lows, curves, strict=True)):
        no_decay = ("no run lowers its lr after the warmup: the loss-drop constants are not determined by these "
                    "runs, so predictions for decaying schedules are not supported by data.")
        warnings = (no_decay, *warnings)
    poor = [q for q in runs if q.r2 < POOR_R2]  # a flat run's R^2 is NaN: not judged
    if poor:
        warnings = (f"the law does not fit {', '.join(f'{q.name} (R^2 {q.r2:.3g})' for q in poor)}: check that the lr "
                    "it was given (its lr column, or `schedule`) is the one it ran with, unscaled, and look for a "
                    "restart or a change of data inside the run; predictions from this fit are not reliable.", *warnings)
    return warnings


#: A positive lower bound that stands for 0: a parameter within this factor of it is on it.
ZERO_STAND_IN = 1e3


def at_bounds(names, params, lb, ub, rel: float = 1e-4, tiny: float = 1e-6) -> tuple[str, ...]:
    """A warning for each fitted parameter that ended on a bound of its search range: the runs do
    not pin it down (typically the drop shape, from runs without an lr decay of their own).  A
    positive lower bound of at most ``tiny`` stands for 0 (e.g. the power law's A, kept above 1e-9):
    a parameter within 1000x of it is on it (A = 1.006e-9 on the PKU logs: no power-law term)."""
    out = []
    for name, p, lo, hi in zip(names, params, lb, ub, strict=True):
        for side, b in (("lower", lo), ("upper", hi)):
            if side == "lower" and 0 < b <= tiny and p <= ZERO_STAND_IN * b:
                near = True
            else:
                near = bool(np.isfinite(b) and abs(p - b) <= (rel * abs(b) if b else tiny))
            if near:
                out.append(f"{name} = {p:.4g} is at the {side} bound of its range: these runs do not pin it "
                           "down, and predictions for other schedules are unreliable. Add a run whose lr "
                           "follows another shape than these (a constant lr, a cosine, a WSD cooldown or a "
                           "step drop).")
    return tuple(out)


#: The warmup convention when none is asked for.  The multi-power law: its authors' code's (as
#: run).  The LR-annealing law: chosen from the data (``auto``); its published convention (warmup
#: counted at the peak lr, a secondary account) predicted the last third of the MPL training runs
#: 1.8x (25M) to 4.6x (100M) worse than as-run.
DEFAULT_WARMUP = {"multipower": "as-run", "annealing": "auto", "noise-convolution": "as-run"}
#: The curve laws ``fit curves --law`` takes.
CURVE_LAWS = tuple(BY_NAME)
#: ``--warmup-mode auto``: the conventions tried, and where each training run is split in time (fit
#: on every run's steps up to this fraction of its own last logged step, score every run's steps after).
AUTO_SPLIT = 2 / 3


def select_warmup(curves: Sequence[Curve], law: str, *, lam: float | None = 0.999,
                  method: str = "converged") -> tuple[str, dict]:
    """The warmup convention of ``law`` that predicts the training runs' own future best.

    Each convention is fitted on every run's points up to AUTO_SPLIT of that run's own last step
    and scored on the points after it (the mean over runs of each run's mean relative error); the
    lowest wins.  The split is per run so that every schedule's later part is scored: a split at
    a fraction of the longest run left a short cosine wholly before it, and the choice then rested
    on the constant run's tail alone (one lr, no decay), which picked the convention that cannot
    fit the cosine.  Only the training runs are used.  Returns (convention, {"split_steps": {run:
    step}, "validation_mre": {convention: value}, "chosen"}); with too few points on either side,
    the law's published convention and the reason.
    """
    modes = [w for (l_, w) in WARMUP_FORMS if l_ == law]
    published = (MultiPowerLaw if law == "multipower" else AnnealingLaw).warmup
    splits = {c.name: int(AUTO_SPLIT * int(c.steps.max())) for c in curves}

    def part(later: bool):  # each run's points on one side of its own split; a run left with none is dropped
        out = []
        for c in curves:
            m = (c.steps > splits[c.name]) if later else (c.steps <= splits[c.name])
            if m.any():
                out.append(dataclasses.replace(c, steps=c.steps[m], loss=c.loss[m]))
        return out

    early, late = part(False), part(True)
    n_par = len(MultiPowerLaw.params if law == "multipower" else AnnealingLaw.params)
    if sum(c.steps.size for c in early) <= 2 * n_par or sum(c.steps.size for c in late) < 3:
        return published, {"chosen": published, "reason": "too few points on one side of the time split: "
                                                            "the published convention"}
    scores = {}
    for mode in modes:
        try:
            fit = _fit(early, law, _Request(warmup=mode, lam=lam, method=method), diagnose=False)
        except (FitError, InvalidInputError):
            continue
        scores[mode] = float(np.mean([r.mean_rel_error for r in evaluate(fit.law, late)]))
    if not scores:
        return published, {"chosen": published, "reason": "no convention could be fitted on the early points"}
    chosen = min(scores, key=scores.get)
    return chosen, {"chosen": chosen, "split_steps": splits, "validation_mre": scores}


def after_warmup(curve: Curve, end: int) -> Curve:
    """``curve`` without its loss points before the warmup ``end``s (an error if none is left)."""
    keep = curve.steps >= end
    if not keep.any():
        raise InvalidInputError(f"run '{curve.name}': every loss point is inside the warmup (before step "
                                f"{end}); the curve laws need points after it.")
    return dataclasses.replace(curve, steps=curve.steps[keep], loss=curve.loss[keep])


#: ``from_step`` must leave every run at least this many loss points.
MIN_FROM_POINTS = 3


def cut_before(curves: Sequence[Curve], from_step: int | None) -> tuple[list[Curve], dict[str, int]]:
    """``curves`` without their loss points before ``from_step`` (None: as they are), and name ->
    points dropped.  Only loss points go: each run's lr is kept from step 0, as the laws' lr sums
    (S1, the annealing area, the drop terms) run over every step trained.  Refuses a step that is
    not a whole number >= 0, or one that leaves a run fewer than :data:`MIN_FROM_POINTS` points."""
    if from_step is None:
        return list(curves), {}
    if isinstance(from_step, bool) or not isinstance(from_step, (int, np.integer)) or from_step < 0:
        raise InvalidInputError(f"`from_step` must be a whole number of steps >= 0, not {from_step!r}.")
    out, dropped = [], {}
    for c in curves:
        keep = c.steps >= from_step
        if int(keep.sum()) < MIN_FROM_POINTS:
            last = int(c.steps[-MIN_FROM_POINTS]) if c.steps.size >= MIN_FROM_POINTS else int(c.steps[0])
            raise InvalidInputError(f"`from_step` {int(from_step)} leaves run '{c.name}' {int(keep.sum())} loss "
                                    f"point{'' if keep.sum() == 1 else 's'} (its last is at step {int(c.steps[-1])}); "
                                    f"the fit needs at least {MIN_FROM_POINTS} per run: give a step up to {last}.")
        if not keep.all():
            dropped[c.name] = int((~keep).sum())
            c = dataclasses.replace(c, steps=c.steps[keep], loss=c.loss[keep])
        out.append(c)
    return out, dropped


#: A run "falls from its initial value" when its first fitted point lies above every point after
#: the first EARLY_FRACTION of its fitted step range and at least half of its whole fall (first
#: point to lowest) happens within that fraction: the fast fall from ln(vocab) of a log kept from
#: step 0, which no curve law describes.
EARLY_FRACTION = 0.05
#: The step then suggested to fit from: the first fitted step by which the loss has made this share
#: of its fall from its first fitted point to its lowest, to two significant figures (the PKU 100M
#: runs, 10.4 at step 1 to 2.6: step 1,400; the cross-lab benchmark fits them from step 1,000).
EARLY_FALL = 0.9


def initial_fall(curve: Curve) -> int | None:
    """The step to fit ``curve`` from when it falls from its initial value (see EARLY_FRACTION),
    else None."""
    steps, loss = curve.steps, curve.loss
    if steps.size < 2 * MIN_FROM_POINTS:
        return None
    after = loss[steps > steps[0] + EARLY_FRACTION * (steps[-1] - steps[0])]
    lowest = float(loss.min())
    if not (after.size >= MIN_FROM_POINTS and loss[0] > float(after.max())
            and loss[0] - after[0] >= 0.5 * (loss[0] - lowest)):
        return None
    at = int(steps[np.argmax(loss <= lowest + (1 - EARLY_FALL) * (loss[0] - lowest))])
    return min(max(int(float(f"{at:.2g}")), int(steps[0]) + 1), int(steps[-MIN_FROM_POINTS]))


def thin(curve: Curve, n: int) -> Curve:
    """``curve`` as ``n`` points: its first and last points as logged (the run's step range, hence
    the law's fitted range, stays the run's), and between them the means (step and loss) of
    ``n - 2`` runs of consecutive points.

    Means keep the information the points carry (a noisy per-step log fitted on 2,000 evenly spaced
    points predicted a held-out WSD run's final loss 0.36% off, on 2,000 block means 0.04%: a
    reviewer's synthetic logs); over a block of a few dozen steps the curve is close to straight, so
    the mean loss sits at the mean step."""
    inner = np.array_split(np.arange(1, curve.loss.size - 1), n - 2)
    steps = np.array([curve.steps[0], *(round(float(curve.steps[b].mean())) for b in inner), curve.steps[-1]],
                     dtype=np.int64)
    loss = np.array([curve.loss[0], *(float(curve.loss[b].mean()) for b in inner), curve.loss[-1]])
    return dataclasses.replace(curve, steps=steps, loss=loss)


def split_holdout(curves: Sequence[Curve], names: Sequence[str]) -> tuple[list[Curve], list[Curve]]:
    """(runs to fit, runs held out), the held-out ones named by ``names`` (run names)."""
    known = [c.name for c in curves]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInputError(f"`holdout` {unknown[0]}: no run of that name (runs: {', '.join(known)}).")
    fit = [c for c in curves if c.name not in names]
    if not fit:
        raise InvalidInputError("`holdout` names every run: leave at least one to fit.")
    return fit, [c for c in curves if c.name in names]


def evaluate(law, curves: Sequence[Curve]) -> tuple[RunQuality, ...]:
    """Fit quality of ``law`` on held-out ``curves`` (predicted from their lr alone)."""
    return tuple(quality(c.name, law.curve(c.lr, c.steps), c.loss) for c in curves)


def curves_from_logs(paths: Sequence[str], *, mapping: dict[str, str] | None = None,
                     schedule=None, warmup: int | None = None) -> tuple[list[Curve], list[str]]:
    """Read log files into fit-ready curves; returns (curves, notes on what was done to the data).

    The lr comes from the log's lr column (interpolated to every step, warmup from 0 before the
    first logged step) or, for logs without one, from ``schedule`` (a Schedule).
    """
    from hpadvisor.errors import DataError
    from hpadvisor.io.logs import read_log
    from hpadvisor.schedules import sparse_jumps

    curves: list[Curve] = []
    said: list[tuple[str, str, str]] = []  # (file, run, what was done to it)
    planned = None if schedule is None else schedule.sequence()  # the lr of the runs without an lr column
    used_planned = False
    for path in paths:
        for run in read_log(path, mapping=mapping, planned_lr=planned):
            for n in run.notes:
                said.append((path, run.name, n))
            if run.has_lr:
                eta = run.lr_sequence(warmup_steps=warmup)
                jump = sparse_jumps(run.lr_steps, run.lr)
                if jump:
                    said.append((path, run.name, f"{jump}: log the lr at every step around such changes (or drop "
                                 "the lr column and give the schedule: `schedule` or `config`)"))
                first = int(run.lr_steps.min())
                if first > 0 and warmup is not None and 0 < warmup <= first:
                    said.append((path, run.name, f"lr logged from step {first}: a linear warmup from 0 over "
                                 f"the given {warmup} steps, then the first logged lr, before it."))
                elif first > 0:
                    said.append((path, run.name, f"lr logged from step {first}: assumed a linear warmup from 0 "
                                 "at step 0 before it" + (" (`warmup` only applies when it ends before the "
                                                          "first logged lr)." if warmup else "; give `warmup` if "
                                                          "it ended earlier.")))
            elif planned is not None:
                eta = planned
                if eta.size - 1 < run.steps.max():
                    raise DataError(f"{path}: the log runs to step {int(run.steps.max())}, past the given "
                                    f"schedule's {eta.size - 1} steps: give the run's full length.")
                said.append((path, run.name, "no lr column: the lr of the given schedule."))
                used_planned = True
            elif run.lr_column:
                raise DataError(f"'{path}' [{run.name}]: the lr column has no values and no schedule was given: "
                                "fill it, or pass `shape`/`peak`/`warmup_steps`/`total_steps` or `config` TRAINER-CONFIG.")
            else:
                raise DataError(
                    f"'{path}' has no lr column (accepted names: lr, learning_rate, ...) and no schedule "
                    "was given: pass `shape`/`peak`/`warmup_steps`/`total_steps`, `config` TRAINER-CONFIG, or `mapping` lr=<column>."
                )
            keep = run.steps >= 1  # the laws start at step 1
            if run.loss.size and float(np.min(run.loss)) > SUMMED_LOSS:
                said.append((path, run.name, f"the loss never falls below {float(np.min(run.loss)):.4g}: a per-token "
                             f"cross-entropy starts near ln(vocab) (about 11-12 nats); is it summed over tokens or "
                             "sequences? (the fit only rescales, but the law's losses are then in those units)"))
            curves.append(Curve(run.name, eta[: max(int(run.steps.max()), 1) + 1], run.steps[keep], run.loss[keep],
                                source=run.source(first_step=1)))
    names = [c.name for c in curves]
    if len(set(names)) != len(names):  # same stem in different folders: qualify by the folder, else the path
        from pathlib import Path

        short = [f"{Path(str(c.source.get('file'))).parent.name}/{c.name}" for c in curves]
        full = [f"{c.source.get('file')}:{c.name}" for c in curves]
        curves = [dataclasses.replace(c, name=n) for c, n in
                  zip(curves, short if len(set(short)) == len(short) else full, strict=True)]
    notes = group_notes(said)
    if planned is not None and not used_planned:
        notes.append("the given schedule was not used: every log has its own lr column (the logged lr is fitted).")
    return curves, notes


#: A loss always above this many nats is not a per-token mean (ln of a 256k vocabulary is 12.5).
SUMMED_LOSS = 20.0


def group_notes(said: Sequence[tuple[str, str, str]]) -> list[str]:
    """One line per distinct remark on (file, run): "file [run]: remark", or "N runs (a, b, ...):
    remark" when several runs share it (a log of nine runs would otherwise repeat it nine times)."""
    by_text: dict[str, list[tuple[str, str]]] = {}
    for path, run, text in said:
        by_text.setdefault(text, []).append((path, run))
    return [f"{whos[0][0]} [{whos[0][1]}]: {text}" if len(whos) == 1 else
            f"{len(whos)} runs ({', '.join(run for _, run in whos)}): {text}" for text, whos in by_text.items()]
