"""Schedule advice from a fitted curve law: a predicted curve with its extrapolation notes, the
ranking of common schedules by predicted final loss, and the best WSD cooldown.

The command-line ``predict`` (curve laws) and ``compare-schedules`` parse and render; what they
print is computed here.  Every result carries notes saying where the request leaves the data the
law was fitted on (longer run, other peak lr or warmup, an lr lower than any fitted run reached).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hpadvisor import schedules
from hpadvisor.errors import InvalidInputError
from hpadvisor.fitting import curve_intervals
from hpadvisor.laws.curves import FORMS, cooldown_search, lowest_lr, rank_schedules, warmup_end

#: The WSD cooldown search grid of ``compare``: fraction of the run spent cooling down x shape.
FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
SHAPES = ("linear", "1-sqrt", "cosine", "exponential")
#: A warmup within this factor of the fitted one is not called an extrapolation.
WARMUP_BAND = 2.0
#: An lr floor within 1% of the lowest fitted lr is not called an extrapolation (a logged cosine
#: stops a few steps short of its floor).
FLOOR_TOLERANCE = 0.01


def fitted_defaults(law) -> dict[str, float]:
    """The peak lr and warmup the law was fitted with (its fitted_range), used as defaults."""
    rng = law.provenance.range_dict()
    out: dict[str, float] = {}
    if "peak_lr" in rng:
        out["peak"] = rng["peak_lr"][1]
    if "warmup_steps" in rng:
        out["warmup"] = int(round(rng["warmup_steps"][1]))
    return out


def run_defaults(law, total: int, peak: float | None, warmup: int | None) -> tuple[float, int, list[str]]:
    """Peak lr and warmup for a run of ``total`` steps: the given ones, else the law's fitted run's
    (a fitted warmup longer than the run is cut to it); with a note for each default taken."""
    d = fitted_defaults(law)
    notes = []
    if peak is None:
        if "peak" not in d:
            raise InvalidInputError("the law file records no fitted peak lr: give `peak`.")
        peak = d["peak"]
        notes.append(f"peak lr {peak:g} (the law's fitted peak; another lr is an extrapolation).")
    if warmup is None:
        fitted = int(d.get("warmup", 0))
        warmup = min(fitted, total)
        notes.append(f"warmup {warmup} steps (the law's fitted warmup)." if warmup == fitted else
                     f"warmup cut to the run's {total} steps: the law's fitted warmup is {fitted} steps.")
    return peak, warmup, notes


def planned(law, shape: str, total: int, *, peak: float | None = None, warmup: int | None = None,
            set_by=None, **schedule_kw) -> tuple[schedules.Schedule, list[str]]:
    """The schedule to predict: ``shape`` over ``total`` steps, peak lr and warmup defaulting to
    the law's fitted run (:func:`run_defaults`); ``schedule_kw`` go to :func:`schedules.build`."""
    _check_law(law)
    given = warmup
    peak, warmup, notes = run_defaults(law, total, peak, warmup)
    if given is None and warmup >= total and shape in ("wsd", "wsd_restarts"):
        fitted = int(fitted_defaults(law).get("warmup", 0))
        raise InvalidInputError(f"a {shape} schedule of {total} steps cannot take the law's fitted warmup "
                                f"({fitted} steps): give `warmup` (shorter than the run).")
    return schedules.build(shape, peak=peak, total_steps=total, warmup_steps=warmup, set_by=set_by,
                           **schedule_kw), notes


def curve_steps(total: int, warmup: int, points: int = 200) -> np.ndarray:
    """Where to draw a predicted curve: ``points`` steps evenly spaced from the end of the warmup
    (step 1 at least) to ``total``."""
    return np.unique(np.linspace(max(1, min(total, warmup)), total, points).round().astype(int))


#: What extrapolating in steps cost on real runs (benchmarks/curves_mpl.py, the authors' split).
EXTRAPOLATION_MEASURED = ("For scale: fitted on three 24k-step runs of the Multi-Power-Law data, the multi-power "
                          "and annealing laws missed 72k-step final losses by up to 0.97%, the noise-convolution "
                          "law by up to 0.50%.")


#: Relative distance from the fitted peak-lr range that counts as another lr scale.
PEAK_TOL = 1e-3


