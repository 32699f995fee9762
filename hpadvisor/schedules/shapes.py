"""Learning-rate schedules, per optimizer step, exactly as the trainers compute them.

A :class:`Schedule` gives ``lr(steps)`` for any array of optimizer-step indices ``s`` (0-based:
``lr(s)`` is the learning rate of the ``s``-th update) and ``sequence()`` = ``lr(0..total_steps)``,
the per-step sequence the curve laws sum over.  Shapes (named as trainers name them: docs/formats.md): ``constant``, ``cosine``, ``linear`` (``min_lr = 0`` is linear decay to zero,
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
2024 start at peak/100).  Everything is vectorised numpy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from hpadvisor.errors import InvalidInputError, bad_value, did_you_mean
from hpadvisor.io.traces import check_length, interpolate_trace
from hpadvisor.spec import DECAY_ALIASES, DECAY_SHAPES  # the run file's vocabulary

SHAPES = ("constant", "cosine", "linear", "wsd", "multistep", "inverse_sqrt", "wsd_restarts", "trace")
CONVENTIONS = ("megatron", "hf", "nanogpt", "torchtitan", "neox")
#: WSD-S cycles are evaluated one by one; far more than anyone runs, and a bound on the work.
MAX_COOLDOWNS = 10_000
#: DeepSeek LLM's multi-step schedule (DeepSeek-AI 2024, arXiv:2401.02954, section 2.3): (fraction of the run,
#: factor of peak).
DEEPSEEK_MILESTONES = ((0.8, 0.316), (0.9, 0.1))


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
            # the fraction is capped at 1 below, so a warmup shorter than a step (W = 1e-309) may overflow it to inf
            with np.errstate(over="ignore"):
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
            cooldown = cast(int, self.decay_steps)  # __post_init__ sets it for wsd
            head = f"wsd ({self.decay_shape} cooldown, {cooldown / self.total_steps:.0%})"
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

def from_trace(steps: Sequence[float], lr: Sequence[float], *, total_steps: int | None = None) -> Schedule:
    """A ``trace`` schedule (sorted, validated, warmup from 0 assumed before the first step)."""
    seq = interpolate_trace(steps, lr, total_steps)
    idx = np.arange(seq.size, dtype=float)
    peak = float(seq.max()) if seq.max() > 0 else 1.0
    return Schedule("trace", peak=peak, total_steps=seq.size - 1, trace_steps=tuple(idx), trace_lr=tuple(seq))


def luo_schedule(name: str, peak: float = 3e-4, floor: float = 3e-5, warmup: int = 2160) -> Schedule:
    """The schedules of the Multi-Power-Law runs (Luo et al. 2025; data/mpl_schedules/SOURCE.md).

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
    WSD cooldown over 20% of the run (Hägele et al. 2024, arXiv:2405.18392); docs/laws.md.
    """
    if shape == "d2z":
        shape, min_lr, min_lr_ratio = "linear", 0.0, None
    if shape not in SHAPES or shape == "trace":
        raise InvalidInputError(f"unknown schedule '{shape}'.{did_you_mean(shape, [s for s in SHAPES if s != 'trace'] + ['d2z'])}")
    for name, x in (("peak", peak), ("total_steps", total_steps), ("warmup_steps", warmup_steps)):
        _check(x, name, "the schedule", "a finite number", lambda v: True, set_by)
    for name, given in (("min_lr", min_lr), ("min_lr_ratio", min_lr_ratio), ("decay_fraction", decay_fraction),
                        ("cooldowns", cooldowns)):
        if given is not None:
            _check(given, name, "the schedule", "a finite number", lambda v: True, set_by)
    if min_lr is not None and min_lr_ratio is not None:
        raise InvalidInputError("give the final lr once: `min_lr` (absolute) or `min_lr_ratio` (of the peak), not both.")
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


