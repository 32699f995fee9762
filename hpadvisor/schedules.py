"""Learning-rate schedules, per optimizer step, exactly as the trainers compute them.

A :class:`Schedule` gives ``lr(steps)`` for any array of optimizer-step indices ``s`` (0-based:
``lr(s)`` is the learning rate of the ``s``-th update) and ``sequence()`` = ``lr(0..total_steps)``,
the per-step sequence the curve laws sum over.  Shapes (LAWS.md section 5, names as trainers use
them, CONVENTIONS.md): ``constant``, ``cosine``, ``linear`` (``min_lr = 0`` is linear decay to zero,
D2Z), ``wsd`` with ``decay_shape`` ``linear`` / ``1-sqrt`` / ``cosine`` / ``exponential`` (Megatron's
``2 * 0.5**r - 1``) / ``geometric`` (peak**(1-r) * min**r, the Multi-Power-Law runs), ``multistep``
(DeepSeek: 31.6% of peak after 80%, 10% after 90%), ``inverse_sqrt``, ``wsd_restarts`` (WSD-S:
a cooldown at the end of every cycle, back to peak afterwards), and ``trace`` (a logged
``(step, lr)`` list, interpolated to every step).

Warmup and end-of-decay conventions differ by trainer; ``convention`` picks one:

``megatron`` (Megatron-LM ``OptimizerParamScheduler.get_lr``; also GPT-NeoX and the
    Multi-Power-Law code): ``init + (peak - init) * s / W`` for ``s <= W`` (so ``lr(W) = peak``);
    decay ratio ``(s - W) / (T - W)``; ``min_lr`` for ``s > T``.  WSD's cooldown starts at
    ``T - decay_steps`` and ``lr(T) = min_lr``.
``hf`` (transformers ``get_*_schedule_with_warmup``, a LambdaLR whose factor at step ``s`` is used by
    update ``s``): ``s / W`` for ``s < W``; progress ``(s - W) / (T - W)``; ``min_lr`` from ``T`` on.
``nanogpt`` (nanoGPT ``get_lr``): ``peak * (s + 1) / (W + 1)`` for ``s < W``; decay ratio
    ``(s - W) / (T - W)``; ``min_lr`` for ``s > T``.
``torchtitan`` (``linear_warmup_stable_decay`` in torchtitan/components/lr_scheduler.py, the
    ``min_lr_factor`` versions; a LambdaLR like HF's): ``peak * (s + 1) / W`` for ``s < W`` (the
    ramp reaches the peak at update ``W - 1``); then Megatron's decay: ratio ``(s - W) / (T - W)``,
    WSD's cooldown from ``T - decay_steps`` with ``lr(T) = min_lr`` (its "virtual last step").
    Versions with the older ``lr_min`` field ramped ``(s + 1) / (W + 1)`` and decayed over one
    step more; :func:`from_trainer` says so when a config uses that field.

``neox`` (GPT-NeoX ``AnnealingLR.get_lr``): Megatron's warmup; cosine
    ``min + (peak - min) (1 + cos(pi q)) / 2`` and linear ``peak (1 - q)`` (to zero, not to
    ``min_lr``), both floored by ``max(lr, min_lr)``, with ``q = (s - W) / (T - W)`` not capped at
    1: past the horizon the cosine rises again.  Other shapes as Megatron.

nanotron (``lr_scheduler_builder`` in nanotron/helpers.py) is Megatron's convention exactly:
``s / W`` for ``s <= W``, decay ratio ``(s - start) / decay_steps``, ``min_decay_lr`` after.

``warmup_init`` is where warmup starts as a fraction of the peak (0 by default in every trainer
here; Megatron's ``lr_warmup_init`` sets it, nanotron's constant warmup style is 1; Hägele et al.
2024 start at peak/100).  Everything is vectorised numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hpadvisor.errors import InvalidInputError, bad_value, did_you_mean
from hpadvisor.spec import DECAY_ALIASES, DECAY_SHAPES  # the run file's vocabulary

SHAPES = ("constant", "cosine", "linear", "wsd", "multistep", "inverse_sqrt", "wsd_restarts", "trace")
CONVENTIONS = ("megatron", "hf", "nanogpt", "torchtitan", "neox")
#: WSD-S cycles are evaluated one by one; far more than anyone runs, and a bound on the work.
MAX_COOLDOWNS = 10_000
#: DeepSeek LLM's multi-step schedule (LAWS.md section 5): (fraction of the run, factor of peak).
DEEPSEEK_MILESTONES = ((0.8, 0.316), (0.9, 0.1))


#: Longest schedule materialised step by step.  Pretraining runs take at most a few million
#: optimizer steps; a larger number is almost always tokens or samples.  At this length a curve
#: law's prediction took 13 s and 1.4 GB, compare-schedules 38 s (2-core machine, 2026-12-01; at
#: the earlier 50M limit, 103 s and 7 GB).
MAX_STEPS = 10_000_000


def check_length(total_steps: float, what: str = "the schedule") -> int:
    """``total_steps`` as an int, or one clear error when it is too long to build per step."""
    if not math.isfinite(total_steps) or total_steps > MAX_STEPS:
        raise InvalidInputError(
            f"{what} runs to step {total_steps:.4g}, beyond the {MAX_STEPS:,} steps hpadvisor builds "
            "step by step: are these optimizer steps (not tokens or samples)?"
        )
    return int(total_steps)


def decay_coefficient(shape: str, r: np.ndarray, floor_ratio: float = 0.0) -> np.ndarray:
    """Coefficient in [0, 1] of (peak - min) at decay progress ``r`` in [0, 1] (1 at r=0, 0 at r=1).

    Megatron's styles: linear ``1 - r``, cosine ``(1 + cos(pi r)) / 2``, exponential
    ``2 * 0.5**r - 1``, minus_sqrt ``1 - sqrt(r)``.  ``geometric`` interpolates in log lr
    (peak**(1-r) * min**r, Luo et al. 2025's WSD runs) and needs ``floor_ratio`` = min/peak > 0.
    """
    r = np.clip(r, 0.0, 1.0)
    if shape == "linear":
        return 1.0 - r
    if shape == "cosine":
        return 0.5 * (1.0 + np.cos(np.pi * r))
    if shape == "1-sqrt":
        return 1.0 - np.sqrt(r)
    if shape == "exponential":
        return 2.0 * np.power(0.5, r) - 1.0
    if shape == "geometric":
        if not floor_ratio > 0:
            raise InvalidInputError("a geometric cooldown needs min_lr > 0 (it decays in log lr).")
        lr = np.power(floor_ratio, r)  # in units of peak
        return (lr - floor_ratio) / (1.0 - floor_ratio) if floor_ratio < 1 else np.ones_like(r)
    raise InvalidInputError(f"unknown cooldown shape '{shape}'.{did_you_mean(shape, DECAY_SHAPES)}")


@dataclass(frozen=True)
class Schedule:
    """One learning-rate schedule.  Steps are optimizer updates, 0-based; ``total_steps`` = T."""

    shape: str
    peak: float
    total_steps: int
    warmup_steps: int = 0
    min_lr: float = 0.0
    warmup_init: float = 0.0  # fraction of peak at step 0
    decay_steps: int | None = None  # wsd: cooldown length (default 20% of T, Hägele et al. 2024)
    decay_shape: str = "linear"
    milestones: tuple[tuple[float, float], ...] = DEEPSEEK_MILESTONES  # multistep
    cycles: tuple[int, ...] = ()  # wsd_restarts: end step of each cycle (the last is T)
    convention: str = "megatron"
    trace_steps: tuple[float, ...] = field(default=(), repr=False)
    trace_lr: tuple[float, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        where = "Schedule"
        if self.shape not in SHAPES:
            raise InvalidInputError(f"unknown schedule shape '{self.shape}'.{did_you_mean(self.shape, SHAPES)}")
        if self.convention not in CONVENTIONS:
            raise InvalidInputError(
                f"unknown schedule convention '{self.convention}'.{did_you_mean(self.convention, CONVENTIONS)}"
            )
        shape = DECAY_ALIASES.get(self.decay_shape, self.decay_shape)
        if shape not in DECAY_SHAPES:
            raise InvalidInputError(f"unknown cooldown shape '{self.decay_shape}'.{did_you_mean(self.decay_shape, DECAY_SHAPES)}")
        object.__setattr__(self, "decay_shape", shape)
        _check(self.peak, "peak", where, "a finite number > 0", lambda x: x > 0)
        _check(self.total_steps, "total_steps", where, "a whole number >= 1", lambda x: x >= 1 and x == int(x))
        check_length(float(self.total_steps), f"the {self.shape} schedule")
        # Megatron and GPT-NeoX count a fractional warmup exactly (lr_warmup_fraction x the horizon,
        # or samples / batch): lr(s) = peak s / W for s <= W, the decay from s = W; the others whole steps.
        exact = self.convention in ("megatron", "neox")
        _check(self.warmup_steps, "warmup_steps", where,
               "a number of steps in [0, total_steps]" if exact else "a whole number in [0, total_steps]",
               lambda x: 0 <= x <= self.total_steps and (exact or x == int(x)))
        _check(self.min_lr, "min_lr", where, "in [0, peak]", lambda x: 0 <= x <= self.peak)
        _check(self.warmup_init, "warmup_init", where, "a fraction of the peak in [0, 1]", lambda x: 0 <= x <= 1)
        object.__setattr__(self, "total_steps", int(self.total_steps))
        w = float(self.warmup_steps)
        object.__setattr__(self, "warmup_steps", int(w) if w.is_integer() else w)
        if self.shape == "wsd":
            d = self.decay_steps if self.decay_steps is not None else round(0.2 * self.total_steps)
            _check(d, "decay_steps", where, f"a whole number in [1, total_steps - warmup_steps = "
                   f"{self.total_steps - self.warmup_steps}]",
                   lambda x: 1 <= x <= self.total_steps - self.warmup_steps and x == int(x))
            object.__setattr__(self, "decay_steps", int(d))
        if self.shape == "wsd_restarts" and self.decay_steps is not None:
            _check(self.decay_steps, "decay_steps", where, "a whole number in [1, total_steps]",
                   lambda x: 1 <= x <= self.total_steps and x == int(x))
            object.__setattr__(self, "decay_steps", int(self.decay_steps))
        if self.decay_shape == "geometric" and self.min_lr <= 0:
            raise InvalidInputError("a geometric cooldown needs min_lr > 0 (it decays in log lr).")
        if self.shape == "multistep":
            for frac, factor in self.milestones:
                if not (0 < frac <= 1 and 0 <= factor <= 1):
                    raise InvalidInputError(
                        f"multistep milestone ({frac}, {factor}) must be (fraction of the run in (0, 1], factor in [0, 1])."
                    )
        if self.shape == "wsd_restarts":
            try:
                ends = tuple(int(c) for c in self.cycles) or (self.total_steps,)
            except (TypeError, ValueError, OverflowError):
                raise InvalidInputError("wsd_restarts cycles must be whole step numbers.") from None
            if list(ends) != sorted(set(ends)) or ends[0] <= self.warmup_steps or ends[-1] > self.total_steps:
                raise InvalidInputError(
                    "wsd_restarts cycles must be increasing step numbers after warmup and <= total_steps."
                )
            object.__setattr__(self, "cycles", ends)
        if self.shape == "trace":
            s = np.asarray(self.trace_steps, float)
            lr = np.asarray(self.trace_lr, float)
            if s.size == 0 or s.size != lr.size:
                raise InvalidInputError("a trace needs matching, non-empty step and lr lists.")

    # -- evaluation -----------------------------------------------------------------------------
    def lr(self, steps: Sequence[float] | np.ndarray | float) -> np.ndarray:
        """Learning rate of update ``steps`` (0-based); vectorised."""
        s = np.asarray(steps, dtype=float)
        if np.any(~np.isfinite(s)) or np.any(s < 0):
            bad = s[~np.isfinite(s) | (s < 0)].flat[0]
            raise bad_value("steps", "Schedule.lr", "finite and >= 0", float(bad))
        if self.shape == "trace":
            return np.interp(s, np.asarray(self.trace_steps, float), np.asarray(self.trace_lr, float))
        peak, W = self.peak, self.warmup_steps
        out = self._after_warmup(s)
        if W > 0:
            init = self.warmup_init * peak
            if self.convention in ("megatron", "neox"):
                warm, frac = s <= W, s / W
            elif self.convention == "hf":
                warm, frac = s < W, s / W
            elif self.convention == "torchtitan":
                warm, frac = s < W, (s + 1) / W
            else:  # nanogpt
                warm, frac = s < W, (s + 1) / (W + 1)
            # the fraction is <= 1 inside the warmup; capped so steps after it cannot overflow a huge peak
            out = np.where(warm, init + (peak - init) * np.minimum(frac, 1.0), out)
        return out

    def _after_warmup(self, s: np.ndarray) -> np.ndarray:
        peak, lo, T, W = self.peak, self.min_lr, self.total_steps, self.warmup_steps
        span = max(T - W, 1)
        r = np.clip((s - W) / span, 0.0, 1.0)
        delta = peak - lo
        ratio = lo / peak
        if self.shape == "constant":
            return np.full_like(s, peak)
        if self.shape in ("cosine", "linear") and self.convention == "neox":
            # GPT-NeoX AnnealingLR: progress is not capped at the horizon, and max(lr, min_lr) is the floor.
            q = np.maximum((s - W) / span, 0.0)
            raw = (lo + delta * 0.5 * (1.0 + np.cos(np.pi * q)) if self.shape == "cosine"
                   else peak * (1.0 - q))
            return np.maximum(raw, lo)
        if self.shape in ("cosine", "linear"):
            out = lo + delta * decay_coefficient(self.shape, r)
        elif self.shape == "wsd":
            start = T - int(self.decay_steps or 1)
            rr = (s - start) / max(int(self.decay_steps or 1), 1)
            out = np.where(s <= start, peak, lo + delta * decay_coefficient(self.decay_shape, rr, ratio))
        elif self.shape == "wsd_restarts":
            out = np.full_like(s, peak)
            d_frac = self._cooldown_fraction
            prev = 0  # the first cycle is measured from step 0, so one cycle is exactly ``wsd``
            for end in self.cycles:
                d = max(1, min(round(d_frac * (end - prev)), end - max(prev, W)))
                rr = (s - (end - d)) / d
                inside = (s > end - d) & (s <= end)
                out = np.where(inside, lo + delta * decay_coefficient(self.decay_shape, rr, ratio), out)
                prev = end
        elif self.shape == "multistep":
            out = np.full_like(s, peak)
            for frac, factor in sorted(self.milestones):
                out = np.where(s >= math.ceil(frac * T), factor * peak, out)
        elif self.shape == "inverse_sqrt":
            if self.convention == "hf":  # get_inverse_sqrt_schedule: timescale W (10,000 without warmup)
                ts = W or 10_000
                return np.maximum(lo, peak * np.sqrt(ts / np.maximum(s - W + ts, 1.0)))
            # Megatron: max(min_lr, peak * sqrt(max(W, 1)) / sqrt(max(s, 1))); its end is from_trainer's.
            return np.maximum(lo, peak * math.sqrt(max(W, 1)) / np.sqrt(np.maximum(s, 1.0)))
        else:  # pragma: no cover - shapes checked in __post_init__
            raise InvalidInputError(self.shape)
        # End of decay: Megatron and nanoGPT give min_lr for s > T, HF from s >= T (same value).
        return np.where(s > T, lo, out) if self.shape not in ("multistep", "wsd_restarts") else out

    def sequence(self) -> np.ndarray:
        """``lr(0), lr(1), ..., lr(total_steps)``: the per-step sequence (length T + 1)."""
        if self.shape == "trace":
            return interpolate_trace(self.trace_steps, self.trace_lr, self.total_steps)
        return self.lr(np.arange(self.total_steps + 1, dtype=float))

    @property
    def _cooldown_fraction(self) -> float:
        """wsd_restarts: the share of each cycle spent cooling down (default 20%)."""
        return (self.decay_steps or round(0.2 * self.total_steps)) / self.total_steps

    def describe(self) -> str:
        if self.shape == "wsd":
            head = f"wsd ({self.decay_shape} cooldown, {self.decay_steps / self.total_steps:.0%})"
        elif self.shape == "wsd_restarts":
            head = (f"wsd_restarts ({len(self.cycles)} {self.decay_shape} cooldowns, "
                    f"{self._cooldown_fraction:.0%} of each cycle)")
        else:
            head = self.shape
        parts = [head, f"peak {self.peak:.3g}", f"{self.total_steps} steps"]
        if self.warmup_steps:
            parts.append(f"warmup {self.warmup_steps:.6g}")
        if self.min_lr:
            parts.append(f"min {self.min_lr:.3g}")
        return ", ".join(parts) + f" [{self.convention}]"


def _check(x, name, where, requirement, ok, set_by: Mapping[str, str] | None = None) -> None:
    try:  # a number, not text that float() would read ('0', '1e-3'): the fields are used as numbers
        good = (isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
                and math.isfinite(float(x)) and ok(float(x)))
    except (TypeError, ValueError, OverflowError):
        good = False
    if not good:
        raise _bad(name, where, requirement, float(x) if isinstance(x, (int, float)) else x, set_by)


def _bad(name: str, where: str, requirement: str, got: object,
         set_by: Mapping[str, str] | None = None) -> InvalidInputError:
    """bad_value, naming what set the value when the caller says (``set_by``: field -> flag or key).
    The field, requirement and value ride on the error so :func:`build` can name the flag."""
    if set_by and name in set_by:
        where = f"the schedule (set by {set_by[name]})"
    exc = bad_value(name, where, requirement, got)
    exc.schedule_field = (name, requirement, got)  # type: ignore[attr-defined]
    return exc


#: Consecutive logged lr values this far apart (either way) and by at least LR_JUMP_PEAK of the
#: peak, logged more than a step apart and not on a straight ramp: the lr between them is a guess
#: (a WSD-S rewarm from ~0 to the peak became a 100-step ramp and a fit predicted 2.7% off on
#: noise-free data, a reviewer measured; the MPL wsdcon_9 log's step drop at 8000, logged at 7936
#: and 8000, moved the 100M test error from 0.165% to 0.119%: benchmarks/README.md).
LR_JUMP = 3.0
LR_JUMP_PEAK = 0.1


def sparse_jumps(steps: Sequence[float] | np.ndarray, lr: Sequence[float] | np.ndarray) -> str | None:
    """Where a sparsely logged lr changes by LR_JUMP or more between two logged steps, off a straight
    ramp (a linear warmup or decay logged coarsely interpolates exactly: its neighbours share its
    slope); None if nowhere.  The caller adds what to do."""
    steps, lr = np.asarray(steps, float), np.asarray(lr, float)
    if steps.size < 2:
        return None
    dt = np.diff(steps)
    slope = np.diff(lr) / np.maximum(dt, 1)
    lo, hi = np.minimum(lr[:-1], lr[1:]), np.maximum(lr[:-1], lr[1:])
    big = (dt > 1) & (hi >= LR_JUMP * lo) & (hi - lo >= LR_JUMP_PEAK * float(lr.max()))

    def same(a, b):
        return np.isclose(a, b, rtol=0.2, atol=0.0)

    ramp = np.zeros_like(big)
    ramp[1:] |= same(slope[1:], slope[:-1])
    ramp[:-1] |= same(slope[:-1], slope[1:])
    ramp[0] |= lr[1] >= lr[0]  # the first rise is the warmup, interpolated as the warmup is assumed
    big &= ~ramp
    if not big.any():
        return None
    i = int(np.flatnonzero(big)[0])
    more = f" ({int(big.sum())} such jumps)" if big.sum() > 1 else ""
    return (f"the logged lr jumps from {lr[i]:.3g} at step {steps[i]:g} to {lr[i + 1]:.3g} at step {steps[i + 1]:g}"
            f"{more}: the lr between logged steps is interpolated as a ramp, a guess there")


def interpolate_trace(steps: Sequence[float], lr: Sequence[float], total_steps: int | None = None,
                      *, warmup_from_zero: bool = True, warmup_steps: int | None = None) -> np.ndarray:
    """Per-step lr (index = step, 0..T) from a sparse ``(step, lr)`` trace, linearly interpolated.

    A trace that starts after step 0 is assumed to warm up linearly from 0 at step 0 (the usual
    case: warmup rows are often not logged; the Multi-Power-Law runs log from step 2160 on): to its
    first value at its first step, or, given ``warmup_steps`` no later than that step, at
    ``warmup_steps`` and then held.  With ``warmup_from_zero`` False the first value is held back
    to step 0.  Past the last logged step the last value is held.
    """
    s = np.asarray(steps, float)
    v = np.asarray(lr, float)
    if s.size == 0 or s.size != v.size:
        raise InvalidInputError("a trace needs matching, non-empty step and lr lists.")
    if np.any(~np.isfinite(s)) or np.any(~np.isfinite(v)):
        raise InvalidInputError("the lr trace has a value that is not a finite number.")
    if np.any(v < 0):
        i = int(np.flatnonzero(v < 0)[0])
        raise InvalidInputError(f"the lr trace has a negative lr ({v[i]:g} at step {s[i]:g}); lr must be >= 0.")
    if np.any(s < 0):
        raise InvalidInputError("the lr trace has a negative step number.")
    if np.any(np.diff(s) <= 0):
        raise InvalidInputError("the lr trace's steps must be strictly increasing (sort it; drop duplicates).")
    if warmup_from_zero and s[0] > 0:
        if warmup_steps is not None and 0 < warmup_steps < s[0]:
            s = np.concatenate([[0.0, float(warmup_steps)], s])
            v = np.concatenate([[0.0, v[0]], v])
        else:
            s = np.concatenate([[0.0], s])
            v = np.concatenate([[0.0], v])
    T = check_length(math.ceil(s[-1]) if total_steps is None else total_steps, "the lr trace")
    return np.interp(np.arange(T + 1, dtype=float), s, v)


def from_trace(steps: Sequence[float], lr: Sequence[float], *, total_steps: int | None = None) -> Schedule:
    """A ``trace`` schedule (sorted, validated, warmup from 0 assumed before the first step)."""
    seq = interpolate_trace(steps, lr, total_steps)
    idx = np.arange(seq.size, dtype=float)
    peak = float(seq.max()) if seq.max() > 0 else 1.0
    return Schedule("trace", peak=peak, total_steps=seq.size - 1, trace_steps=tuple(idx), trace_lr=tuple(seq))


def luo_schedule(name: str, peak: float = 3e-4, floor: float = 3e-5, warmup: int = 2160) -> Schedule:
    """The schedules of the Multi-Power-Law runs (Luo et al. 2025; shared/data/mpl_schedules/SOURCE.md).

    ``constant_24000``, ``cosine_72000``, ``wsd_20000_24000`` (geometric cooldown from 20000),
    ``wsdld_20000_24000`` (linear cooldown), ``wsdcon_3`` / ``_9`` / ``_18`` (peak until step 8000,
    then constant 3e-5 / 9e-5 / 1.8e-4 to step 16000).  Warmup: 2160 steps linear from 0.
    """
    kind, _, rest = name.partition("_")
    if kind in ("constant", "cosine"):
        T = int(rest)
        return Schedule(kind, peak=peak, total_steps=T, warmup_steps=warmup, min_lr=floor if kind == "cosine" else 0.0)
    if kind in ("wsd", "wsdld"):
        start, T = (int(x) for x in rest.split("_"))
        return Schedule("wsd", peak=peak, total_steps=T, warmup_steps=warmup, min_lr=floor,
                        decay_steps=T - start, decay_shape="geometric" if kind == "wsd" else "linear")
    if kind == "wsdcon":
        level = int(rest) * 1e-5
        return Schedule("multistep", peak=peak, total_steps=16000, warmup_steps=warmup,
                        milestones=((0.5, level / peak),))
    raise InvalidInputError(f"unknown Multi-Power-Law run '{name}'.")


def wsd_cycles(warmup_steps: int, total_steps: int, n: int) -> tuple[int, ...]:
    """WSD-S: the end step of each of ``n`` cycles, evenly spaced after the warmup."""
    return tuple(warmup_steps + round((total_steps - warmup_steps) * (i + 1) / n) for i in range(n))


def build(
    shape: str,
    *,
    peak: float,
    total_steps: int,
    warmup_steps: int = 0,
    min_lr: float | None = None,
    min_lr_ratio: float | None = None,
    decay_fraction: float | None = None,
    decay_shape: str = "linear",
    convention: str = "megatron",
    warmup_init: float = 0.0,
    cooldowns: int | None = None,
    set_by: Mapping[str, str] | None = None,
) -> Schedule:
    """A schedule from run-file or flag values (``min_lr`` absolute or ``min_lr_ratio`` of the peak).

    Defaults: cosine and WSD decay to 10% of the peak (Chinchilla, OLMo), linear to 0 (D2Z),
    WSD cooldown over 20% of the run (Hägele et al. 2024); LAWS.md section 5.
    """
    if shape == "d2z":
        shape, min_lr, min_lr_ratio = "linear", 0.0, None
    if shape not in SHAPES or shape == "trace":
        raise InvalidInputError(f"unknown schedule '{shape}'.{did_you_mean(shape, [s for s in SHAPES if s != 'trace'] + ['d2z'])}")
    for name, x in (("peak", peak), ("total_steps", total_steps), ("warmup_steps", warmup_steps)):
        _check(x, name, "the schedule", "a finite number", lambda v: True, set_by)
    for name, x in (("min_lr", min_lr), ("min_lr_ratio", min_lr_ratio), ("decay_fraction", decay_fraction),
                    ("cooldowns", cooldowns)):
        if x is not None:
            _check(x, name, "the schedule", "a finite number", lambda v: True, set_by)
    if min_lr is not None and min_lr_ratio is not None:
        raise InvalidInputError("give the final lr once: --min-lr (absolute) or --min-lr-ratio (of the peak), not both.")
    if min_lr is None:
        if min_lr_ratio is None:
            min_lr_ratio = {"linear": 0.0, "constant": 1.0}.get(shape, 0.1)
        if not 0 <= min_lr_ratio <= 1:
            raise _bad("min_lr_ratio", "the schedule", "in [0, 1]", float(min_lr_ratio), set_by)
        min_lr = min_lr_ratio * peak
    decay_steps = None
    cycles: tuple[int, ...] = ()
    if cooldowns is not None and (cooldowns != int(cooldowns) or cooldowns < 1):
        raise InvalidInputError(f"cooldowns must be a whole number >= 1, not {cooldowns}.")
    if cooldowns is not None and cooldowns > MAX_COOLDOWNS:
        raise InvalidInputError(f"at most {MAX_COOLDOWNS:,} cooldowns, not {int(cooldowns):,}.")
    if cooldowns is not None and shape not in ("wsd", "wsd_restarts"):
        raise InvalidInputError(f"cooldowns apply to a wsd schedule, not {shape}.")
    if shape in ("wsd", "wsd_restarts") and total_steps - warmup_steps < 1:
        raise InvalidInputError(f"a wsd schedule needs steps after its warmup: the warmup ({warmup_steps} steps) "
                                f"is the whole run ({total_steps} steps).")
    if shape == "wsd" and cooldowns is not None and cooldowns > 1:
        shape = "wsd_restarts"
    if shape == "wsd_restarts":  # n cooldowns, the cycles evenly spaced after the warmup
        n = int(cooldowns or 1)
        if total_steps - warmup_steps < n:
            raise InvalidInputError(f"{n} cooldowns need at least {n} steps after the warmup.")
        cycles = wsd_cycles(warmup_steps, total_steps, n)
    if shape in ("wsd", "wsd_restarts"):
        frac = 0.2 if decay_fraction is None else decay_fraction
        if not 0 < frac <= 1:
            raise _bad("decay_fraction", "the schedule", "in (0, 1]", float(frac), set_by)
        decay_steps = max(1, round(frac * total_steps))
        if shape == "wsd":  # the cooldown cannot reach into the warmup; each restart cycle is capped alone
            decay_steps = min(decay_steps, total_steps - warmup_steps)
    try:
        return Schedule(shape, peak=peak, total_steps=total_steps, warmup_steps=warmup_steps,
                        min_lr=0.0 if shape == "constant" else min_lr, decay_steps=decay_steps,
                        decay_shape=decay_shape, convention=convention, warmup_init=warmup_init, cycles=cycles)
    except InvalidInputError as exc:
        field_ = getattr(exc, "schedule_field", None)
        if field_ is None or not set_by or field_[0] not in set_by:
            raise
        raise _bad(field_[0], "the schedule", field_[1], field_[2], set_by) from None


def read_trace(path: str, *, mapping: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(steps, lr) of a ``(step, lr)`` trace file (CSV/TSV/JSONL/Parquet); sorted, validated."""
    from hpadvisor.errors import DataError
    from hpadvisor.logs import COLUMNS
    from hpadvisor.tables import read_table, row_label

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
    if np.any(v < 0):
        i = int(np.flatnonzero(v < 0)[0])
        raise DataError(f"lr trace '{path}': lr at step {s[i]:g} is {v[i]:g}; a learning rate must be >= 0.")
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


# -- a trainer config's own schedule -----------------------------------------------------------------

#: The convention a trainer computes its lr with (``Schedule.convention``).  nanotron's scheduler is
#: Megatron's formula; hpadvisor run files are computed with Megatron's convention, and say so.
TRAINER_CONVENTION = {"megatron": "megatron", "neox": "neox", "nanotron": "megatron", "hf": "hf",
                      "nanogpt": "nanogpt", "torchtitan": "torchtitan"}


@dataclass
class _ConfigPlan:
    """A trainer config's schedule as read, before the trainer's own rules adjust it."""

    shape: str
    peak: float
    total: int  # the run's steps
    horizon: int  # the decay horizon (Megatron's lr_decay_iters)
    warmup: int
    min_lr: float
    cooldown: int | None = None  # WSD: its cooldown steps
    cooldown_said: bool = False  # the config gives the cooldown (else 20% of the horizon)
    init: float = 0.0  # the lr the warmup starts from, absolute
    rounded: list = field(default_factory=list)  # step counts given as fractions, rounded (said)
    decay_start: int | None = None  # nanotron: a decay starting inside the warmup (its step)


def _cooldowns(cfg, room: int) -> int:
    """A config's WSD-S cooldown count, checked as :func:`build` checks it."""
    n = cfg.value("cooldowns")
    if n is None:
        return 1
    where, field_ = f"'{cfg.path}'", cfg.get("cooldowns").field
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n != int(n) or not 1 <= n <= MAX_COOLDOWNS:
        raise InvalidInputError(f"{where}: {field_} = {n!r} must be a whole number from 1 to {MAX_COOLDOWNS:,}.")
    if n > room:
        raise InvalidInputError(f"{where}: {int(n)} cooldowns need at least {int(n)} steps after the warmup ({room}).")
    return int(n)


def _steps(cfg, key: str, default: int | None, exact: bool = False) -> int | float | None:
    v = cfg.value(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise InvalidInputError(f"'{cfg.path}': {cfg.get(key).field} = {v!r} is not a number of steps >= 0.")
    if exact and not float(v).is_integer():
        return float(v)
    return int(round(v))


def _read_plan(cfg, exact_warmup: bool = False) -> _ConfigPlan:
    """The schedule values a config gives, checked one by one (no trainer's rules yet).

    ``exact_warmup``: the trainer counts a fractional warmup exactly (Megatron, GPT-NeoX), so a
    warmup given as a fraction of the horizon or in samples is kept, not rounded."""
    where = f"'{cfg.path}'"
    unread = sorted(set(getattr(cfg, "unknown", ())) & {"lr", "min_lr", "schedule", "warmup_steps", "train_steps",
                                                        "decay_steps", "wsd_decay_steps", "wsd_decay_style"})
    if unread:
        raise InvalidInputError(f"{where} sets {', '.join(unread)} by code hpadvisor does not run: the lr schedule "
                                "cannot be built from it; write them as literal values.")
    peak, total = cfg.value("lr"), cfg.value("train_steps")
    missing = [name for name, v in (("the peak lr", peak), ("the number of training steps", total)) if v is None]
    if missing:
        hint = (" For a run file, `hpadvisor schedule RUN.yaml` fills them in from the advice."
                if cfg.format == "hpadvisor" else "")
        raise InvalidInputError(f"{where} does not give {' or '.join(missing)}: the lr schedule cannot be built.{hint}")
    shape = cfg.value("schedule")
    if shape is None:
        raise InvalidInputError(f"{where} does not give its lr decay style: the lr schedule cannot be built.")
    if shape not in SHAPES or shape == "trace":
        raise InvalidInputError(f"{where}: its '{shape}' lr decay is not one hpadvisor computes "
                                f"({', '.join(s for s in SHAPES if s not in ('trace', 'wsd_restarts'))}).")
    if cfg.value("schedule_variant"):
        raise InvalidInputError(f"{where}: its {cfg.value('schedule_variant')} ({cfg.get('schedule_variant').field}) "
                                "is not a schedule hpadvisor computes.")
    if cfg.value("warmup_shape", "linear") != "linear":
        raise InvalidInputError(f"{where}: its {cfg.value('warmup_shape')} warmup ({cfg.get('warmup_shape').field}) "
                                "is not one hpadvisor computes (linear warmups only).")
    total = _steps(cfg, "train_steps", None)
    if total < 1:
        raise InvalidInputError(f"{where}: {cfg.get('train_steps').field} gives a run of {total} steps.")
    check_length(float(total), f"{where}'s run")
    endless = shape in ("constant", "inverse_sqrt")
    plan = _ConfigPlan(shape, peak, total, horizon=total if endless else _steps(cfg, "decay_steps", total),
                       warmup=_steps(cfg, "warmup_steps", 0, exact=exact_warmup),
                       min_lr=0.0 if shape == "constant" else float(cfg.value("min_lr", 0.0) or 0.0),
                       init=cfg.value("warmup_init_lr", 0.0) or 0.0)
    if shape == "wsd":
        plan.cooldown = _steps(cfg, "wsd_decay_steps", None)
        plan.cooldown_said = plan.cooldown is not None
        if plan.cooldown is None:
            plan.cooldown = max(1, round(0.2 * plan.horizon))
    for key in ("decay_steps", "wsd_decay_steps") if exact_warmup else ("warmup_steps", "decay_steps", "wsd_decay_steps"):
        v = cfg.value(key)
        if isinstance(v, float) and not v.is_integer():  # e.g. Megatron's fraction x horizon, or samples / batch
            plan.rounded.append(f"{cfg.get(key).field} gives {v:g} steps, computed as {round(v)} (the trainer counts "
                                "a fraction of a step: its lr differs slightly over that phase)")
    return plan


# -- each trainer's own rules, applied to the plan as read (the trainers' code, read 2026-12-01) ------

def _megatron_rules(plan: _ConfigPlan, cfg, notes: list[str]) -> None:
    # get_lr returns min_lr past lr_decay_steps before its inverse-square-root branch
    if plan.shape == "inverse_sqrt":
        plan.horizon = _steps(cfg, "decay_steps", plan.total)
        if plan.horizon < plan.warmup:
            plan.horizon = plan.total  # a horizon inside the warmup: the decay never starts


def _torchtitan_rules(plan: _ConfigPlan, cfg, notes: list[str]) -> None:
    said = cfg.get("min_lr")
    if said is not None and said.field.endswith("lr_min"):
        notes.append(f"torchtitan: computed as its min_lr_factor versions do; versions with {said.field} "
                     "ramped the warmup to (s + 1) / (W + 1) and decayed over one step more.")
    if plan.warmup >= plan.horizon and plan.shape != "constant":  # the warmup is cut to the run, with a warning
        notes.append(f"torchtitan: the warmup ({plan.warmup:,} steps) is not shorter than the run "
                     f"({plan.horizon:,}): the lr only ramps up, and never decays.")
        plan.shape, plan.warmup, plan.min_lr, plan.cooldown = "constant", plan.horizon, 0.0, None
    if plan.shape == "wsd":
        room = plan.horizon - plan.warmup
        if plan.cooldown > room:  # shortened to fit, with a warning
            notes.append(f"torchtitan shortens the cooldown ({plan.cooldown:,} steps) to the {room:,} steps "
                         "after the warmup.")
            plan.cooldown = room
        if plan.cooldown == 0:  # decay_ratio rounding to no step: the lr stays at its peak
            plan.shape, plan.min_lr, plan.cooldown = "constant", 0.0, None


def warmup_start(trainer: str | None, shape: str, floor: float) -> float:
    """The lr a trainer's warmup starts from, given the schedule's floor (in the floor's units):
    HF's WSD (``_get_wsd_scheduler_lambda``) warms up from min_lr_ratio x the peak; the others
    from 0 (Megatron's explicit lr_warmup_init aside).  One rule for configs and run files."""
    return floor if trainer == "hf" and shape == "wsd" else 0.0


def _hf_rules(plan: _ConfigPlan, cfg, notes: list[str]) -> None:
    plan.init = warmup_start("hf", plan.shape, plan.min_lr) or plan.init
    raw_type = str(getattr(cfg.get("schedule"), "raw", "") or "").lower().replace("_", "-")
    if raw_type == "cosine-warmup-with-min-lr":
        notes.append("cosine_warmup_with_min_lr: computed with HF's cosine convention; transformers ramps "
                     "this one to (s + 1) / W and decays one step earlier.")


def _nanotron_rules(plan: _ConfigPlan, cfg, notes: list[str]) -> None:
    said = cfg.get("decay_steps")
    start = said.offset if said is not None else 0
    if plan.shape in ("constant", "inverse_sqrt") or not start or start >= plan.warmup:
        return
    # lr_lambda: the warmup branch (s <= warmup) comes first; after it the decay is already
    # (s - start) / lr_decay_steps of the way, so the lr jumps down from the peak.
    plan.decay_start = int(start)
    notes.append(f"nanotron: the decay starts at step {int(start):,}, inside the {plan.warmup:,}-step warmup: the lr "
                 "ramps to the peak, then drops to where the decay has reached by then, as lr_lambda computes.")


_TRAINER_RULES = {"megatron": _megatron_rules, "torchtitan": _torchtitan_rules, "hf": _hf_rules,
                  "nanotron": _nanotron_rules}


def from_trainer(cfg) -> tuple[np.ndarray, str, list[str]]:
    """The per-step lr (steps 0..train_steps) a trainer config runs with, a label and notes.

    ``cfg`` is a :class:`hpadvisor.formats.base.TrainerConfig`.  The values it gives are read
    (:func:`_read_plan`), the trainer's own rules applied (``_TRAINER_RULES``), and the lr computed
    with its convention (``TRAINER_CONVENTION``).  The decay runs over the config's decay horizon
    (Megatron's ``lr_decay_iters``): past it the lr stays at its floor (GPT-NeoX's cosine rises
    again), and a horizon beyond the run cuts the decay short, as the trainer does.
    """
    where = f"'{cfg.path}'"
    notes: list[str] = []
    trainer = cfg.value("trainer") if cfg.format == "hpadvisor" else cfg.format  # a run file may name it
    convention = TRAINER_CONVENTION.get(trainer)
    if convention is None:
        convention = "megatron"
        notes.append(f"{cfg.format}: computed with Megatron's convention (warmup and decay step by step "
                     "may differ from the trainer's by a step; schedule.trainer names another).")
    plan = _read_plan(cfg, exact_warmup=convention in ("megatron", "neox"))
    notes += [f"{r}." for r in plan.rounded]
    if trainer in _TRAINER_RULES:
        _TRAINER_RULES[trainer](plan, cfg, notes)
    shape, horizon, total, warmup = plan.shape, plan.horizon, plan.total, plan.warmup
    if plan.decay_start is not None:  # built from the decay's start; the warmup laid over it below
        warmup = plan.decay_start
    if horizon <= warmup and shape not in ("constant", "inverse_sqrt"):
        raise InvalidInputError(f"{where}: the lr decay horizon ({horizon} steps) ends before the warmup does "
                                f"({warmup:.6g} steps).")
    extra: dict = {}
    if shape == "wsd":
        if not plan.cooldown_said:
            notes.append("the config gives no WSD cooldown length: the last 20% of the decay horizon.")
        room = horizon - warmup
        if not 1 <= plan.cooldown <= room:
            field_ = cfg.get("wsd_decay_steps").field if cfg.get("wsd_decay_steps") else "the cooldown"
            raise InvalidInputError(f"{where}: the WSD cooldown ({field_}: {plan.cooldown:,} steps) must be at least "
                                    f"1 step and fit in the {room:,.6g} steps after the warmup.")
        extra = {"decay_steps": plan.cooldown, "decay_shape": cfg.value("wsd_decay_style") or "linear"}
        n = _cooldowns(cfg, room)
        if n > 1:  # WSD-S (a run file's schedule.cooldowns): cycles as build spaces them
            shape = "wsd_restarts"
            extra["cycles"] = wsd_cycles(round(warmup), horizon, n)
    elif cfg.value("cooldowns") is not None:
        raise InvalidInputError(f"{where}: {cfg.get('cooldowns').field} applies to a wsd schedule, not {shape}.")
    if shape == "multistep":
        notes.append("multistep: DeepSeek's milestones (x0.316 at 80%, x0.1 at 90% of the run); the "
                     "config's own are not read.")
    peak, init, init_frac = plan.peak, plan.init, 0.0
    if init:  # Megatron's lr_warmup_init (absolute); nanotron's constant warmup style gives the peak
        ok_peak = isinstance(peak, (int, float)) and not isinstance(peak, bool) and 0 < peak < math.inf
        if ok_peak and isinstance(init, (int, float)) and not isinstance(init, bool) and 0 <= init <= peak:
            init_frac = float(init) / float(peak)
        elif ok_peak:
            said = cfg.get("warmup_init_lr")
            raise InvalidInputError(f"{where}: {said.field if said else 'the lr the warmup starts from'} = {init!r} "
                                    f"is not an lr in [0, the peak lr {peak:g}].")
    sched = Schedule(shape, peak=float(peak), total_steps=horizon, warmup_steps=min(warmup, horizon),
                     min_lr=plan.min_lr, convention=convention, warmup_init=init_frac, **extra)
    eta = sched.sequence()
    if horizon < total and convention == "neox":  # NeoX's progress runs past its horizon
        eta = sched.lr(np.arange(total + 1, dtype=float))
        if shape == "cosine" and eta[-1] > eta[horizon] * (1 + 1e-9):
            notes.append(f"GPT-NeoX's cosine is not held at its floor after lr_decay_iters ({horizon:,}): it rises "
                         f"again, to {eta[-1]:.3g} at the run's end ({total:,} steps).")
    elif horizon < total:
        eta = np.concatenate([eta, np.full(total - horizon, plan.min_lr if shape == "inverse_sqrt" else eta[-1])])
        notes.append(f"the lr decays over {horizon:,} steps and stays at {eta[-1]:.3g} for the last "
                     f"{total - horizon:,} of {total:,}.")
    elif horizon > total:
        eta = eta[: total + 1]
        notes.append(f"the decay horizon ({horizon:,} steps) is past the run's end ({total:,}): the lr ends at "
                     f"{eta[-1]:.3g}, above its floor {plan.min_lr:.3g}.")
    label = sched.describe()
    if plan.decay_start is not None:  # nanotron's warmup branch, over the decay that started inside it
        w = min(plan.warmup, total)
        s = np.arange(w + 1, dtype=float)
        eta = eta.copy()
        eta[: w + 1] = init_frac * peak + (peak - init_frac * peak) * s / max(plan.warmup, 1)
        # the schedule was built with its warmup at the decay's start: the label names both
        label = label.replace(f"warmup {warmup:.6g}", f"warmup {plan.warmup:.6g}, decay from step {warmup}")
    return eta, f"{cfg.path} [{cfg.format}]: {label}", notes