def extrapolation_notes(law, eta: np.ndarray, last_step: int) -> list[str]:
    """Where the lr sequence ``eta`` (predicted up to ``last_step``) leaves the law's fitted data."""
    rng = law.provenance.range_dict()
    notes = []
    if "steps" in rng and last_step > rng["steps"][1] * (1 + 1e-9):
        factor = last_step / rng["steps"][1]
        scale = f" {EXTRAPOLATION_MEASURED}" if factor >= 2 else ""
        notes.append(f"steps beyond {rng['steps'][1]:.0f} (the longest fitted run): extrapolation x{factor:.2g}.{scale}")
    eta = np.asarray(eta, dtype=float)
    peak = float(eta.max())  # of the whole schedule: a step inside the warmup has not seen it yet
    if "peak_lr" in rng:
        lo, hi = rng["peak_lr"]
        # 0.1% is the lr a log rounds or samples off its peak (a cosine logged at 2.99999965e-4 after
        # a peak of 3e-4): not another lr scale
        if peak > hi * (1 + PEAK_TOL) or peak < lo * (1 - PEAK_TOL):
            notes.append(f"peak lr {peak:g} is outside the fitted {lo:g}-{hi:g}: the law's constants hold "
                         "for the lr scale it was fitted on.")
    if "warmup_steps" in rng and rng["warmup_steps"][0] > 0:
        lo, hi = rng["warmup_steps"]
        w = warmup_end(eta)
        fitted = f"{lo:.0f}" if lo == hi else f"{lo:.0f}-{hi:.0f}"
        if w == 0 and getattr(law, "warmup", "as-run") == "as-run":  # peak/skip modes have no rise term
            notes.append(f"no warmup, but the law was fitted on runs with {fitted} warmup steps: the warmup's lr "
                         "rise is a term of the law's sums, and without it the predicted loss is lower by "
                         "several percent (an artefact, not a gain): compare schedules of the same warmup.")
        elif w < lo / WARMUP_BAND or w > hi * WARMUP_BAND:
            notes.append(f"warmup {w} steps is outside the fitted {fitted}: an extrapolation in warmup.")
    if "min_lr" in rng and last_step >= warmup_end(eta):  # the floor reached by last_step, after the warmup
        floor, fitted = lowest_lr(eta, last_step), rng["min_lr"][0]
        if floor < fitted * (1 - FLOOR_TOLERANCE):
            notes.append(f"the lr falls to {floor:.3g}, below the lowest lr of any fitted run ({fitted:.3g}): "
                         "the loss drop there is extrapolated.")
    elif "min_lr" not in rng and "steps" in rng:
        notes.append("the law file records no lowest fitted lr (written before hpadvisor recorded it): "
                     "whether the lr falls below the fitted runs' is not checked.")
    return notes


def predict(law, eta: np.ndarray, steps: Sequence[int], *, basis: curve_intervals.Basis | None = None,
            interval: bool = True) -> tuple[list[dict], list[str]]:
    """Predicted loss at ``steps`` under the per-step lr ``eta``: (points, extrapolation notes).

    Each point is ``{step, loss, low, high}``: ``low``/``high`` bound the stated 90% interval
    (:mod:`hpadvisor.fitting.curve_intervals`) from ``basis`` (the law file's interval section;
    without one, the default calibration, said in a note); ``interval`` False leaves them out."""
    _check_law(law)
    query = np.asarray(steps, dtype=int)
    if query.size == 0:
        raise InvalidInputError("no steps >= 1 to predict at.")
    if query.max() > eta.size - 1:
        raise InvalidInputError(f"step {int(query.max())} (`steps`) is past the schedule's last step {eta.size - 1}.")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        loss = law.curve(eta, query)
    points = [{"step": int(s), "loss": float(v)} for s, v in zip(query, loss, strict=True)]
    notes = extrapolation_notes(law, eta, int(query.max()))
    if interval:
        basis = basis or curve_intervals.basis_from_file(law, None)
        low, high, _ = curve_intervals.intervals(law, basis, eta, query, loss)
        for p, lo, hi in zip(points, low, high, strict=True):
            p["low"], p["high"] = float(lo), float(hi)
        notes += [*basis.notes, *curve_intervals.unanswered(basis, curve_intervals.shapes(eta, [int(query.max())])[0])]
    none = [int(s) for s, v in zip(query, loss, strict=True) if not np.isfinite(v)]
    if none:  # S1 = 0: the laws' power term in the lr area is infinite there
        notes.append(f"no prediction at step{'s' if len(none) > 1 else ''} {', '.join(map(str, none[:5]))}"
                     f"{' ...' if len(none) > 5 else ''}: the lr is 0 up to there (no lr area yet), where the "
                     "laws' power term is infinite; the loss is written as null.")
    return points, notes


