"""Prediction intervals for the curve laws, what the fitted runs cannot answer, and the next run.

A fitted curve law misses held-out runs by far more than its points' noise (the bootstrap bands,
which measure that noise, held none of 36 held-out final losses on the Multi-Power-Law data).  The
interval here models the law's own error instead, from three sources, each computable from the
law file alone:

- the laws' disagreement: ``fit curves`` also fits the two other curve laws on the same runs and
  records their constants; ``s_model`` is the spread (population standard deviation over mean) of
  the three laws' predictions at the step;
- extrapolation in length: ``ln(step / longest fitted run)`` beyond the longest fitted run;
- an unseen drop (:func:`drop_novelty`): how much of the target's lr decay no fitted run shows
  (deeper, much faster, or from another peak lr).

The relative half-width of the stated 90% interval is
``Z90 * sqrt((c_model s_model)^2 + (k_len ln(t/T_fit))^2 + (k_drop N_drop)^2 + s_floor^2)``,
around the law's own prediction; the four constants come from :data:`DEFAULT_CALIBRATION` (their
provenance is in it) and are copied into each law file ``fit curves`` writes.  What the interval
covered on held-out runs of three labs is in docs/curves.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpadvisor.errors import DataError
from hpadvisor.laws.curves import BY_NAME, warmup_end

#: The stated level of the interval and its normal quantile.
LEVEL = 0.90
Z90 = 1.6448536269514722
#: A run whose lowest lr (after warmup) is above this fraction of its peak has no decay.
NO_DECAY = 0.9
#: Fitted runs within this relative distance of the target's peak lr count as the same peak.
PEAK_MATCH = 0.10
#: A drop this many times faster than any fitted run's counts as wholly unseen (speed novelty 1).
SPEED_DECADE = 10.0
#: Say that the runs cannot answer when the target is at least this many times longer than the
#: longest fitted run, or when its unseen drop (N_drop) is at least this large.
LENGTH_UNANSWERED = 3.0
DROP_UNANSWERED = 0.3


@dataclass(frozen=True)
class Calibration:
    """The interval's constants (relative units) and where they come from."""

    c_model: float
    k_len: float
    k_drop: float
    s_floor: float
    #: stands for c_model * s_model when the law file records no other laws' fits
    s_model_typical: float
    source: str

    NAMES = ("c_model", "k_len", "k_drop", "s_floor", "s_model_typical")

    def to_dict(self) -> dict:
        return {**{k: float(getattr(self, k)) for k in self.NAMES}, "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping, where: str) -> Calibration:
        values = {}
        for k in cls.NAMES:
            v = data.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise DataError(f"{where}: interval calibration '{k}' must be a number >= 0, not {v!r}.")
            values[k] = float(v)
        return cls(**values, source=str(data.get("source") or "the law file"))


#: The shipped calibration: printed by ``python benchmarks/curves_intervals.py --calibrate``, whose
#: rule was written down before any coverage on the other two labs' runs was computed.
DEFAULT_CALIBRATION = Calibration(
    c_model=1.394, k_len=0.0014, k_drop=0.00328, s_floor=0.00160, s_model_typical=0.00464,
    source="calibrated on the Multi-Power-Law runs (one lab; 25M, 100M, 400M): the held-out final losses of the "
           "cross-lab benchmark's protocols (a)-(c), 45 runs with each of the three curve laws as the point law, by "
           "Gaussian maximum likelihood of their signed relative errors (benchmarks/curves_intervals.py --calibrate)")


# -- the shape of an lr schedule at a step ---------------------------------------------------------

@dataclass(frozen=True)
class Shape:
    """What the interval reads of an lr schedule up to a step: its peak, how low the lr has gone
    after the warmup (as a fraction of the peak), and how fast it fell: ``drop_time``, the lr's
    fall from the peak to its lowest divided by the largest fall in one step (a step drop: 1; a
    linear cooldown over n steps: n; no decay: inf)."""

    step: int
    peak: float
    floor_ratio: float
    drop_time: float
    name: str = ""

    @property
    def decays(self) -> bool:
        return self.floor_ratio < NO_DECAY

    def to_dict(self) -> dict:
        return {"name": self.name, "step": int(self.step), "peak_lr": float(self.peak),
                "floor_ratio": float(self.floor_ratio),
                "drop_time": None if not math.isfinite(self.drop_time) else float(self.drop_time)}

    @classmethod
    def from_dict(cls, data: Mapping, where: str) -> Shape:
        try:
            step, peak, ratio = int(data["step"]), float(data["peak_lr"]), float(data["floor_ratio"])
            drop = data.get("drop_time")
            drop_time = math.inf if drop is None else float(drop)
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{where}: each fitted run of the interval section needs step, peak_lr, floor_ratio "
                            "and drop_time (null for no decay).") from None
        if step < 1 or not peak > 0 or not 0 <= ratio <= 1 or not drop_time >= 1:
            raise DataError(f"{where}: fitted run {data.get('name', '?')!r} of the interval section has an "
                            "impossible step, peak_lr, floor_ratio or drop_time.")
        return cls(step, peak, ratio, drop_time, str(data.get("name") or ""))


