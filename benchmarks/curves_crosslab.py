"""Cross-lab benchmark of the loss-curve laws (issue 18): every curve law x every protocol x every
curve dataset, scored on held-out runs by the final-loss relative error (mean and worst over the
held-out runs) and the mean relative error over each held-out curve.

Run from the project root:  python benchmarks/curves_crosslab.py [--json PATH] [--laws a,b]
[--protocols abc...] [--lr exact|logged] [--quick];  --findings prints the numbers behind the
Findings of benchmarks/curves_crosslab.md (why the laws miss on lr_scheduling_sweep) instead.

Datasets (each looked for in the repository's ``data/<name>/`` first, then ``../shared/data/<name>/``;
a dataset that is in neither is skipped with the reason printed):

- ``mpl_schedules``: Luo et al.'s 25M/100M/400M runs under nine schedules (one lab).  The lr is the
  exact per-step schedule of SOURCE.md (the same sequence as benchmarks/curves_mpl.py); the loss is
  every logged point; final = the last logged point.  ``--lr logged`` reads the csvs' lr column
  instead (logged every 128 steps from step 2160, interpolated with a warmup from 0, as
  ``fit curves`` reads a log): issue 18's figures for (b) were measured that way.
- ``pku_100m_schedules``: a second lab's 100M model under cosine, WSD and 8-1-1, loss at every step.
  The lr is the logged lr at every step (two missing steps interpolated); fitted from step 1000
  (``PKU_FIT_FROM``: the first steps fall from ln(vocab)); final = the mean of the
  last 200 steps (prediction averaged over the same steps); the curve error is taken on the means of
  consecutive 200-step blocks from step 1000 on (the per-step loss has a std of ~0.043, 1.6%, which
  would swamp it; the first steps fall from ln(vocab), outside every law's range).
- ``lr_scheduling_sweep``: a third lab's runs (Schaipp, Hagele et al.).  Fitted and scored on the
  ``val`` curves (32 fixed batches every 200 steps; the train loss is one noisy micro-batch), the
  WSD branches joined to their parent run (SOURCE.md).  The lr is the exact schedule of SOURCE.md,
  aligned to the val points: the val loss at step t is taken after t updates, and update t used the
  lr logged at step t - 1, so the law's lr at index t is schedule(t - 1).  Final = the last val point
  (val.csv has no point at T: for WSD it is 22-200 steps before the end); the curve error is taken
  on a branch's own val points (from its branch step: the cooldown), on the others' after warmup.

Protocols:
  (a) MPL, the authors' split: fit cosine_24000 + constant_24000 + wsdcon_9, predict the other six.
  (b) MPL: fit constant_24000 + cosine_24000, predict the other seven.
  (c) MPL: fit the four 24,000-step runs (constant, cosine, wsd, wsdld; the wsdcon runs are 16,000
      steps and are left out), predict the two 72,000-step runs.
  (d) PKU 100M: fit two schedules, predict the third (three targets).
  (e) lr_scheduling_sweep, ``scaling`` series, each of the 11 (dataset, size) pairs: fit the
      constant run + the shortest cosine, predict the WSD c=0.2 branches and the two longer cosines.
      (The cosines ran at twice the constant run's peak lr: 2e-3 vs 1e-3 up to 93m, 1e-3 vs 5e-4
      from 124m.)
  (f) lr_scheduling_sweep, ``lrsweep`` series (124m, SlimPajama, peak lrs 1e-4, 5e-4, 1e-3, 2e-3):
      for each fit lr a, fit const_lr{a}_T50000 + the shortest cos-f0.1 run at lr a (T=15000 at 1e-3
      and 2e-3, T=25000 at 1e-4 and 5e-4); for each target lr b, predict every lrsweep run at lr b
      (constant, cos-f0, cos-f0.1, WSD linear c 0.1-0.9, WSD sqrt c0.2; the diverged lr 5e-3 run is
      not in the grid) except the two fitted ones.  Rows a -> b with b != a are the lr transfer; the
      rows a -> a are the same-lr reference (schedule transfer only).

Every fit: ``fit_curves`` with its defaults (max_points 2000: the PKU logs are fitted as block
means), from fixed starts, no randomness.  Each fit's wall time and this process's CPU time are
recorded (the table prints wall seconds; rows sharing a fit are marked *).  Errors are relative:
final = predicted / measured - 1, so a positive signed mean is an over-prediction.

The core (dataset loading, protocol definitions, scoring) is importable: ``load_mpl(size)``,
``load_pku()``, ``load_sweep(pair)``, ``load_lrgrid()``, ``protocols()``, ``fit(protocol, law)``,
``score(law, runs)``, ``run(protocol, law)``.  ``benchmarks/`` is not a package: import this file
with importlib from its path (``spec_from_file_location``; no ``from __future__ import annotations``
here, so its dataclasses load whether or not the module is registered in ``sys.modules``), with
benchmarks/ on ``sys.path`` (for ``_data``, which finds the datasets; a script run from there has it).
"""

import argparse
import functools
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from _data import BASES, find

from hpadvisor.fitting.curves import Curve, fit_curves

LAWS = ("multipower", "annealing", "noise-convolution")
#: Model averages scored beside the laws: name -> the laws whose predicted losses are averaged with
#: equal weights (each fitted with ``fit_curves``' defaults on the same runs, the fits shared with
#: the laws' own rows).  'ann+nc' is the default rule of curves_crosslab.md, written before scoring.
AVERAGES = {"ann+nc": ("annealing", "noise-convolution")}
PROTOCOLS = ("a", "b", "c", "d", "e", "f")


