"""Training logs in: one tidy, validated record per run (steps, loss, lr trace), with what was dropped.

Any table :func:`hpadvisor.io.tables.read_table` reads (CSV, TSV, JSONL, JSON, Parquet).  Columns are
found by name (W&B's ``_step`` and ``train/loss``, HF Trainer's ``trainer/global_step`` and
``learning_rate``...) or named with ``--map loss=train/lm_loss``.  A ``run`` column splits one file
into several runs.  Rules, each reported in :attr:`LogRun.notes` (never applied silently):

* rows without a loss (the lr is often logged every step, the loss less often) are not fitted;
* non-finite (NaN, inf) or non-positive losses and loss spikes are excluded, with their steps;
* unsorted steps are sorted; a repeated step with the same values is dropped; a repeated step
  with different losses (a restart that re-logged steps) is rejected: keep one segment;
* the lr may be sparse: :meth:`LogRun.lr_sequence` interpolates it to every step.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.io.traces import MAX_LR, check_length, interpolate_trace

COLUMNS = {
    # the trainer's optimizer step before W&B's _step, which counts log calls (eval rows too) when the
    # HF Trainer's WandbCallback logs train/global_step beside it
    "step": ("trainer/global_step", "train/global_step", "global_step", "_step", "iteration", "iter",
             "iters", "steps", "optimizer_step", "num_steps"),
    # Megatron "lm loss" and GPT-NeoX "train/lm_loss" fold to lm_loss; torchtitan logs
    # loss_metrics/global_avg_loss (never its global_max_loss), OLMo train/CrossEntropyLoss.
    "loss": ("train/loss", "train_loss", "training_loss", "loss/train", "train/loss_step", "lm_loss",
             "train/lm_loss", "train/ce_loss", "ce_loss", "loss_metrics/global_avg_loss",
             "train/crossentropyloss"),
    # Lightning's LearningRateMonitor logs lr-<Optimizer>; OLMo optim/learning_rate_group0.
    "lr": ("learning_rate", "train/learning_rate", "trainer/learning_rate", "train/lr", "optim/lr",
           "lr-adamw", "lr-adam", "lr_0", "learning-rate", "learningrate", "optim/learning_rate_group0"),
    "run": ("run_name", "run_id", "name", "experiment", "series"),
}
#: A point is a spike when it lies this far above the running median (relative), and well above
#: the curve's own noise (SPIKE_MADS robust standard deviations).
SPIKE_REL = 0.02
SPIKE_MADS = 8.0
SPIKE_WINDOW = 11
#: A run has diverged from the first of at least DIVERGED_POINTS last points that all lie this far
#: above the lowest running median before them (a sustained rise, which the running median follows).
DIVERGED_REL = 0.1
DIVERGED_POINTS = 3


@dataclass(frozen=True)
class LogRun:
    """One run from a log file: fit-ready points, the lr trace, and what was done to the data."""

    name: str
    file: str
    sha256: str
    steps: np.ndarray  # steps with a usable loss, sorted
    loss: np.ndarray
    lr_steps: np.ndarray  # steps with an lr (may be empty: no lr column)
    lr: np.ndarray
    notes: tuple[str, ...] = ()
    excluded: tuple[tuple[int, str], ...] = field(default=())
    lr_column: bool = False  # the log has an lr column (even if every cell is blank)

    @property
    def has_lr(self) -> bool:
        return self.lr.size > 0

    def lr_sequence(self, total_steps: int | None = None, warmup_steps: int | None = None) -> np.ndarray:
        """The per-step lr (index = step), interpolated from the logged lr; a linear warmup from 0
        before it (over ``warmup_steps`` when given and no later than the first logged lr)."""
        if not self.has_lr:
            raise DataError(
                f"'{self.file}' has no lr column: give the schedule (`shape`, `peak`, `warmup_steps`, "
                "`total_steps`) or name the column with `mapping` lr=<column>."
            )
        T = max(int(self.steps.max()), int(self.lr_steps.max())) if total_steps is None else total_steps
        return interpolate_trace(self.lr_steps, self.lr, T, warmup_steps=warmup_steps)

    def source(self, first_step: int = 0) -> dict:
        """What a law file records of this run's data: file, hash, the steps from ``first_step`` on
        (those a fit can use), and the excluded points by step (the first 1,000)."""
        used = self.steps[self.steps >= first_step]
        return {"file": self.file, "sha256": self.sha256, "run": self.name,
                "steps": [int(used.min()), int(used.max())] if used.size else [], "points": int(used.size),
                "excluded": len(self.excluded), "excluded_steps": [int(s) for s, _ in self.excluded[:1000]]}


def read_log(path: str | os.PathLike[str], *, mapping: dict[str, str] | None = None,
             require_lr: bool = False, planned_lr: np.ndarray | None = None) -> list[LogRun]:
    """Read a training log into one :class:`LogRun` per run (one, without a run column).

    ``planned_lr``: the per-step lr the runs without an lr column ran (a given schedule); it tells
    a loss that rises at the end because the lr rose (a WSD-S rewarm) from a diverging run.
    """
    from hpadvisor.io.tables import event_files, read_table

    folder = Path(path)
    if folder.is_dir() and not event_files(folder):  # TensorBoard's log root: one run per subdirectory
        runs_in = sorted(d for d in folder.iterdir() if d.is_dir() and event_files(d))
        if runs_in:
            return [run for d in runs_in for run in read_log(d, mapping=mapping, require_lr=require_lr,
                                                              planned_lr=planned_lr)]
    required = ["step", "loss"] + (["lr"] if require_lr else [])
    said: list[str] = []
    mapping = dict(mapping or {})  # a W&B chart export consumes its loss/lr entries (read_table maps after reshape)
    frame = read_table(path, columns=COLUMNS, required=required, mapping=mapping,
                       numeric=["step", "loss", "lr"], what="log",
                       reshape=lambda f: _wandb_wide(f, mapping, said))
    digest = frame.attrs["sha256"]
    said += frame.attrs.get("read_notes", [])
    step_col = frame.attrs.get("column_of", {}).get("step")
    if step_col not in (None, "_step") and "_step" in frame.columns:
        said.append(f"step from '{step_col}' (the optimizer step); W&B's _step, which counts log calls, not used.")
    # loss cells that said NaN (a diverged value), as opposed to blank ones (not evaluated there)
    nan_loss = frame.attrs.get("nan_cells", {}).get("loss", np.zeros(len(frame), dtype=bool))
    nan_lr = frame.attrs.get("nan_cells", {}).get("lr")
    if nan_lr is not None and nan_lr.any():  # a blank lr is a step without one; NaN is a broken value
        from hpadvisor.io.tables import row_label

        row = int(np.flatnonzero(nan_lr)[0])
        at = frame["step"].iloc[row]
        where = f"step {at:g}" if np.isfinite(at) else row_label(frame, row)
        raise DataError(f"log '{path}': the lr at {where} is NaN, not a number "
                        "(leave the cell blank where the lr was not logged).")
    frame = frame.reset_index(drop=True)
    if "run" in frame.columns:
        groups = [(str(k), g) for k, g in frame.groupby(frame["run"].astype(str), sort=False)]
    else:
        groups = [(run_name(path), frame)]
    runs = [_one_run(name, g, nan_loss[g.index.to_numpy()], str(path), digest, planned_lr) for name, g in groups]
    if said and runs:  # said once, with the first run
        runs[0] = dataclasses.replace(runs[0], notes=(*said, *runs[0].notes))
    return runs


#: A W&B chart's CSV export: a "Step" column, then "<run> - <metric>" columns (and __MIN/__MAX
#: columns when the chart was sampled).
_WIDE = re.compile(r"^(?P<run>.+) - (?P<metric>.+?)(?P<agg>__MIN|__MAX)?$")  # a run name may hold " - "


def _wandb_wide(frame, mapping: dict[str, str], said: list[str]):
    """The long form (step, loss, lr, run) of a W&B chart export, or ``frame`` itself if it is not one."""
    import pandas as pd

    from hpadvisor.io.tables import normalise

    names = {canon: {normalise(a) for a in (canon, *COLUMNS[canon])} | ({normalise(mapping[canon])} if canon in mapping
                                                                      else set()) for canon in ("loss", "lr")}
    step = next((c for c in frame.columns if normalise(c) in ("step", "_step")), None)
    if step is None or any(normalise(c) in names["loss"] for c in frame.columns):  # a plain loss column: not wide
        return frame
    per_run: dict[str, dict[str, str]] = {}
    for col in frame.columns:
        m = _WIDE.match(col)
        if m is None or m["agg"]:
            continue
        for canon, accepted in names.items():
            if normalise(m["metric"]) in accepted:
                per_run.setdefault(m["run"], {}).setdefault(canon, col)
    runs = {r: cols for r, cols in per_run.items() if "loss" in cols}
    if not runs:
        return frame
    parts = [pd.DataFrame({"step": frame[step], "loss": frame[cols["loss"]],
                           "lr": frame[cols["lr"]] if "lr" in cols else None, "run": run})
             for run, cols in runs.items()]
    for canon in ("loss", "lr", "step", "run"):
        mapping.pop(canon, None)  # the long frame names its columns itself
    said.append(f"a W&B chart export: {len(runs)} run{'s' if len(runs) > 1 else ''} "
                f"({', '.join(runs)}), one column each; __MIN/__MAX columns ignored.")
    long = pd.concat(parts, ignore_index=True)
    return long if any("lr" in cols for cols in runs.values()) else long.drop(columns="lr")


def run_name(path: str | os.PathLike[str]) -> str:
    """A log's run name without a run column: the file's stem; for TensorBoard, the run directory's
    name (an event file's name is a timestamp and a host)."""
    from hpadvisor.io.tables import is_event_file

    p = Path(path)
    if p.is_dir():
        return p.resolve().name
    return p.resolve().parent.name if is_event_file(p) else p.stem


def _one_run(name: str, frame, nan_loss: np.ndarray, path: str, digest: str,
             planned_lr: np.ndarray | None = None) -> LogRun:
    where = f"log '{path}'" + (f", run '{name}'" if name != run_name(path) else "")
    notes: list[str] = []
    step = frame["step"].to_numpy(dtype=float)
    loss = frame["loss"].to_numpy(dtype=float)
    lr = frame["lr"].to_numpy(dtype=float) if "lr" in frame.columns else np.full(step.size, np.nan)
    step, loss, lr, nan_loss = _ordered_steps(where, frame, step, loss, lr, nan_loss, notes)
    step, loss, lr, nan_loss = _merge_repeated_steps(where, step, loss, lr, nan_loss, notes)
    has_lr = ~np.isnan(lr)
    lr_steps, lr_vals = step[has_lr], lr[has_lr]
    if np.any(~np.isfinite(lr_vals)):
        raise DataError(f"{where}: the lr column has a value that is not finite.")
    _check_lr_range(lr_steps, lr_vals, where)
    s_good, l_good, excluded = _finite_losses(step, loss, nan_loss, notes)
    spikes = _spikes_and_divergence(s_good, l_good, lr_steps, lr_vals, planned_lr, excluded, notes)
    if excluded:
        shown = ", ".join(str(s) for s, _ in excluded[:5]) + (" ..." if len(excluded) > 5 else "")
        notes.append(f"excluded {len(excluded)} diverged points (NaN/inf/non-positive/spikes) at steps {shown}.")
    s_fit, l_fit = s_good[~spikes], l_good[~spikes]
    if s_fit.size == 0:
        raise DataError(f"{where}: no usable loss values (all blank, NaN, inf, not positive, or spikes).")
    return LogRun(name=name, file=path, sha256=digest, steps=s_fit.astype(np.int64), loss=l_fit,
                  lr_steps=lr_steps, lr=lr_vals, notes=tuple(notes), excluded=tuple(excluded),
                  lr_column="lr" in frame.columns)


def _ordered_steps(where: str, frame, step: np.ndarray, loss: np.ndarray, lr: np.ndarray, nan_loss: np.ndarray,
                   notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows with a step, checked (whole, >= 0, within the length limit) and in step order;
    rows with neither step, loss nor lr (another metric's) skipped."""
    nostep = ~np.isfinite(step)
    empty = nostep & np.isnan(loss) & np.isnan(lr) & ~nan_loss  # another metric's rows (eval), nothing of ours
    if empty.any():
        keep = ~empty
        step, loss, lr, nan_loss, frame = step[keep], loss[keep], lr[keep], nan_loss[keep], frame[keep]
        notes.append(f"{int(empty.sum())} rows without a step, a loss or an lr (another metric's) skipped.")
        if step.size == 0:
            raise DataError(f"{where}: no row has a step with a loss or an lr.")
    if np.any(~np.isfinite(step)):
        from hpadvisor.io.tables import row_label

        row = int(frame.index[np.flatnonzero(~np.isfinite(step))[0]])  # the position in the file
        raise DataError(f"{where}: {row_label(frame, row)} has a loss or an lr but no step number; every such row "
                        "needs one (`mapping` step=<column> names the step column).")
    if np.any(step < 0) or np.any(step != np.round(step)):
        bad = step[(step < 0) | (step != np.round(step))][0]
        raise DataError(f"{where}: step {bad:g} is not a whole number >= 0.")
    try:
        check_length(float(step.max()), where)
    except InvalidInputError as exc:
        raise DataError(str(exc)) from None
    if np.any(np.diff(step) < 0):
        order = np.argsort(step, kind="stable")
        step, loss, lr, nan_loss = step[order], loss[order], lr[order], nan_loss[order]
        notes.append("steps were not in order: sorted them.")
    return step, loss, lr, nan_loss


def _merge_repeated_steps(where: str, step: np.ndarray, loss: np.ndarray, lr: np.ndarray, nan_loss: np.ndarray,
                          notes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeated steps (sorted input): rows that agree are merged (an lr row and a loss row of the
    same step); different values at one step are refused."""
    uniq, first, counts = np.unique(step, return_index=True, return_counts=True)
    if not np.any(counts > 1):
        return step, loss, lr, nan_loss
    keep_loss = np.full(uniq.size, np.nan)
    keep_lr = np.full(uniq.size, np.nan)
    idx = np.searchsorted(uniq, step)
    for values, out, what in ((loss, keep_loss, "loss"), (lr, keep_lr, "lr")):
        for i in np.flatnonzero(counts > 1):
            v = values[idx == i]
            v = v[~np.isnan(v)]
            with np.errstate(all="ignore"):  # inf - inf, or two values near the float limit
                differ = v.size > 0 and not np.all(v == v[0]) and not (
                    np.ptp(v) <= 1e-12 * max(1.0, float(np.abs(v).max())))
            if differ:
                raise DataError(
                    f"{where}: step {uniq[i]:g} appears {counts[i]} times with different {what} values "
                    f"({', '.join(f'{x:g}' for x in v[:3])}): a run restarted from a checkpoint? Keep "
                    "the later segment: drop the earlier one's rows from that step on (as TensorBoard does)."
                )
        ok = ~np.isnan(values)
        out[idx[ok]] = values[ok]
    # a NaN loss and a number at the same step: the number stands (the NaN row is another logger's)
    nan_at = np.zeros(uniq.size, dtype=bool)
    nan_at[idx[nan_loss]] = True
    nan_at &= np.isnan(keep_loss)
    notes.append(f"{int(np.sum(counts - 1))} repeated step rows with identical values merged.")
    return uniq, keep_loss, keep_lr, nan_at


def _finite_losses(step: np.ndarray, loss: np.ndarray, nan_loss: np.ndarray,
                   notes: list[str]) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
    """(steps, losses) with a finite positive loss, and the excluded (step, reason) of the others;
    a blank loss (not evaluated there) is neither."""
    excluded: list[tuple[int, str]] = []
    missing = np.isnan(loss) & ~nan_loss
    if missing.any():
        n_blank = int(missing.sum())
        notes.append(f"{n_blank} row{'s' if n_blank > 1 else ''} with a blank loss (not evaluated there) {'were' if n_blank > 1 else 'was'} not fitted.")
    bad = ~missing & (~np.isfinite(loss) | (loss <= 0))
    fine = np.flatnonzero(~missing & ~bad)
    tail = np.flatnonzero(bad)
    tail = tail[tail > (fine[-1] if fine.size else -1)]
    if tail.size:  # the run never came back: say where it went
        notes.append(f"the loss is not a finite positive number from step {step[tail[0]]:g} to the end: "
                     "the run diverged there; fitted up to it.")
    for s, v in zip(step[bad], loss[bad], strict=True):
        excluded.append((int(s), f"loss {v:g} is not a finite positive number"))
    good = ~missing & ~bad
    return step[good], loss[good], excluded


def _spikes_and_divergence(s_good: np.ndarray, l_good: np.ndarray, lr_steps: np.ndarray, lr_vals: np.ndarray,
                           planned_lr: np.ndarray | None, excluded: list[tuple[int, str]],
                           notes: list[str]) -> np.ndarray:
    """The points not fitted among the finite ones: spikes above the running median, and every
    point from where the run diverged for good (unless the lr rose there); their reasons are
    added to ``excluded``."""
    # A loss that rises at the end because the lr rose (a warmup, a WSD-S rewarm) is not a spike.
    tail_from = s_good[-SPIKE_WINDOW] if s_good.size >= SPIKE_WINDOW else (s_good[0] if s_good.size else 0)
    lr_tail = lr_vals[lr_steps >= tail_from - 1]
    if not lr_vals.size and planned_lr is not None and s_good.size:  # no lr logged: the planned one
        lr_tail = planned_lr[int(max(tail_from - 1, 0)): int(s_good[-1]) + 1]
    spikes = find_spikes(l_good, judge_end=not (lr_tail.size > 1 and np.any(np.diff(lr_tail) > 0)))
    for s, v in zip(s_good[spikes], l_good[spikes], strict=True):
        excluded.append((int(s), f"loss {v:g} is a spike above the running median"))
    start = diverged_from(l_good)
    if start is not None:
        at, before = s_good[start], (s_good[start - 1] if start > 0 else 0)
        lr_in = lr_vals[lr_steps >= before]  # from the last point before the rise
        if not lr_vals.size and planned_lr is not None:
            lr_in = planned_lr[int(before):]
        if not (lr_in.size > 1 and np.any(np.diff(lr_in) > 0)):  # a loss that rises with the lr is not this
            notes.append(f"the loss rose to {l_good[start]:g} at step {at:g} and stayed more than "
                         f"{DIVERGED_REL:.0%} above its best so far to the end: the run diverged there; "
                         "fitted up to it.")
            excluded += [(int(s), f"loss {v:g}: after the run diverged at step {at:g}")
                         for s, v, spike in zip(s_good[start:], l_good[start:], spikes[start:], strict=True)
                         if not spike]
            spikes[start:] = True
    return spikes


def diverged_from(loss: np.ndarray) -> int | None:
    """Index of the first of the last points (at least DIVERGED_POINTS) that all lie more than
    DIVERGED_REL above the lowest running median (SPIKE_WINDOW points) before them: the run blew up
    there and never came back.  None if it did not."""
    n = loss.size
    if n < SPIKE_WINDOW + DIVERGED_POINTS:
        return None
    half = SPIKE_WINDOW // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(loss, half, mode="edge"), SPIKE_WINDOW)
    best_before = np.r_[np.inf, np.minimum.accumulate(np.median(windows, axis=1))[:-1]]
    above = loss > (1 + DIVERGED_REL) * best_before
    if not above[-1]:
        return None
    start = n - int(np.argmin(above[::-1])) if not above.all() else 0
    return start if n - start >= DIVERGED_POINTS else None


def find_spikes(loss: np.ndarray, judge_end: bool = True) -> np.ndarray:
    """Points far above the running median (a robust window of SPIKE_WINDOW points).

    The last points are judged against the points before them (``judge_end``; off where the lr
    rises at the end, which raises the loss); the first point cannot be told from the steep start
    of training and is never called a spike.
    """
    n = loss.size
    if n < 5:
        return np.zeros(n, dtype=bool)
    half = SPIKE_WINDOW // 2
    # The end is padded by reflection: repeating the last point would make it its own median, and
    # a run that diverges in its last points would be fitted.  The start is padded by repetition:
    # the first points of a run fall steeply, so their neighbours' median is always below them.
    padded = np.concatenate([np.full(half, loss[0]), loss, loss[-2::-1][:half]])
    if not judge_end or padded.size < n + 2 * half:  # lr rising at the end, or too few points
        padded = np.pad(loss, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, SPIKE_WINDOW)
    med = np.median(windows, axis=1)
    resid = loss - med
    mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    return (resid > SPIKE_REL * med) & (resid > SPIKE_MADS * max(mad, 1e-12))


def _check_lr_range(steps: np.ndarray, lr: np.ndarray, where: str) -> None:
    """A logged lr must be >= 0 and at most MAX_LR (a larger value is a scaled column or another metric)."""
    if np.any(lr < 0):
        i = int(np.flatnonzero(lr < 0)[0])
        raise DataError(f"{where}: lr at step {steps[i]:g} is {lr[i]:g}; a learning rate must be >= 0.")
    if np.any(lr > MAX_LR):
        i = int(np.flatnonzero(lr > MAX_LR)[0])
        raise DataError(f"{where}: lr at step {steps[i]:g} is {lr[i]:.4g}, above {MAX_LR:g}: not a learning "
                        "rate (is the column scaled, or another metric?).")


def read_trace(path: str, *, mapping: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(steps, lr) of a ``(step, lr)`` trace file (CSV/TSV/JSONL/Parquet); sorted, validated."""
    from hpadvisor.io.tables import read_table, row_label

    frame = read_table(path, columns={"step": COLUMNS["step"], "lr": COLUMNS["lr"]},
                       required=["step", "lr"], mapping=mapping, what="lr trace")
    for col in ("lr", "step"):  # a cell that says NaN is an error; a blank one is a row without a value
        nan = frame.attrs.get("nan_cells", {}).get(col)
        if nan is not None and nan.any():
            row = int(np.flatnonzero(nan)[0])
            stepped = col == "lr" and math.isfinite(float(frame["step"].iloc[row]))
            where = f"step {frame['step'].iloc[row]:g}" if stepped else row_label(frame, row)
            raise DataError(f"lr trace '{path}': the {col} at {where} is NaN, not a number.")
    frame = frame.dropna(subset=["step", "lr"])
    s = frame["step"].to_numpy(float)
    v = frame["lr"].to_numpy(float)
    if s.size == 0:
        raise DataError(f"lr trace '{path}' has no rows with both a step and an lr.")
    if np.any(~np.isfinite(v)) or np.any(~np.isfinite(s)):
        raise DataError(f"lr trace '{path}' has a value that is not a finite number.")
    _check_lr_range(s, v, f"lr trace '{path}'")
    if np.any(s < 0) or np.any(s != np.round(s)):
        raise DataError(f"lr trace '{path}': steps must be whole numbers >= 0.")
    order = np.argsort(s, kind="stable")
    s, v = s[order], v[order]
    dup = np.flatnonzero(np.diff(s) == 0)
    if dup.size:
        if np.any(v[dup] != v[dup + 1]):
            raise DataError(f"lr trace '{path}': step {s[dup[0]]:g} appears twice with different lr values.")
        keep = np.ones(s.size, bool)
        keep[dup + 1] = False
        s, v = s[keep], v[keep]
    return s, v