def shapes(eta: np.ndarray, steps: Sequence[int] | np.ndarray, name: str = "") -> list[Shape]:
    """The :class:`Shape` of ``eta`` at each of ``steps``, in one pass over the schedule."""
    eta = np.asarray(eta, dtype=float)
    t = np.asarray(steps, dtype=int)
    peak = np.maximum.accumulate(eta)
    w = warmup_end(eta)
    low = eta.copy()
    fall = np.zeros_like(eta)
    if w < eta.size:
        low[w:] = np.minimum.accumulate(eta[w:])
        step_fall = np.zeros(eta.size - w)
        step_fall[1:] = np.maximum(eta[w:-1] - eta[w + 1:], 0.0)
        fall[w:] = np.maximum.accumulate(step_fall)
    out = []
    for s in t:
        p = float(peak[s])
        if s < w or p <= 0:
            out.append(Shape(int(s), p if p > 0 else float(eta.max()), 1.0, math.inf, name))
            continue
        ratio = float(low[s]) / p
        drop = math.inf if ratio >= 1 or fall[s] <= 0 else max(1.0, (p - float(low[s])) / float(fall[s]))
        out.append(Shape(int(s), p, min(ratio, 1.0), drop, name))
    return out


def drop_novelty(target: Shape, runs: Sequence[Shape]) -> tuple[float, str]:
    """How much of the target's lr decay no fitted run shows: ``(1 - r_T) * u``, r_T the target's
    lowest lr over its peak; ``u`` is 1 when no fitted run with a decay ran at the target's peak
    (within 10%), else the least over those runs of max(speed, depth): speed = log10 of how many
    times faster the target's drop is (0..1), depth = the part of the target's decay below that
    run's lowest lr.  Returns (N_drop, what is unseen: 'peak', 'speed', 'depth' or '')."""
    if not target.decays:
        return 0.0, ""
    span = 1.0 - target.floor_ratio
    same = [r for r in runs if r.decays and abs(r.peak / target.peak - 1) <= PEAK_MATCH]
    if not same:
        return span, "peak"
    best, why = math.inf, ""
    for r in same:
        speed = 0.0
        if math.isfinite(target.drop_time) and r.drop_time > target.drop_time:
            speed = min(1.0, math.log(r.drop_time / target.drop_time) / math.log(SPEED_DECADE))
        depth = max(0.0, r.floor_ratio - target.floor_ratio) / span
        u = max(speed, depth)
        if u < best:
            best, why = u, ("speed" if speed >= depth else "depth") if u > 0 else ""
    return span * best, why


#: Fitted runs whose peak lrs differ by at least this factor get :func:`mixed_peaks_note`.
MIXED_PEAKS = 1.5