def plan_runs(law, basis: curve_intervals.Basis, total: int | None = None) -> dict:
    """What the fitted runs leave loose and the one cheap extra run that most narrows the
    intervals (:func:`curve_intervals.plan`), for the schedules ``compare`` ranks at ``total``
    steps (default: the longest fitted run), with the law's fitted peak lr and warmup."""
    total = total or basis.longest
    d = fitted_defaults(law)
    peak = d.get("peak", max(r.peak for r in basis.runs))
    warmup = min(int(d.get("warmup", 0)), max(total - 1, 0))
    cands = candidates(total, peak, warmup)
    result = curve_intervals.plan(law, basis, {k: s.sequence() for k, s in cands.items()}, warmup=warmup)
    result["steps"] = total
    return result


def candidates(total: int, peak: float, warmup: int, *, min_lr_ratio: float = 0.1,
               cooldown_min_lr_ratio: float = 0.0) -> dict[str, schedules.Schedule]:
    """The schedules ``compare`` ranks, each labelled with its floor (as a fraction of the peak)."""
    def mk(shape, **kw):
        return schedules.build(shape, peak=peak, total_steps=total, warmup_steps=warmup, **kw)

    to = f"to {cooldown_min_lr_ratio:g}x" if cooldown_min_lr_ratio else "to 0"
    cands = {f"cosine to {min_lr_ratio:g}x": mk("cosine", min_lr_ratio=min_lr_ratio)}
    if min_lr_ratio:
        cands["cosine to 0"] = mk("cosine", min_lr_ratio=0.0)
    cands["linear to 0 (D2Z)"] = mk("linear", min_lr_ratio=0.0)
    for frac, shape in ((0.1, "linear"), (0.2, "linear"), (0.2, "1-sqrt")):
        cands[f"wsd {shape} {frac:.0%} {to}"] = mk("wsd", decay_fraction=frac, decay_shape=shape,
                                                   min_lr_ratio=cooldown_min_lr_ratio)
    cands["multistep (DeepSeek)"] = mk("multistep")
    cands["constant"] = mk("constant")
    return cands


class Given:
    """A per-step lr given as it is (a trainer config's), ranked beside the candidates."""

    def __init__(self, eta: np.ndarray) -> None:
        self.eta = np.asarray(eta, dtype=float)

    def sequence(self) -> np.ndarray:
        return self.eta


def _ranked_set(cands: dict, own: tuple[str, np.ndarray] | None, total: int) -> dict:
    """The candidates, each built once (ranking and notes read the same per-step lr), with ``own``
    (label, per-step lr) first."""
    built = {label: Given(s.sequence()) for label, s in cands.items()}
    if own is None:
        return built
    label, eta = own
    if eta.size - 1 != total:
        raise InvalidInputError(f"{label}: its schedule has {eta.size - 1} steps, the comparison {total}.")
    return {label: Given(eta), **built}