# -- runs ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    """One run of a dataset: the curve (per-step lr, index = step; loss points) that is fitted or
    predicted, and how it is scored when held out."""

    curve: Curve
    #: the points whose mean is the run's final loss (the last one, or PKU's last 200 steps)
    final_steps: int = 1
    #: the held-out curve error is taken on the points from this step on
    score_from: int = 0
    #: ... on means of this many consecutive points (PKU: 200; else each point)
    block: int = 1
    meta: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.curve.name


# -- MPL -------------------------------------------------------------------------------------------

MPL_SIZES = ("25", "100", "400")
MPL_RUNS = ("constant_24000", "constant_72000", "cosine_24000", "cosine_72000", "wsd_20000_24000",
            "wsdld_20000_24000", "wsdcon_3", "wsdcon_9", "wsdcon_18")
MPL_TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")  # the authors' split (their src/config.py)


def mpl_lr(name: str, peak: float = 3e-4, floor: float = 3e-5, warmup: int = 2160) -> np.ndarray:
    """The exact per-step lr of an MPL run (SOURCE.md; identical to hpadvisor's ``luo_schedule``):
    2160 warmup steps linear from 0, then constant / cosine to 3e-5 / a geometric (wsd) or linear
    (wsdld) cooldown to 3e-5 from step 20000 / a step to {3,9,18}e-5 at step 8000 (wsdcon)."""
    kind, _, rest = name.partition("_")
    if kind in ("constant", "cosine"):
        T = int(rest)
    elif kind in ("wsd", "wsdld"):
        start, T = (int(x) for x in rest.split("_"))
    elif kind == "wsdcon":
        T = 16000
    else:
        raise ValueError(f"unknown MPL run {name!r}")
    s = np.arange(T + 1, dtype=float)
    lr = np.full(T + 1, peak)
    lr[:warmup] = peak * s[:warmup] / warmup
    if kind == "cosine":
        x = (s[warmup:] - warmup) / (T - warmup)
        lr[warmup:] = floor + (peak - floor) * 0.5 * (1 + np.cos(np.pi * x))
    elif kind in ("wsd", "wsdld"):
        m = s > start
        x = (s[m] - start) / (T - start)
        lr[m] = peak ** (1 - x) * floor ** x if kind == "wsd" else peak + (floor - peak) * x
    elif kind == "wsdcon":
        lr[8000:] = int(rest) * 1e-5
    return lr


def logged_lr(steps, lr, total: int) -> np.ndarray:
    """A logged (step, lr) column as ``fit curves`` reads it (hpadvisor's ``interpolate_trace``):
    linear between the logged points, a linear warmup from 0 at step 0 before the first one (when it
    is after step 0), the last value held after the last one; index 0..total."""
    st, v = np.asarray(steps, dtype=float), np.asarray(lr, dtype=float)
    if st[0] > 0:
        st, v = np.concatenate([[0.0], st]), np.concatenate([[0.0], v])
    return np.interp(np.arange(total + 1), st, v)


#: The lr sources: 'exact' (the schedule of SOURCE.md, the default) or 'logged' (the data's lr
#: column, read as ``fit curves`` reads a log: the MPL csvs log it every 128 steps from step 2160,
#: the sweep's train log every 50 steps).  PKU logs the lr at every step: the same in both.
LR_SOURCES = ("exact", "logged")


@functools.cache
def load_mpl(size: str, lr: str = "exact") -> dict[str, Run]:
    """The nine MPL runs of one size ('25', '100', '400'), by name; every logged point; ``lr``
    'exact' (:func:`mpl_lr`) or 'logged' (the csv's lr column, :func:`logged_lr`)."""
    d = find("mpl_schedules")
    if d is None:
        raise FileNotFoundError("mpl_schedules not found")
    out = {}
    for name in MPL_RUNS:
        t = pd.read_csv(d / f"csv_{size}" / f"{name}.csv")
        st = t.step.to_numpy()
        eta = mpl_lr(name) if lr == "exact" else logged_lr(st, t.lr.to_numpy(), int(st.max()))
        out[name] = Run(Curve(name, eta, st, t.loss.to_numpy()))
    return out


# -- PKU -------------------------------------------------------------------------------------------

PKU_RUNS = ("wsd", "cosine", "811")
PKU_FINAL = 200  # the final loss: the mean of the last 200 steps (the per-step loss is noisy)
PKU_SCORE_FROM = 1000  # the curve error from step 1000 (the first steps fall from ln(vocab), no law's range)
#: The PKU runs are fitted (and predicted) from this step: their lr is at its peak from step 0 (no
#: warmup to drop), and the first steps' loss (10.4 at step 1) lies outside every law's range; kept
#: in, it alone made each fit's R^2 negative (-4.7 to -5.4), and ``fit_curves`` refuses such a fit.
PKU_FIT_FROM = PKU_SCORE_FROM


@functools.cache
def load_pku() -> dict[str, Run]:
    """The three PKU 100M runs ('wsd', 'cosine', '811'): logged lr at every step, loss at every step."""
    d = find("pku_100m_schedules")
    if d is None:
        raise FileNotFoundError("pku_100m_schedules not found")
    t = pd.read_csv(d / "gpt_loss_lrs_long.csv", dtype={"schedule": str})
    out = {}
    for name in PKU_RUNS:
        g = t[t.schedule == name].sort_values("step")
        st = g.step.to_numpy()
        T = int(st.max())
        lr = np.interp(np.arange(T + 1), st, g.lr.to_numpy())  # wsd misses step 20815, cosine 22493
        keep = st >= PKU_FIT_FROM
        out[name] = Run(Curve(name, lr, st[keep], g.train_loss.to_numpy()[keep]), final_steps=PKU_FINAL,
                        score_from=PKU_SCORE_FROM, block=PKU_FINAL)
    return out


# -- lr_scheduling_sweep ---------------------------------------------------------------------------

@functools.cache
def _sweep_tables() -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    d = find("lr_scheduling_sweep")
    if d is None:
        raise FileNotFoundError("lr_scheduling_sweep not found")
    runs = pd.read_csv(d / "runs.csv").set_index("run_id")
    val = {k: g.sort_values("step") for k, g in pd.read_csv(d / "val.csv").groupby("run_id")}
    cur = {k: g.sort_values("step") for k, g in pd.read_csv(d / "curves.csv").groupby("run_id")}
    return runs, val, cur


def sweep_schedule(r: pd.Series, steps: np.ndarray) -> np.ndarray:
    """The lr the run's schedule gives at ``steps`` (SOURCE.md; build.py's ``lr_fn``, which every
    logged lr matches to < 1e-6 of the peak): the lr logged at step i, i.e. of update i + 1."""
    s = np.asarray(steps, dtype=float)
    peak, T, W = float(r.peak_lr), int(r.total_steps), int(r.warmup_steps)
    if r.schedule == "cosine":  # torch OneCycleLR: cosine warmup from peak/100 to step W - 1, cosine to final at T - 1
        init, fin, end_w = peak / 100.0, float(r.final_lr), W - 1.0
        p_w = np.clip(s / end_w, 0, 1)
        p = np.clip((s - end_w) / (T - 1 - end_w), 0, 1)
        return np.where(s <= end_w, init + (peak - init) * (1 - np.cos(np.pi * p_w)) / 2,
                        fin + (peak - fin) * (1 + np.cos(np.pi * p)) / 2)
    lr = np.where(s < W, peak * (s / W + (1 - s / W) / 100), peak)
    if r.schedule == "constant":
        return np.where(s >= T, 0.0, lr)
    if r.schedule != "wsd":
        raise ValueError(f"schedule {r.schedule!r} is not in these protocols")
    n_anneal = int(float(r.cooldown_fraction) * T)
    x = np.clip((s - (T - n_anneal)) / n_anneal, 0, None)
    cool = peak * ((1 - x) if r.cooldown_shape == "linear" else (1 - np.sqrt(x)))
    return np.where(s >= T, float(r.final_lr), np.where(s < T - n_anneal, lr, cool))


def sweep_lr(r: pd.Series, shift: int = 1) -> np.ndarray:
    """The law's per-step lr (index 0..T) of a sweep run: index t holds the lr of the update that
    produced step t, schedule(t - 1) (``shift`` 1; index 0 holds schedule(0)); ``shift`` 0 gives the
    logged convention, index t = schedule(t)."""
    T = int(r.total_steps)
    return sweep_schedule(r, np.maximum(np.arange(T + 1) - shift, 0))


def _joined(run_id: str, table: dict[str, pd.DataFrame], runs: pd.DataFrame) -> pd.DataFrame:
    """The run's full history (SOURCE.md): the parent's rows before the branch's own first row, then
    the branch's, recursively."""
    own = table[run_id]
    parent = runs.at[run_id, "resume_from"]
    if pd.isna(parent):
        return own
    prev = _joined(parent, table, runs)
    return pd.concat([prev[prev.step < own.step.min()], own])


def sweep_run(run_id: str, lr: str = "exact") -> Run:
    """A sweep run as fitted/predicted: the joined val curve (steps >= 1); ``lr`` 'exact' (the
    schedule aligned to the val points, :func:`sweep_lr`), 'exact-unshifted' (index t = schedule(t))
    or 'logged' (the train log's lr column, joined to the parent's, interpolated linearly with a
    warmup from 0 at step 0 before the first logged step, as ``fit curves`` reads a log)."""
    runs, val, cur = _sweep_tables()
    r = runs.loc[run_id]
    v = _joined(run_id, val, runs)
    v = v[v.step >= 1]
    T = int(r.total_steps)
    if lr == "exact":
        eta = sweep_lr(r)
    elif lr == "exact-unshifted":
        eta = sweep_lr(r, shift=0)
    elif lr == "logged":
        c = _joined(run_id, cur, runs)
        eta = logged_lr(c.step.to_numpy(), c.lr.to_numpy(), T)
    else:
        raise ValueError(lr)
    own_first = int(val[run_id].step.min())
    score_from = max(int(r.warmup_steps), own_first)  # a branch: its own points (the cooldown)
    return Run(Curve(run_id, eta, v.step.to_numpy(), v.val_loss.to_numpy()), score_from=score_from,
               meta={"schedule": r.schedule, "peak_lr": float(r.peak_lr), "T": T,
                     "val_full_T": float(r.final_val_loss_full)})


def sweep_pairs() -> list[str]:
    """The (dataset, size) pairs of the ``scaling`` series, e.g. 'slimpajama/124m' (11)."""
    runs, _, _ = _sweep_tables()
    s = runs[runs.series == "scaling"]
    pairs = sorted({f"{d}/{z}" for d, z in zip(s.dataset, s.size_label, strict=True)},
                   key=lambda p: (p.split("/")[0] != "slimpajama", int(p.split("/")[1][:-1])))
    return pairs


def sweep_pair_runs(pair: str) -> tuple[str, str, list[str]]:
    """(constant run, shortest cosine, held-out runs: WSD branches and the longer cosines) of a pair."""
    runs, _, _ = _sweep_tables()
    dataset, size = pair.split("/")
    s = runs[(runs.series == "scaling") & (runs.dataset == dataset) & (runs.size_label == size)]
    const = s[s.schedule == "constant"].index
    cos = s[s.schedule == "cosine"].sort_values("total_steps").index
    wsd = s[s.schedule == "wsd"].sort_values("total_steps").index
    if len(const) != 1 or len(cos) < 2:
        raise ValueError(f"{pair}: expected one constant run and several cosines")
    return const[0], cos[0], [*wsd, *cos[1:]]


@functools.cache
def load_sweep(pair: str, lr: str = "exact") -> dict[str, Run]:
    """The scaling-series runs of one (dataset, size) pair, by run_id."""
    const, cos, test = sweep_pair_runs(pair)
    return {k: sweep_run(k, lr) for k in (const, cos, *test)}


LRGRID = (1e-4, 5e-4, 1e-3, 2e-3)


def lrgrid_runs(peak: float) -> list[str]:
    """The lrsweep runs (124m) at one peak lr, the fitted pair first: const T=50000, then the
    shortest cos-f0.1, then the others."""
    runs, _, _ = _sweep_tables()
    s = runs[(runs.series == "lrsweep") & np.isclose(runs.peak_lr, peak)]
    const = s[s.schedule == "constant"].index[0]
    cos = s[(s.schedule == "cosine") & (s.final_lr > 1e-6)].sort_values("total_steps").index[0]
    return [const, cos, *sorted(set(s.index) - {const, cos})]


@functools.cache
def load_lrgrid(lr: str = "exact") -> dict[str, Run]:
    """Every lrsweep run at the four grid lrs, by run_id."""
    return {k: sweep_run(k, lr) for p in LRGRID for k in lrgrid_runs(p)}


# -- protocols -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Protocol:
    key: str  # 'a' ... 'f'
    dataset: str
    group: str  # the size, pair or target the row is about
    train: tuple[str, ...]
    test: tuple[str, ...]
    load: Callable[[], dict[str, Run]] = field(repr=False, compare=False)
    lr: str = "exact"  # the runs' lr source (LR_SOURCES)


def _mpl_protocols(lr: str = "exact") -> list[Protocol]:
    test_a = tuple(n for n in MPL_RUNS if n not in MPL_TRAIN)
    train_b = ("constant_24000", "cosine_24000")
    train_c = ("constant_24000", "cosine_24000", "wsd_20000_24000", "wsdld_20000_24000")
    out = []
    for key, train, test in (("a", MPL_TRAIN, test_a),
                             ("b", train_b, tuple(n for n in MPL_RUNS if n not in train_b)),
                             ("c", train_c, ("constant_72000", "cosine_72000"))):
        out += [Protocol(key, "mpl_schedules", f"{size}M", train, test, functools.partial(load_mpl, size, lr), lr)
                for size in MPL_SIZES]
    return out


def _pku_protocols(lr: str = "exact") -> list[Protocol]:  # the lr is logged at every step: ``lr`` unused
    return [Protocol("d", "pku_100m_schedules", f"100M ->{target}", tuple(n for n in PKU_RUNS if n != target),
                     (target,), load_pku, "logged") for target in PKU_RUNS]


def _sweep_protocols(lr: str = "exact") -> list[Protocol]:
    out = []
    for pair in sweep_pairs():
        const, cos, test = sweep_pair_runs(pair)
        out.append(Protocol("e", "lr_scheduling_sweep", pair, (const, cos), tuple(test),
                            functools.partial(load_sweep, pair, lr), lr))
    for a in LRGRID:
        train = tuple(lrgrid_runs(a)[:2])
        for b in LRGRID:
            test = tuple(k for k in lrgrid_runs(b) if k not in train)
            out.append(Protocol("f", "lr_scheduling_sweep", f"124m lr {a:g}->{b:g}", train, test,
                                functools.partial(load_lrgrid, lr), lr))
    return out


#: (protocols, needed dataset) in the order they are printed
_BUILDERS = (("abc", "mpl_schedules", _mpl_protocols), ("d", "pku_100m_schedules", _pku_protocols),
             ("ef", "lr_scheduling_sweep", _sweep_protocols))


def protocols(keys: str | Sequence[str] = PROTOCOLS, *, lr: str = "exact",
              skipped: list[str] | None = None) -> list[Protocol]:
    """Every protocol whose dataset is present, filtered by ``keys``, with the runs' lr from ``lr``
    (:data:`LR_SOURCES`); a reason for each dataset that is absent is appended to ``skipped``."""
    if lr not in LR_SOURCES:
        raise ValueError(f"lr must be one of {LR_SOURCES}, not {lr!r}")
    out = []
    for which, dataset, build in _BUILDERS:
        if not set(which) & set(keys):
            continue
        if find(dataset) is None:
            if skipped is not None:
                asked = [k for k in which if k in keys]
                skipped.append(f"{dataset}: not found in {' or '.join(str(b) for b in BASES)}; "
                               f"protocol{'s' if len(asked) > 1 else ''} {', '.join(asked)} skipped")
            continue
        out += [p for p in build(lr) if p.key in keys]
    return out


#: --quick: one MPL size, three sweep pairs, the lr grid fitted at 1e-3 only; no PKU (its per-step
#: logs make a noise-convolution fit take ~70 s of CPU)
QUICK = {"mpl_schedules": ("100M",), "pku_100m_schedules": (),
         "e": ("slimpajama/33m", "slimpajama/124m", "openwebtext2/166m"), "f": ("124m lr 0.001->",)}


def quick(p: Protocol) -> bool:
    if p.key == "e":
        return p.group in QUICK["e"]
    if p.key == "f":
        return p.group.startswith(QUICK["f"])
    return p.group in QUICK[p.dataset]


# -- fitting and scoring ---------------------------------------------------------------------------

_FITS: dict = {}


def fit(p: Protocol, law, fit_with=fit_curves):
    """``fit_with(curves, law)`` (``fit_curves``, defaults) on the protocol's training runs; returns
    (CurveFit, wall seconds, CPU seconds of this process, reused).  Protocols with the same dataset
    and training runs share one fit ((f): one per fit lr).  curves_prior.py passes its own
    ``fit_with`` and a prior as ``law``."""
    runs = p.load()  # cached: one dict per dataset part (size, pair, grid)
    key = (fit_with, id(runs), p.train, law)
    if key in _FITS:
        return (*_FITS[key], True)
    t0, c0 = time.perf_counter(), time.process_time()
    res = fit_with([runs[n].curve for n in p.train], law)
    _FITS[key] = (res, time.perf_counter() - t0, time.process_time() - c0)
    return (*_FITS[key], False)


class Averaged:
    """The equal-weight mean of fitted laws' predicted losses (:data:`AVERAGES`)."""

    def __init__(self, laws) -> None:
        self.laws = tuple(laws)

    def curve(self, lr, steps) -> np.ndarray:
        return np.mean([law.curve(lr, steps) for law in self.laws], axis=0)


def fit_average(p: Protocol, name: str):
    """(Averaged law, wall s, CPU s, reused, component fits) of the average ``name`` on ``p``'s runs."""
    parts = [fit(p, law) for law in AVERAGES[name]]
    return (Averaged(f[0].law for f in parts), sum(f[1] for f in parts), sum(f[2] for f in parts),
            all(f[3] for f in parts), [f[0] for f in parts])


def _blocks(x: np.ndarray, n: int) -> np.ndarray:
    m = x.size // n
    return x[x.size - m * n:].reshape(m, n).mean(axis=1)  # aligned on the last point


def score_run(law, run: Run) -> dict:
    """Final-loss relative error (signed: > 0 = the law over-predicts) and the mean |relative error|
    over the scored part of the curve, of one held-out run predicted from its lr alone."""
    c = run.curve
    pred = law.curve(c.lr, c.steps)
    fin = float(pred[-run.final_steps:].mean() / c.loss[-run.final_steps:].mean() - 1)
    keep = c.steps >= run.score_from
    p, y = _blocks(pred[keep], run.block), _blocks(c.loss[keep], run.block)
    return {"run": run.name, "final_loss": float(c.loss[-run.final_steps:].mean()),
            "final_step": int(c.steps[-1]), "final_rel_error": fin,
            "curve_mre": float(np.mean(np.abs(p / y - 1)))}


def score(law, runs: Sequence[Run]) -> dict:
    """Per held-out run (:func:`score_run`) and over them: the mean and worst |final error|, the
    mean signed final error, the mean curve error."""
    per = [score_run(law, r) for r in runs]
    err = np.array([x["final_rel_error"] for x in per])
    worst = per[int(np.argmax(np.abs(err)))]
    return {"n": len(per), "final_mean": float(np.mean(np.abs(err))), "final_worst": float(np.max(np.abs(err))),
            "worst_run": worst["run"], "final_signed_mean": float(np.mean(err)),
            "curve_mre": float(np.mean([x["curve_mre"] for x in per])), "runs": per}


def run(p: Protocol, law: str) -> dict:
    """Fit and score one (protocol, law or average): one table row (with its per-run details)."""
    runs = p.load()
    if law in AVERAGES:
        avg, secs, cpu, reused, parts = fit_average(p, law)
        s = score(avg, [runs[n] for n in p.test])
        return {"law": law, "protocol": p.key, "dataset": p.dataset, "group": p.group, "lr": p.lr,
                "train": list(p.train), **s, "fit_s": secs, "fit_cpu_s": cpu, "fit_reused": reused,
                "fit_converged": all(bool(f.converged) for f in parts),
                "fit_warnings": [w for f in parts for w in f.warnings], "form": law,
                "warmup_selection": {}, "params": {}}
    res, secs, cpu, reused = fit(p, law)
    s = score(res.law, [runs[n] for n in p.test])
    return {"law": law, "protocol": p.key, "dataset": p.dataset, "group": p.group, "lr": p.lr, "train": list(p.train),
            **s, "fit_s": secs, "fit_cpu_s": cpu, "fit_reused": reused, "fit_converged": bool(res.converged),
            "fit_warnings": list(res.warnings), "form": type(res.law).key, "warmup_selection": res.selection,
            "params": {k: float(getattr(res.law, k)) for k in type(res.law).params}}


# -- the reference figures -----------------------------------------------------------------

#: Issue 18's measured figures (final-loss error, %): (protocol, group, law) -> (mean, worst or None).
#: (b): mean / worst per size; (d): the one target's error; (e): over the 11 pairs ("mean over pairs").
#: The lr each was measured with (REFERENCE_LR): (b) reproduces from the MPL csvs' logged lr column
#: (read as ``fit curves`` reads it), not from the exact schedules; PKU logs the lr at every step.
REFERENCE_LR = {"b": "logged", "d": "logged", "e": "exact"}
REFERENCE = {
    ("b", "25M", "multipower"): (0.89, 1.75), ("b", "100M", "multipower"): (0.36, 0.68),
    ("b", "400M", "multipower"): (0.54, 1.23), ("b", "25M", "annealing"): (0.21, 0.48),
    ("b", "100M", "annealing"): (0.16, 0.43), ("b", "400M", "annealing"): (0.34, 0.89),
    ("b", "25M", "noise-convolution"): (0.25, 0.51), ("b", "100M", "noise-convolution"): (0.32, 0.79),
    ("b", "400M", "noise-convolution"): (0.39, 0.80),
    ("d", "100M ->wsd", "multipower"): (0.51, None), ("d", "100M ->cosine", "multipower"): (0.35, None),
    ("d", "100M ->811", "multipower"): (1.41, None), ("d", "100M ->wsd", "annealing"): (0.47, None),
    ("d", "100M ->cosine", "annealing"): (1.36, None), ("d", "100M ->811", "annealing"): (0.82, None),
    ("d", "100M ->wsd", "noise-convolution"): (0.46, None), ("d", "100M ->cosine", "noise-convolution"): (0.69, None),
    ("d", "100M ->811", "noise-convolution"): (0.39, None),
    ("e", "all pairs", "noise-convolution"): (0.66, 1.45), ("e", "all pairs", "multipower"): (0.82, 1.99),
    ("e", "all pairs", "annealing"): (2.10, 4.21),
}


def summary_rows(rows: list[dict]) -> list[dict]:
    """(e) over its pairs, per law: the mean over pairs of each pair's mean |final error|, the worst
    run, and the mean over every held-out run (n weighted).  Named 'all pairs' only when every pair
    of the dataset is in (the issue's figures are over all 11)."""
    out = []
    for law in (*LAWS, *AVERAGES):
        e = [r for r in rows if r["protocol"] == "e" and r["law"] == law]
        if not e:
            continue
        allr = [x for r in e for x in r["runs"]]
        worst = max(allr, key=lambda x: abs(x["final_rel_error"]))
        group = "all pairs" if len(e) == len(sweep_pairs()) else f"{len(e)} pairs"
        out.append({"law": law, "protocol": "e", "dataset": "lr_scheduling_sweep", "group": group,
                    "lr": e[0]["lr"], "n": len(allr), "pairs": len(e),
                    "final_mean": float(np.mean([r["final_mean"] for r in e])),
                    "final_mean_over_runs": float(np.mean([abs(x["final_rel_error"]) for x in allr])),
                    "final_worst": abs(worst["final_rel_error"]), "worst_run": worst["run"],
                    "final_signed_mean": float(np.mean([x["final_rel_error"] for x in allr])),
                    "curve_mre": float(np.mean([r["curve_mre"] for r in e])),
                    "fit_s": float(sum(r["fit_s"] for r in e))})
    return out


def reference_lines(rows: list[dict]) -> list[str]:
    """Each reference figure beside this run's: 'same' when equal at the issue's two decimals;
    a row measured from another lr source than the issue's says so instead of comparing."""
    by = {(r["protocol"], r["group"], r["law"]): r for r in rows}
    out = []
    for (key, group, law), (mean, worst) in REFERENCE.items():
        r = by.get((key, group, law))
        if r is None:
            continue
        got = f"{100 * r['final_mean']:.2f}" + (f" / {100 * r['final_worst']:.2f}" if worst is not None else "")
        ref = f"{mean:.2f}" + (f" / {worst:.2f}" if worst is not None else "")
        same = round(100 * r["final_mean"], 2) == mean and (worst is None or round(100 * r["final_worst"], 2) == worst)
        verdict = ("same" if same else "DIFFERS") if r.get("lr", "exact") == REFERENCE_LR[key] else \
            f"(issue: {REFERENCE_LR[key]} lr; here {r.get('lr')}: compare with --lr {REFERENCE_LR[key]})"
        out.append(f"  ({key}) {group:<14} {law:<18} issue {ref:>12}%   here {got:>12}%   {verdict}")
    return out


# -- findings: why the laws miss on lr_scheduling_sweep (issue 18, point 2) ------------------------

def _final_errors(law, runs: dict[str, Run], names: Sequence[str], at_end: bool = False) -> np.ndarray:
    """Signed final errors of ``names``; ``at_end``: the prediction at the run's last step T instead
    of at its last val point (which is what it is compared with)."""
    out = []
    for n in names:
        c = runs[n].curve
        at = c.lr.size - 1 if at_end else int(c.steps[-1])
        out.append(law.curve(c.lr, [at])[0] / c.loss[-1] - 1)
    return np.array(out)


def _agg(per_pair: list[np.ndarray]) -> str:
    allr = np.concatenate(per_pair)
    return (f"mean over pairs {100 * np.mean([np.abs(e).mean() for e in per_pair]):.2f}%, worst "
            f"{100 * np.abs(allr).max():.2f}%, signed mean {100 * allr.mean():+.2f}%")


def findings(laws: Sequence[str] = LAWS) -> None:
    """The numbers behind benchmarks/curves_crosslab.md's Findings (printed; fits as in (e))."""
    runs, val, cur = _sweep_tables()
    pairs = sweep_pairs()
    for section in (_f1_lr, _f2_traces, _f3_auto, _f4_area, _f5_mixed_lr, _f6_constant_lr, _f7_gain):
        section(laws, runs, val, cur, pairs)


def _f1_lr(laws, runs, val, cur, pairs) -> None:
    print("F1. lr reconstruction: the exact schedules against every logged lr (train log, every 50 steps)")
    used = [k for p in pairs for k in load_sweep(p)] + list(load_lrgrid())
    dev, join = 0.0, 0.0
    for k in used:
        logged = _joined(k, cur, runs)
        exact = sweep_lr(runs.loc[k], shift=0)[logged.step]
        dev = max(dev, float(np.max(np.abs(exact - logged.lr))) / runs.at[k, "peak_lr"])
        if isinstance(runs.at[k, "resume_from"], str) and runs.at[k, "resume_step"] > 0:
            parent = _joined(runs.at[k, "resume_from"], val, runs).set_index("step").val_loss
            join = max(join, abs(float(val[k].val_loss.iloc[0]) - float(parent[int(runs.at[k, "resume_step"])])))
    print(f"  {len(used)} runs: max |exact - logged| = {dev:.1e} x peak (the logged values are rounded to 6 digits); "
          f"branches: val at the branch point vs the parent's there, max diff {join:.1e}")


def _f2_traces(laws, runs, val, cur, pairs) -> None:
    print("\nF2. (e) under other lr traces and read steps (final-loss error over the 11 pairs)")
    for law in laws:
        for label, lr, at_end in (("exact, aligned (the benchmark)", "exact", False),
                                  ("exact, index t = schedule(t)", "exact-unshifted", False),
                                  ("logged lr column (fit curves' path)", "logged", False),
                                  ("exact, predicted at T, not at the last val step", "exact", True)):
            per = []
            for pair in pairs:
                const, cos, test = sweep_pair_runs(pair)
                rs = {k: sweep_run(k, lr) for k in (const, cos, *test)}
                f = _FITS.get(("F2", pair, lr, law)) or fit_curves([rs[const].curve, rs[cos].curve], law)
                _FITS[("F2", pair, lr, law)] = f
                per.append(_final_errors(f.law, rs, test, at_end))
            print(f"  {law:<18} {label:<48} {_agg(per)}")


def _f3_auto(laws, runs, val, cur, pairs) -> None:
    if "annealing" in laws:
        print("\nF3. annealing, the warmup convention 'auto' chooses (since the fix: each run split at 2/3 of its "
              "own length; 'split' below is the old split, 2/3 of the longest run)")
        per_auto, per_asrun = [], []
        for pair in pairs:
            const, cos, test = sweep_pair_runs(pair)
            rs = load_sweep(pair)
            split = int(2 / 3 * rs[const].curve.steps.max())
            f = fit_curves([rs[const].curve, rs[cos].curve], "annealing")
            g = fit_curves([rs[const].curve, rs[cos].curve], "annealing", warmup="as-run")
            per_auto.append(_final_errors(f.law, rs, test))
            per_asrun.append(_final_errors(g.law, rs, test))
            v = f.selection.get("validation_mre", {})
            end = int(rs[cos].curve.steps.max())
            late = "constant run only" if end <= split else "both runs"
            print(f"  {pair:<18} cosine ends {end:>6}, split {split:>6}: late part = {late}; "
                  f"chose {f.selection.get('chosen'):<6} (late MRE peak {100 * v.get('peak', np.nan):.3f}%, as-run "
                  f"{100 * v.get('as-run', np.nan):.3f}%); C {f.law.C:.3f} vs as-run {g.law.C:.3f}; cosine R^2 "
                  f"{f.runs[1].r2:.3f} vs {g.runs[1].r2:.3f}; mean |err| {100 * np.abs(per_auto[-1]).mean():.2f}% vs "
                  f"{100 * np.abs(per_asrun[-1]).mean():.2f}%")
        print(f"  auto:   {_agg(per_auto)}\n  as-run: {_agg(per_asrun)}")


def _f4_area(laws, runs, val, cur, pairs) -> None:
    print("\nF4. the loss is not a function of the lr area across peak lrs (val loss at equal S1 = sum of lr)")
    for pair in ("slimpajama/93m", "openwebtext2/166m"):
        const, cos, _ = sweep_pair_runs(pair)
        rs = load_sweep(pair)
        for t in (1000, 2000, 4000):
            a = np.cumsum(rs[cos].curve.lr)[t]
            k = int(np.searchsorted(np.cumsum(rs[const].curve.lr), a))
            cc, kc = rs[cos].curve, rs[const].curve
            lc, lk = float(np.interp(t, cc.steps, cc.loss)), float(np.interp(k, kc.steps, kc.loss))
            print(f"  {pair:<18} cosine (peak {runs.at[cos, 'peak_lr']:g}) step {t:>5}: {lc:.4f}; constant "
                  f"(peak {runs.at[const, 'peak_lr']:g}) at the same area, step {k:>5}: {lk:.4f} "
                  f"({100 * (lc / lk - 1):+.1f}%)")
    grid = {p: val[lrgrid_runs(p)[0]].set_index("step").val_loss for p in LRGRID}
    for hi, lo in ((2e-3, 1e-3), (1e-3, 5e-4)):
        for t in (10000, 24800):
            a, b = grid[hi][t], grid[lo][2 * t]
            print(f"  124m lrsweep constant {hi:g} at step {t:>5}: {a:.4f}; constant {lo:g} at step "
                  f"{2 * t:>5} (same area): {b:.4f} ({100 * (a / b - 1):+.1f}%)")


def _f5_mixed_lr(laws, runs, val, cur, pairs) -> None:
    print("\nF5. mixed vs same peak lr in the fit (124m lrsweep, one size/seed/data; targets: the WSD c0.2 linear runs "
          "at the constant's lr, T 15k-50k)")
    for law in laws:
        for const_lr, cos_lr in ((5e-4, 1e-3), (5e-4, 5e-4), (1e-3, 2e-3), (1e-3, 1e-3)):
            rs = load_lrgrid()
            const = lrgrid_runs(const_lr)[0]
            cos = lrgrid_runs(cos_lr)[1]
            wsd = sorted((k for k in lrgrid_runs(const_lr) if "wsd-c0.2-linear" in k),
                         key=lambda k: runs.at[k, "total_steps"])
            # the annealing law also with the as-run warmup forced (F3: 'auto' is decided on the constant run alone)
            for kw in ({}, {"warmup": "as-run"}) if law == "annealing" else ({},):
                f = fit_curves([rs[const].curve, rs[cos].curve], law, **kw)
                e = _final_errors(f.law, rs, wsd)
                print(f"  {law + (' as-run' if kw else ''):<18} fit const {const_lr:g} + cos-f0.1 {cos_lr:g} "
                      f"T{runs.at[cos, 'total_steps']}: WSD {' '.join(f'{100 * x:+.2f}' for x in e)}%  "
                      f"(mean {100 * np.abs(e).mean():.2f}%)")


def _f6_constant_lr(laws, runs, val, cur, pairs) -> None:
    print("\nF6. fitted at the constant's peak lr only (constant + the shortest WSD branch), "
          "predicting the 2x-lr cosines")
    for law in laws:
        per_w, per_c = [], []
        for pair in pairs:
            const, cos, test = sweep_pair_runs(pair)
            rs = load_sweep(pair)
            wsd = [k for k in test if runs.at[k, "schedule"] == "wsd"]
            f = fit_curves([rs[const].curve, rs[wsd[0]].curve], law)
            per_w.append(_final_errors(f.law, rs, wsd[1:]))
            per_c.append(_final_errors(f.law, rs, [k for k in (cos, *test) if runs.at[k, "schedule"] == "cosine"]))
        print(f"  {law:<18} other WSD branches: {_agg(per_w)}; cosines at 2x lr: {_agg(per_c)}")


def _f7_gain(laws, runs, val, cur, pairs) -> None:
    print("\nF7. (e) fits: the gain of each WSD cooldown over the constant run at the WSD's last val step t "
          "(constant's val at t minus the WSD's), predicted / measured")
    for law in laws:
        ratios, lvl, wsd_err = [], [], []
        for pair in pairs:
            const, cos, test = sweep_pair_runs(pair)
            rs = load_sweep(pair)
            f = _FITS.get(("F2", pair, "exact", law)) or fit_curves([rs[const].curve, rs[cos].curve], law)
            kc = rs[const].curve
            for k in (k for k in test if runs.at[k, "schedule"] == "wsd"):
                c = rs[k].curve
                t = int(c.steps[-1])
                pc, pw = f.law.curve(kc.lr, [t])[0], f.law.curve(c.lr, [t])[0]
                yc = float(kc.loss[kc.steps == t][0])
                ratios.append((pc - pw) / (yc - c.loss[-1]))
                lvl.append(pc / yc - 1)
                wsd_err.append(pw / c.loss[-1] - 1)
        print(f"  {law:<18} {len(ratios)} WSD runs: predicted/measured gain mean {np.mean(ratios):.2f} "
              f"(range {min(ratios):.2f}-{max(ratios):.2f}); constant run's level at t {100 * np.mean(lvl):+.2f}% "
              f"(fitted); WSD final {100 * np.mean(wsd_err):+.2f}%")

# -- the table -------------------------------------------------------------------------------------

HEADER = (f"{'law':<18} {'prot':<4} {'dataset / group':<44} {'n':>3} {'final mean':>10} {'worst':>7} "
          f"{'signed':>7} {'curve MRE':>9} {'fit s':>6}  worst run")


def line(r: dict) -> str:
    where = f"{r['dataset'].split('_')[0]} {r['group']}"
    return (f"{r['law']:<18} {r['protocol']:<4} {where:<44} {r['n']:>3} {100 * r['final_mean']:>9.2f}% "
            f"{100 * r['final_worst']:>6.2f}% {100 * r['final_signed_mean']:>+6.2f}% {100 * r['curve_mre']:>8.3f}% "
            f"{r['fit_s']:>6.1f}{'*' if r.get('fit_reused') else ' '} {r['worst_run']}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", metavar="PATH", help="write the rows (with per-run details) as JSON to PATH")
    ap.add_argument("--laws", default=",".join((*LAWS, *AVERAGES)),
                    help=f"comma-separated subset of {', '.join((*LAWS, *AVERAGES))}")
    ap.add_argument("--protocols", default="".join(PROTOCOLS), help="subset of a-f, e.g. 'abc' or 'a,d'")
    ap.add_argument("--lr", choices=LR_SOURCES, default="exact",
                    help="the runs' lr: the exact schedules (default) or the logged lr column as `fit curves` reads it")
    ap.add_argument("--findings", action="store_true",
                    help="print the numbers behind curves_crosslab.md's Findings instead of the table")
    ap.add_argument("--quick", action="store_true",
                    help="MPL 100M, three sweep pairs, (f) fitted at 1e-3; no PKU")
    args = ap.parse_args(argv)
    laws = [x.strip() for x in args.laws.split(",") if x.strip()]
    keys = [k for k in args.protocols.replace(",", "") if k.strip()]
    bad = [x for x in laws if x not in (*LAWS, *AVERAGES)] + [k for k in keys if k not in PROTOCOLS]
    if bad:
        ap.error(f"unknown law or protocol: {', '.join(bad)}")
    t_start = time.perf_counter()
    if args.findings:
        if find("lr_scheduling_sweep") is None:
            print("skipped: lr_scheduling_sweep not found; the findings are about it")
            return 0
        findings([x for x in laws if x in LAWS])
        print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
        return 0
    skipped: list[str] = []
    todo = protocols(keys, lr=args.lr, skipped=skipped)
    if args.quick:
        todo = [p for p in todo if quick(p)]
    for s in skipped:
        print(f"skipped: {s}")
    print(HEADER)
    rows = []
    for p in todo:
        for law in laws:
            r = run(p, law)
            rows.append(r)
            print(line(r), flush=True)
    summary = summary_rows(rows)
    if summary:
        print("\n(e) over the sweep's pairs: final mean = mean over pairs of each pair's mean; n = held-out runs")
        for r in summary:
            print(line(r) + f"  (mean over all {r['n']} runs: {100 * r['final_mean_over_runs']:.2f}%)")
    ref = reference_lines(rows + summary)
    if ref:
        print("\nissue 18's reference figures (final-loss error, mean / worst, %):")
        print("\n".join(ref))
    total = time.perf_counter() - t_start
    fits = [r for r in rows if not r.get("fit_reused")]
    if any(r.get("fit_reused") for r in rows):
        print("\n* the same fit as the row above with the same training runs ((f): one fit per fit lr)")
    print(f"\n{len(fits)} fits ({sum(r['fit_s'] for r in fits):.0f} s), total {total:.0f} s")
    if args.json:
        given = argv if argv is not None else sys.argv[1:]
        meta = {"command": " ".join(["python", "benchmarks/curves_crosslab.py", *given]),
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "python": platform.python_version(),
                "numpy": np.__version__, "data": {n: str(find(n)) for _, n, _ in _BUILDERS},
                "lr": args.lr, "skipped": skipped, "total_s": total}
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows, "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