def mixed_peaks_note(runs: Sequence[Shape]) -> str:
    """A caveat when the fitted runs ran at peak lrs at least MIXED_PEAKS apart, with the coverage
    measured where that was so (benchmarks/curves_intervals.md, protocol (e): lr_scheduling_sweep's
    constant run and a cosine at twice its peak lr, 141 held-out finals; at one peak lr, MPL and
    PKU's (a)-(d), 87.5% of 144); '' otherwise."""
    peaks = [r.peak for r in runs if r.peak > 0]
    if len(peaks) < 2 or max(peaks) < MIXED_PEAKS * min(peaks):
        return ""
    return (f"the fitted runs ran at peak lrs {min(peaks):.3g} to {max(peaks):.3g} (x{max(peaks) / min(peaks):.2g}): "
            "where the development data's runs were fitted so (a third lab's constant run and a cosine at twice "
            "its peak lr), the stated 90% intervals held about half of the held-out final losses (multi-power "
            "43%, LR-annealing 53%, noise-convolution 62%; at one peak lr 88%): read the interval as narrower "
            "than the error there.")


# -- the basis: what a law file records for its intervals ------------------------------------------

@dataclass(frozen=True)
class Basis:
    """What the interval of a fitted law needs: the fitted runs' shapes, the other curve laws
    fitted on the same runs, the calibration, and how each was obtained."""

    runs: tuple[Shape, ...]
    companions: tuple = ()
    calibration: Calibration = DEFAULT_CALIBRATION
    #: False when the law file had no calibration of its own (the default is used)
    calibrated: bool = True
    #: False when the fitted runs' shapes were rebuilt from the law's fitted range
    shapes_recorded: bool = True
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        note = mixed_peaks_note(self.runs)
        if note and note not in self.notes:
            object.__setattr__(self, "notes", (*self.notes, note))

    @property
    def longest(self) -> int:
        return max(r.step for r in self.runs)

    def to_dict(self) -> dict:
        """The law file's ``fit.interval`` section."""
        return {"level": LEVEL, "calibration": self.calibration.to_dict(),
                "runs": [r.to_dict() for r in self.runs],
                "other_laws": [{"law": type(c).key, "name": c.registry_key,
                                "constants": {k: float(v) for k, v in c.constants().items()}}
                               for c in self.companions]}


def basis_for(runs: Sequence[tuple[str, np.ndarray, int]], companions: Sequence = (),
              calibration: Calibration = DEFAULT_CALIBRATION) -> Basis:
    """The basis of a fit on ``runs`` (name, per-step lr, last fitted step) with ``companions``
    (the other curve laws fitted on them)."""
    return Basis(tuple(shapes(eta, [last], name)[0] for name, eta, last in runs), tuple(companions), calibration)


def basis_from_file(law, section: Mapping | None, companions: Sequence = ()) -> Basis:
    """The basis of a loaded law: its law file's ``fit.interval`` section (parsed by
    :func:`hpadvisor.io.lawfile.interval_section`, companions built), or, without one (a law file
    written before intervals, a published law), the default calibration and one fitted run rebuilt
    from the law's fitted range (its longest run, peak and lowest lr; how fast its lr fell unknown)."""
    if section:
        runs = tuple(Shape.from_dict(r, "law file") for r in section.get("runs", ()))
        cal = section.get("calibration")
        calibration = Calibration.from_dict(cal, "law file") if cal else DEFAULT_CALIBRATION
        notes = [] if cal else ["the law file records no interval calibration: the interval uses the default "
                                f"one ({DEFAULT_CALIBRATION.source})."]
        if not companions:
            notes.append("the law file records no other curve laws fitted on its runs: the interval takes a typical "
                         "spread among the laws in place of theirs.")
        if runs:
            return Basis(runs, tuple(companions), calibration, calibrated=bool(cal), notes=tuple(notes))
    rng = law.provenance.range_dict()
    steps = int(rng.get("steps", (0, 0))[1]) or 1
    peak = float(rng.get("peak_lr", (0, 0))[1]) or 1.0
    low = rng.get("min_lr", (None, None))[0]
    # how fast the fitted runs' lr fell is not recorded: the drop term counts depth and peak only
    # (and neither when the lowest fitted lr is not recorded either: nothing is judged unseen)
    ratio = 0.0 if low is None else min(1.0, float(low) / peak)
    run = Shape(steps, peak, ratio, 1.0 if ratio < NO_DECAY else math.inf, "fitted range")
    return Basis((run,), (), DEFAULT_CALIBRATION, calibrated=False, shapes_recorded=False,
                 notes=("the law file records no interval basis (written before hpadvisor gave intervals, or a "
                        "published law): the interval uses the default calibration, a typical spread among the "
                        "laws in place of the other laws' fits, and the law's fitted range in place of its runs' "
                        "shapes (refit with `hpadvisor fit curves` for an interval of its own).",))