def compare(law, total: int, *, peak: float | None = None, warmup: int | None = None,
            min_lr_ratio: float = 0.1, cooldown_min_lr_ratio: float = 0.0, search: bool = True,
            own: tuple[str, np.ndarray] | None = None, basis: curve_intervals.Basis | None = None) -> dict:
    """Rank the :func:`candidates` by predicted final loss and search the WSD cooldown.

    Returns ``{law, steps, peak_lr, warmup_steps, min_lr_ratio, cooldown_min_lr_ratio, ranking,
    tie, cooldown_search, notes, interval_notes}``; ``ranking`` rows are ``{schedule, final_loss,
    low, high, gap, gap_percent}``, best first (gap in nats; low/high the stated 90% interval from
    ``basis``, :func:`ranking_intervals`); ``tie``: the top two within their intervals, said in
    ``interval_notes`` (``notes`` are where the request leaves the fitted data); the cooldown
    search rows add ``decay_shape`` and ``decay_fraction`` (the 10 best are kept).  ``own``:
    (label, per-step lr) of a schedule to rank beside the candidates (a trainer config's).
    """
    _check_law(law)
    if total < 2:
        raise InvalidInputError(f"`total` must be at least 2, not {total}.")
    for name, r in (("`min_lr_ratio`", min_lr_ratio), ("`cooldown_min_lr_ratio`", cooldown_min_lr_ratio)):
        if not 0 <= r < 1:
            raise InvalidInputError(f"{name} must be in [0, 1), not {r:g}.")
    if peak is not None and not (isinstance(peak, (int, float)) and 0 < peak < math.inf):
        raise InvalidInputError(f"`peak` must be a finite number > 0, not {peak}.")
    if warmup is not None and not (isinstance(warmup, int) and warmup >= 0):
        raise InvalidInputError(f"`warmup` must be a whole number of steps >= 0, not {warmup}.")
    # the fitted warmup is not cut to the run here: a run no longer than its warmup is refused
    w = warmup if warmup is not None else int(fitted_defaults(law).get("warmup", 0))
    peak, w, _ = run_defaults(law, total, peak, w)
    if w >= total:
        origin = "" if warmup is not None else ", the law's fitted run's"
        raise InvalidInputError(f"`total` {total} is not longer than the warmup ({w} steps{origin}): there is no "
                                "decay to compare; give more `total` or a shorter `warmup`.")
    cands = _ranked_set(candidates(total, peak, w, min_lr_ratio=min_lr_ratio, cooldown_min_lr_ratio=cooldown_min_lr_ratio),
                      own, total)
    ranked = rank_schedules(law, cands)
    tie, tie_notes = ranking_intervals(law, basis, cands, ranked, total)
    best_cd = []
    if search:
        best_cd = cooldown_search(
            law, lambda f, s: schedules.build("wsd", peak=peak, total_steps=total, warmup_steps=w, decay_fraction=f,
                                              decay_shape=s, min_lr_ratio=cooldown_min_lr_ratio),
            FRACTIONS, SHAPES)[:10]
    notes = _candidate_notes(law, cands, total, cooldown_floor=cooldown_min_lr_ratio * peak if search else None)
    notes += _short_run_notes(total, w, search)
    return {"law": law.registry_key, "steps": total, "peak_lr": peak, "warmup_steps": w,
            "min_lr_ratio": min_lr_ratio, "cooldown_min_lr_ratio": cooldown_min_lr_ratio,
            "ranking": ranked, "tie": tie, "cooldown_search": best_cd, "notes": notes,
            "interval_notes": tie_notes}


def ranking_intervals(law, basis: curve_intervals.Basis | None, cands: dict, ranked: list[dict],
                      total: int) -> tuple[bool, list[str]]:
    """Give each ranking row the stated 90% interval of its final loss (``low``, ``high``) and say
    whether the top two are a tie: either one's predicted final loss inside the other's interval
    (the law cannot tell them apart).  Returns (tie, notes)."""
    basis = basis or curve_intervals.basis_from_file(law, None)
    for row in ranked:
        low, high, _ = curve_intervals.intervals(law, basis, cands[row["schedule"]].sequence(), [total],
                                                 np.array([row["final_loss"]]))
        row["low"], row["high"] = float(low[0]), float(high[0])
    notes = list(basis.notes)
    if len(ranked) < 2:
        return False, notes
    a, b = ranked[0], ranked[1]
    tie = bool(b["final_loss"] <= a["high"] or a["final_loss"] >= b["low"])
    if tie:
        half = [100 * (r["high"] - r["low"]) / 2 / r["final_loss"] for r in (a, b)]
        notes.append(f"a tie: {a['schedule']} and {b['schedule']} differ by {b['gap']:.4f} nats "
                     f"({b['gap_percent']:.2f}%), within their 90% intervals (+-{half[0]:.2f}%, +-{half[1]:.2f}%): "
                     "the law does not separate them.")
    return tie, notes


def _short_run_notes(total: int, warmup: int, search: bool) -> list[str]:
    """What the warmup leaves of the comparison: cooldowns cut to the steps after it (which then
    coincide), and DeepSeek's milestones inside it."""
    after = total - warmup
    notes = []
    cut = [f for f in (0.1, 0.2, *(FRACTIONS if search else ())) if round(f * total) > after]
    if cut:
        notes.append(f"only {after} steps follow the {warmup}-step warmup: WSD cooldowns of "
                     f"{', '.join(f'{f:.0%}' for f in sorted(set(cut)))} of the run are cut to them, so those "
                     "candidates coincide.")
    inside = [f"{frac:.0%}" for frac, _ in schedules.DEEPSEEK_MILESTONES if math.ceil(frac * total) <= warmup]
    if inside:
        notes.append(f"the multistep milestone{'s' if len(inside) > 1 else ''} at {' and '.join(inside)} of the "
                     f"run fall{'' if len(inside) > 1 else 's'} inside the warmup.")
    return notes


