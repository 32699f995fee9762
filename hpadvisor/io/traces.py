"""Logged lr traces: interpolating a (step, lr) trace to every step, spotting jumps between sparse
log points, and the bound on schedule length every reader shares (files are read by :mod:`hpadvisor.io.logs`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hpadvisor.errors import InvalidInputError

#: Longest schedule materialised step by step.  Pretraining runs take at most a few million
#: optimizer steps; a larger number is almost always tokens or samples.  At this length a curve
#: law's prediction took 13 s and 1.4 GB, compare-schedules 38 s (2-core machine, 2026-12-01; at
#: the earlier 50M limit, 103 s and 7 GB).
MAX_STEPS = 10_000_000


#: Largest logged lr read: no optimizer trains at a higher one; a larger value is another column or a
#: scaled one (an lr x 1e300 log was fitted, R^2 -inf, and predicted a loss of 1.6e286).
MAX_LR = 100.0


def check_length(total_steps: float, what: str = "the schedule") -> int:
    """``total_steps`` as an int, or one clear error when it is too long to build per step."""
    if not math.isfinite(total_steps) or total_steps > MAX_STEPS:
        raise InvalidInputError(
            f"{what} runs to step {total_steps:.4g}, beyond the {MAX_STEPS:,} steps hpadvisor builds "
            "step by step: are these optimizer steps (not tokens or samples)?"
        )
    return int(total_steps)




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


def interpolate_trace(steps: Sequence[float] | np.ndarray, lr: Sequence[float] | np.ndarray, total_steps: int | None = None,
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