def basis_of(law, fit: Mapping, source: str) -> Basis:
    """The basis of a law loaded from a law file with ``fit`` section (:func:`basis_from_file`)."""
    from hpadvisor.io import lawfile

    section, companions = lawfile.interval_section(fit, source)
    return basis_from_file(law, section, companions)


# -- the interval ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Terms:
    """The parts of one relative half-width (each already multiplied by its constant)."""

    model: float
    length: float
    drop: float
    floor: float
    unseen: str

    @property
    def half(self) -> float:
        return Z90 * math.sqrt(self.model ** 2 + self.length ** 2 + self.drop ** 2 + self.floor ** 2)


#: The other laws are evaluated at most at this many of the asked steps (evenly chosen, the first
#: and last among them); the spread between them is interpolated in step.  It changes slowly along
#: a curve, and each other law costs as much as the law itself (1,000 points of a 1M-step schedule:
#: about 0.4 s for the multi-power law).
SPREAD_POINTS = 64


def spread(law, companions: Sequence, eta: np.ndarray, steps: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """The laws' disagreement at ``steps``: std / mean of the law's and its companions' predictions
    (at more than :data:`SPREAD_POINTS` steps, computed at that many and interpolated)."""
    steps = np.asarray(steps, dtype=int)
    loss = np.asarray(loss, dtype=float)
    if steps.size > SPREAD_POINTS:
        order = np.argsort(steps, kind="stable")
        pick = order[np.unique(np.linspace(0, steps.size - 1, SPREAD_POINTS).round().astype(int))]
        at = spread(law, companions, eta, steps[pick], loss[pick])
        return np.interp(steps, steps[pick], at)
    preds = [loss]
    with np.errstate(all="ignore"):
        preds += [np.asarray(c.curve(eta, steps), dtype=float) for c in companions]
    p = np.vstack(preds)
    return p.std(axis=0) / p.mean(axis=0)


def terms(basis: Basis, target: Shape, s_model: float | None) -> Terms:
    cal = basis.calibration
    model = cal.s_model_typical if s_model is None else cal.c_model * s_model
    length = cal.k_len * math.log(max(1.0, target.step / basis.longest))
    novelty, why = drop_novelty(target, basis.runs)
    return Terms(model, length, cal.k_drop * novelty, cal.s_floor, why)


def intervals(law, basis: Basis, eta: np.ndarray, steps: Sequence[int] | np.ndarray,
              loss: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[Terms]]:
    """(low, high, terms) of the stated 90% interval of the law's loss at ``steps`` of ``eta``;
    ``loss``: the law's predictions there (computed when not given).  A step without a finite
    prediction gets NaN bounds."""
    eta = np.asarray(eta, dtype=float)
    q = np.asarray(steps, dtype=int)
    if loss is None:
        with np.errstate(all="ignore"):
            loss = law.curve(eta, q)
    loss = np.asarray(loss, dtype=float)
    s = spread(law, basis.companions, eta, q, loss) if basis.companions else None
    parts = [terms(basis, sh, None if s is None else float(s[i])) for i, sh in enumerate(shapes(eta, q))]
    half = np.array([p.half for p in parts])
    return loss * (1 - half), loss * (1 + half), parts


def unanswered(basis: Basis, target: Shape) -> list[str]:
    """One line for each thing the fitted runs do not pin about a prediction at ``target``, naming
    the extra run that would pin it."""
    return [line for _, line in gaps(basis, target)]


def _lowest(ratio: float) -> str:
    return "0" if ratio <= 0 else f"{ratio:.2g}x the peak"


def gaps(basis: Basis, target: Shape) -> list[tuple[str, str]]:
    """(kind, line) for each thing the fitted runs do not pin about a prediction at ``target``:
    'length' (the target is :data:`LENGTH_UNANSWERED` times longer than any fitted run), or the
    drop no fitted run shows (N_drop >= :data:`DROP_UNANSWERED`): 'peak', 'speed' or 'depth'."""
    out = []
    flat = _constant_run(basis)
    ratio = target.step / basis.longest
    if ratio >= LENGTH_UNANSWERED:
        longer = f"{flat.name or 'the constant run'} continued to step {math.ceil(target.step / 2):,}" if flat else \
            f"a run of at least {math.ceil(target.step / 2):,} steps"
        out.append(("length", f"step {target.step:,} is {ratio:.3g}x the longest fitted run ({basis.longest:,} steps): "
                              f"these runs do not pin the loss that far; {longer} (half the target) would, and the "
                              "interval is widened for it."))
    novelty, why = drop_novelty(target, basis.runs)
    if novelty >= DROP_UNANSWERED:
        lowest = _lowest(target.floor_ratio)
        branch = (f"a short cooldown branch from the middle of {flat.name or 'the constant run'} "
                  f"(step {flat.step // 2:,})" if flat else "a short cooldown run")
        fastest = min((r.drop_time for r in basis.runs if r.decays), default=math.inf)
        what = {"peak": f"no fitted run lowers its lr from this peak ({target.peak:.3g})",
                "speed": f"no fitted run lowers its lr as steeply (this schedule's steepest step is 1/"
                         f"{target.drop_time:,.0f} of its whole drop, the fitted runs' at most 1/{fastest:,.0f})",
                "depth": f"no fitted run lowers its lr as far (to {lowest})"}[why]
        pin = {"peak": f"{branch} at peak lr {target.peak:.3g}",
               "speed": f"{branch} that cuts the lr at least as steeply (a step drop does)",
               "depth": f"{branch} down to {lowest}"}[why]
        out.append((why, f"{what}: these runs do not pin the loss this drop buys; {pin} would, and the interval is "
                         "widened for it."))
    return out


def _constant_run(basis: Basis) -> Shape | None:
    """The longest fitted run that never lowers its lr (the one to branch cooldowns from)."""
    flat = [r for r in basis.runs if not r.decays]
    return max(flat, key=lambda r: r.step) if flat else None


# -- fitting the other laws ------------------------------------------------------------------------

def fit_companions(curves: Sequence, law: str, **options) -> tuple[list, list[str]]:
    """The other curve laws fitted on ``curves`` (each with its own default warmup convention and
    ``options``: max_points, holdout), for the interval's ``s_model``; a law that cannot be
    fitted is left out with a note."""
    from hpadvisor.errors import FitError, InvalidInputError
    from hpadvisor.fitting.curves import fit_curves

    out, notes = [], []
    for other in BY_NAME:
        if other == law:
            continue
        try:
            out.append(fit_curves(curves, other, **options).law)
        except (FitError, InvalidInputError) as exc:
            notes.append(f"the {other} law could not be fitted on these runs for the interval ({exc}); the "
                         "interval's spread among the laws uses the others.")
    return out, notes


def fit_basis(curves: Sequence, law: str, *, others: bool = True, holdout: Sequence[str] = (),
              **options) -> tuple[Basis, list[str]]:
    """The interval basis of a fit of ``law`` on ``curves`` (the runs named in ``holdout`` left
    out): the fitted runs' shapes, and with ``others`` the two other curve laws fitted on the same
    runs (``options`` as for ``fit_curves``: max_points...).  Returns (basis, notes)."""
    fitted = [c for c in curves if c.name not in set(holdout)]
    companions, notes = fit_companions(curves, law, holdout=holdout, **options) if others else ([], [])
    if not others:
        notes.append("the other curve laws were not fitted: the interval takes a typical spread "
                     "among the laws in place of theirs.")
    basis = basis_for([(c.name, c.lr, int(np.max(c.steps))) for c in fitted], companions)
    return basis, notes + [n for n in basis.notes if n not in notes]


# -- what is loose, and the next run ---------------------------------------------------------------

#: The constants of each law that set the loss a decay buys, how fast it is felt and how it
#: saturates: what runs without a drop like the target's leave loose.
DROP_CONSTANTS = {"multipower": ("B", "C", "beta", "gamma"), "annealing": ("C", "lam"),
                  "noise-convolution": ("b1", "b2", "c", "gamma", "q")}
#: The cooldown branches :func:`plan` weighs: (label, cooldown steps as a fraction of the constant
#: run, branch length as a fraction of it); a cooldown of 0 is a step drop held for the branch.
BRANCHES = (("a step drop to {f}, held for {h:,} steps", 0.0, 0.1), ("a linear cooldown to {f} over {h:,} steps", 0.05, 0.05),
            ("a linear cooldown to {f} over {h:,} steps", 0.1, 0.1), ("a linear cooldown to {f} over {h:,} steps", 0.2, 0.2))
#: The lowest lr of a proposed branch, as a fraction of the peak, unless the targets stay higher.
BRANCH_FLOOR = 0.1


def law_name(law) -> str:
    for name, cls in BY_NAME.items():
        if isinstance(law, cls):
            return name
    return type(law).key


def branch_eta(peak: float, warmup: int, at: int, cooldown: int, length: int, floor: float) -> np.ndarray:
    """A branch from a constant-lr run's checkpoint at step ``at`` (linear warmup to ``peak``
    over ``warmup`` steps, then constant): the lr falls linearly to ``floor`` over ``cooldown``
    steps (0: at once), then stays there; ``length`` steps after the checkpoint in all."""
    s = np.arange(at + length + 1, dtype=float)
    eta = np.full(s.size, peak)
    if warmup > 0:
        eta[:warmup] = peak * s[:warmup] / warmup
    x = np.clip((s[at + 1:] - at) / max(cooldown, 1), 0.0, 1.0)
    eta[at + 1:] = peak + (floor - peak) * x
    return eta


def plan(law, basis: Basis, targets: Mapping[str, np.ndarray], *, warmup: int = 0) -> dict:
    """Which one cheap extra run most narrows the intervals of ``targets`` (label -> per-step lr,
    predicted at its last step): a branch from the middle of the longest constant-lr fitted run
    (:data:`BRANCHES`), each scored by how much it narrows the targets' intervals: the drop term
    recomputed with the branch among the fitted runs, and the laws' disagreement taken to shrink
    in the same proportion as the unseen drop (an assumption: how much the laws will agree after
    the run is not known before it).  Ties go to the cheaper branch.

    Returns ``{unanswered: [{target, lines}], loose: [constants], constant_run, best: {label,
    branch_step, cooldown_steps, steps, floor_ratio, narrowing, half_before, half_after} | None,
    branches: [...]}``."""
    const = _constant_run(basis)
    before, unanswered_, finals = {}, [], {}
    for label, eta in targets.items():
        eta = np.asarray(eta, dtype=float)
        t = eta.size - 1
        sh = shapes(eta, [t])[0]
        with np.errstate(all="ignore"):
            loss = law.curve(eta, [t])
        s = float(spread(law, basis.companions, eta, np.array([t]), loss)[0]) if basis.companions else None
        finals[label] = (sh, s)
        before[label] = terms(basis, sh, s).half
        found = gaps(basis, sh)
        if found:
            unanswered_.append({"target": label, "kinds": [k for k, _ in found], "lines": [x for _, x in found]})
    drop_unseen = any(drop_novelty(sh, basis.runs)[0] >= DROP_UNANSWERED for sh, _ in finals.values())
    loose = list(DROP_CONSTANTS.get(law_name(law), ())) if drop_unseen else []
    out: dict = {"unanswered": unanswered_, "loose": loose, "constant_run": const.name if const else None,
                 "best": None, "branches": []}
    if const is None or not targets:
        return out
    floors = [sh.floor_ratio for sh, _ in finals.values() if sh.decays]
    floor = max(min(floors), BRANCH_FLOOR) if floors else BRANCH_FLOOR
    at = const.step // 2
    rows: list[dict[str, Any]] = []
    for text, cool, length in BRANCHES:
        c_steps, h = round(cool * const.step), max(1, round(length * const.step))
        eta = branch_eta(const.peak, warmup, at, c_steps, h, floor * const.peak)
        new = shapes(eta, [eta.size - 1], "branch")[0]
        extended = Basis((*basis.runs, new), basis.companions, basis.calibration)
        after = {}
        for label, (sh, s) in finals.items():
            n0, n1 = drop_novelty(sh, basis.runs)[0], drop_novelty(sh, extended.runs)[0]
            s1 = None if s is None else (s * n1 / n0 if n0 > 0 else s)
            if s1 is None:  # no other laws' fits: the typical disagreement, scaled the same way
                t1 = terms(extended, sh, None)
                t1 = Terms(t1.model * (n1 / n0 if n0 > 0 else 1.0), t1.length, t1.drop, t1.floor, t1.unseen)
            else:
                t1 = terms(extended, sh, s1)
            after[label] = t1.half
        narrowing = float(np.mean([before[k] - after[k] for k in finals]))
        rows.append({"label": text.format(h=h, f=_lowest(floor)), "branch_step": at, "cooldown_steps": c_steps, "steps": h,
                     "floor_ratio": floor, "narrowing": narrowing,
                     "half_before": float(np.mean(list(before.values()))),
                     "half_after": float(np.mean(list(after.values())))})
    top = max(float(r["narrowing"]) for r in rows)
    # the branches within 5% of the most narrowing, cheapest first
    rows.sort(key=lambda r: (r["narrowing"] < top * 0.95, r["steps"], -r["narrowing"]))
    out["branches"] = rows
    if top > 0:
        out["best"] = rows[0]
    return out


def describe_plan(result: dict) -> list[str]:
    """The plan as lines: which asked-about schedules the runs cannot answer and why (one line per
    reason), what is loose, and the one run that would pin it."""
    lines = []
    by_kind: dict[str, list[dict]] = {}
    for u in result.get("unanswered", ()):
        for kind, line in zip(u["kinds"], u["lines"], strict=True):
            by_kind.setdefault(kind, []).append({"target": u["target"], "line": line})
    for items in by_kind.values():
        names = ", ".join(x["target"] for x in items)
        lines.append(f"{names}: {items[0]['line']}" if len(items) == 1 else
                     f"{names} ({len(items)} schedules; the first:) {items[0]['line']}")
    best = result.get("best")
    if result.get("loose"):
        lines.append(f"loose: {', '.join(result['loose'])} (the drop shape: what a decay buys, how fast and how it "
                     "saturates): no fitted run lowers its lr like the schedules asked about.")
    if best:
        lines.append(f"next run: from {result['constant_run'] or 'the constant run'}'s checkpoint at step "
                     f"{best['branch_step']:,}, {best['label']} ({best['steps']:,} steps in all): it would narrow "
                     f"the 90% intervals of those schedules' final losses from +-{100 * best['half_before']:.2f}% to "
                     f"about +-{100 * best['half_after']:.2f}% on average.")
    return lines