def _candidate_notes(law, cands: dict, total: int, cooldown_floor: float | None = None) -> list[str]:
    """Where the candidates leave the law's data: more steps, another peak or warmup, and an lr
    below any fitted run's (``cooldown_floor``: the cooldown search's floor, when it was run)."""
    notes = extrapolation_notes(law, cands["constant"].sequence(), total)
    fitted_low = law.provenance.range_dict().get("min_lr", (None, None))[0]
    if fitted_low is not None:
        below = [label for label, s in cands.items() if lowest_lr(s.sequence()) < fitted_low * (1 - FLOOR_TOLERANCE)]
        if cooldown_floor is not None and cooldown_floor < fitted_low * (1 - FLOOR_TOLERANCE):
            below.append("the WSD cooldown search")
        if below:
            notes.append(f"{', '.join(below)}: the lr falls below the lowest lr of any fitted run ({fitted_low:.3g}): "
                         "their loss drop there is extrapolated.")
    return notes


def compare_laws(laws: Sequence, total: int, **options) -> dict:
    """:func:`compare` with ``laws[0]``, and the same candidates (its peak lr and warmup) ranked by
    each other law, so a user with two fitted laws (or a fitted and a published one) sees where
    they disagree.  Adds ``other_laws``: per law its ranking, whether it names the same best
    schedule, Kendall's tau between its order and the first law's, and its extrapolation notes;
    and to each ranking row ``other``: {law: {final_loss, rank}}."""
    if not laws:
        raise InvalidInputError("give at least one curve law.")
    result = compare(laws[0], total, **options)
    if len(laws) == 1:
        return result
    from scipy.stats import kendalltau

    cands = _result_candidates(result, options.get("own"))
    keys = [result["law"]]
    order = [r["schedule"] for r in result["ranking"]]
    others = []
    for law in laws[1:]:
        _check_law(law)
        key = law.registry_key
        key = key if key not in keys else f"{key}#{len(keys) + 1}"  # the same law name twice
        keys.append(key)
        ranked = rank_schedules(law, cands)
        rank = {r["schedule"]: i + 1 for i, r in enumerate(ranked)}
        tau = float(kendalltau(range(len(order)), [rank[s] for s in order]).statistic)
        for row in result["ranking"]:
            mine = ranked[rank[row["schedule"]] - 1]
            row.setdefault("other", {})[key] = {"final_loss": mine["final_loss"], "rank": rank[row["schedule"]]}
        others.append({"law": key, "ranking": ranked, "same_best": ranked[0]["schedule"] == order[0],
                       "kendall_tau": tau, "notes": [f"{key}: {n}" for n in _candidate_notes(law, cands, total)]})
        if ranked[0]["schedule"] != order[0]:
            theirs = ranked[0]["schedule"]
            gap = next(r["gap"] for r in result["ranking"] if r["schedule"] == theirs)
            result["notes"].append(f"the laws disagree on the best schedule: {order[0]} by {keys[0]}, {theirs} by "
                                   f"{key} (which {keys[0]} puts {gap:+.4f} nats behind).")
    result["other_laws"] = others
    return result


def compare_given(laws: Sequence, eta: np.ndarray, *, label: str = "this config", **options) -> dict:
    """:func:`compare_laws` for a given per-step lr (a trainer config's): ranked as ``label`` beside
    the candidates, which take its steps, peak lr and warmup."""
    eta = np.asarray(eta, dtype=float)
    return compare_laws(laws, eta.size - 1, peak=float(eta.max()), warmup=warmup_end(eta), own=(label, eta),
                        **options)


def candidate_curves(law, result: dict, points: int = 200,
                     own: tuple[str, np.ndarray] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The predicted curve of each candidate of a :func:`compare` result (for plotting)."""
    q = curve_steps(result["steps"], result["warmup_steps"], points)
    return {label: (q, law.curve(s.sequence(), q)) for label, s in _result_candidates(result, own).items()}


def _result_candidates(result: dict, own: tuple[str, np.ndarray] | None) -> dict:
    """The candidates a :func:`compare` result ranked, rebuilt from its steps, peak, warmup and floors."""
    return _ranked_set(candidates(result["steps"], result["peak_lr"], result["warmup_steps"],
                                min_lr_ratio=result["min_lr_ratio"],
                                cooldown_min_lr_ratio=result["cooldown_min_lr_ratio"]), own, result["steps"])


def _check_law(law) -> None:
    if not isinstance(law, FORMS):
        raise InvalidInputError(f"'{law.registry_key}' is a {type(law).key} law, not a curve law: "
                                "fit one with `hpadvisor fit curves`.")
