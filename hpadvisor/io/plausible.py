"""Whether a law's constants are plausible: the bounds a fit is held to when it is made
(``fitting.acceptance``) and a law file when it is read (``io.lawfile``), so that a hand-edited
file is refused for what a fit would have been refused for.

* a constant is finite;
* an exponent lies within +-10 (no scaling law has one beyond), any other constant within 1e30 in
  size (a loss coefficient of 5e258 is a runaway fit, not a law);
* an estimate lies inside its own 95% interval, when the file records one.

Each check returns the reason as text (``None`` when the value passes); the caller words the
refusal (a fit's "is not usable: ...", a law file's "<path>: constant ...").
"""

from __future__ import annotations

import math
from collections.abc import Mapping

MAX_COEFFICIENT = 1e30
MAX_EXPONENT = 10.0

#: Exponents by name in every law form (the loss forms' alpha, beta, gamma and their N/D/B
#: variants; any name holding 'exp': lr_exp, bs_exp_d, exponent...).
EXPONENT_NAMES = frozenset({"alpha", "beta", "gamma", "alpha_N", "alpha_D", "alpha_B"})
#: Exponents named otherwise in one form: the noise-convolution law's lr-power clock q, the
#: Power Lines weight-decay law's tokens-per-parameter exponent m.
FORM_EXPONENTS: Mapping[str, tuple[str, ...]] = {"noise-convolution": ("q",), "powerlines-wd": ("m",)}


def is_exponent(name: str, form: str | None = None) -> bool:
    """Whether constant ``name`` (of law form ``form``, when known) is an exponent."""
    return name in EXPONENT_NAMES or "exp" in name or name in FORM_EXPONENTS.get(form or "", ())


def constant_problem(name: str, value: float, *, exponent: bool) -> str | None:
    """Why ``value`` cannot be constant ``name`` of a law (non-finite, absurd), or None."""
    v = float(value)
    if not math.isfinite(v):
        return f"{name} = {v}"
    if exponent and abs(v) > MAX_EXPONENT:
        return f"exponent {name} = {v:.4g}, beyond +-{MAX_EXPONENT:g} (no scaling law has one)"
    if abs(v) > MAX_COEFFICIENT:
        return f"{name} = {v:.3g}, beyond {MAX_COEFFICIENT:.0e}"
    return None


def interval_problem(name: str, value: float, low: float, high: float) -> str | None:
    """Why ``value`` disagrees with its own 95% interval [low, high] (outside it beyond rounding), or None."""
    lo, hi, v = float(low), float(high), float(value)
    if lo - 1e-9 * max(abs(lo), abs(v)) <= v <= hi + 1e-9 * max(abs(hi), abs(v)):
        return None
    return f"{name} = {v:.4g} lies outside its own 95% bootstrap interval [{lo:.4g}, {hi:.4g}]"
