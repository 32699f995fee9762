"""What every law is made of: constants, pure vectorised functions, and provenance.

A law is a frozen dataclass whose fields are its fitted constants (one instance per paper, named
after it).  Its methods are pure numpy functions of numbers in base units (parameters, tokens,
tokens per step, FLOPs); they read no files and print nothing.  Three class-level tables describe
it to the rest of the program:

``inputs``
    formula symbol -> :class:`Input` (meaning, unit, and which run variable feeds it).  The same
    symbol can mean different things in different laws: Chinchilla's ``N`` counts all parameters,
    Kaplan's and Step Law's count non-embedding parameters.  The table says which.
``outputs``
    quantity name (``peak_lr``, ``batch_tokens``, ``final_loss``...) -> :class:`Output` (method and
    unit).  The advisor asks every law that offers a quantity, so disagreement stays visible.
``provenance``
    citation, source, notes, and the range of each input the constants were fitted on.  Asking
    outside that range is allowed; it is flagged as extrapolation with the factor by which it lies
    outside (see :meth:`Law.extrapolation`).
``kinds``
    what the law is beyond the quantities it outputs, declared by its class so that callers read
    it instead of probing for methods: ``"curve"`` (predicts the loss curve under an lr schedule:
    ``curve(eta, steps)``), ``"sensitivity"`` (prices an lr or batch off its optimum:
    ``relative_loss_cost``), ``"timescale"`` (sets weight decay through AdamW's EMA timescale
    tau = B / (eta lambda D), so lambda scales as 1 / eta: ``timescale(B, eta, lam, D)``),
    ``"reference-run"`` (carries an lr tuned on a reference run to this one; that lr holds at the
    reference run's batch).

A fit (``hpadvisor fit``) returns ``dataclasses.replace(law, **fitted, provenance=...)``: a fitted
law is the same kind of object as a published one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hpadvisor.errors import InvalidInputError, bad_value


@dataclass(frozen=True)
class Input:
    """One input of a law: its meaning, unit, and the run variable that supplies it."""

    meaning: str
    unit: str
    variable: str


@dataclass(frozen=True)
class Output:
    """One quantity a law produces: the method that computes it and the unit of the result."""

    method: str
    unit: str
    description: str = ""


@dataclass(frozen=True)
class Provenance:
    """Where a law comes from and where it was fitted.

    ``fitted_range`` maps an input symbol (or a derived one such as ``D/N``, see
    :meth:`Law.range_values`) to the (low, high) interval of the data behind the constants.
    ``secondary`` marks constants read from someone else's account of the paper.
    ``checked_against`` names the published figures (a table value, a worked example, a reference
    implementation) that the law, as implemented here, was checked against, or says that none
    exists; ``docs/laws.md`` prints it.
    """

    citation: str
    source: str
    fitted_range: tuple[tuple[str, float, float], ...] = ()
    notes: str = ""
    secondary: bool = False
    checked_against: str = ""

    def range_dict(self) -> dict[str, tuple[float, float]]:
        return {name: (lo, hi) for name, lo, hi in self.fitted_range}


def positive(x: Any, name: str, where: str) -> np.ndarray:
    """``x`` as a float array, or the standard error if any element is not a finite number > 0."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise bad_value(name, where, "a finite number > 0", x) from None
    bad = ~np.isfinite(arr) | (arr <= 0)
    if np.any(bad):
        got = arr[bad].flat[0] if arr.ndim else float(arr)
        raise bad_value(name, where, "a finite number > 0", float(got))
    return arr


def unit_interval(x: Any, name: str, where: str, *, closed: bool = False) -> np.ndarray:
    """``x`` as a float array in (0, 1) (or [0, 1] when ``closed``), else the standard error."""
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise bad_value(name, where, "a number in (0, 1)", x) from None
    ok = (arr >= 0) & (arr <= 1) if closed else (arr > 0) & (arr < 1)
    if not np.all(ok & np.isfinite(arr)):
        got = arr[~ok].flat[0] if arr.ndim else float(arr)
        raise bad_value(name, where, "in [0, 1]" if closed else "in (0, 1)", float(got))
    return arr


@dataclass(frozen=True)
class Law:
    """Base of every law.  Subclasses add constants as fields and fill the class tables."""

    key: ClassVar[str] = ""
    title: ClassVar[str] = ""
    inputs: ClassVar[Mapping[str, Input]] = {}
    outputs: ClassVar[Mapping[str, Output]] = {}
    formula: ClassVar[str] = ""
    #: see the module docstring: "curve", "sensitivity", "timescale", "reference-run"
    kinds: ClassVar[frozenset[str]] = frozenset()

    provenance: Provenance = field(
        default=Provenance(citation="", source=""), compare=False, repr=False, kw_only=True
    )
    name: str = field(default="", compare=False, kw_only=True)

    # -- introspection ------------------------------------------------------------------------
    @property
    def registry_key(self) -> str:
        """The key this law is known by (a fitted law may carry its own name)."""
        return self.name or self.key

    def constants(self) -> dict[str, float]:
        """The fitted constants (every dataclass field but the bookkeeping ones)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("provenance", "name")
        }

    def evaluate(self, quantity: str, variables: Mapping[str, float | None]) -> float:
        """Compute ``quantity`` from run variables (keyed by :attr:`Input.variable`)."""
        output = self.outputs[quantity]
        method: Callable[..., Any] = getattr(self, output.method)
        kwargs = self.arguments(output.method, variables)
        return float(method(**kwargs))

    def arguments(self, method: str, variables: Mapping[str, float | None]) -> dict[str, float]:
        """The keyword arguments ``method`` needs, looked up from run variables."""
        import inspect

        params = inspect.signature(getattr(self, method)).parameters
        kwargs = {}
        for symbol in params:
            spec = self.inputs[symbol]
            value = variables.get(spec.variable)
            if value is None:
                raise InvalidInputError(
                    f"{self.registry_key}: needs {spec.meaning} ({spec.variable}); the run does not give it."
                )
            kwargs[symbol] = value
        return kwargs

    def needs(self, quantity: str) -> tuple[str, ...]:
        """The run variables ``quantity`` depends on."""
        import inspect

        method = self.outputs[quantity].method
        return tuple(self.inputs[s].variable for s in inspect.signature(getattr(self, method)).parameters)

    # -- fitted range ---------------------------------------------------------------------------
    def range_values(self, symbols: Mapping[str, float]) -> dict[str, float]:
        """Values to compare with the fitted range.  Subclasses add derived ones (``D/N``)."""
        return dict(symbols)

    def extrapolation(self, symbols: Mapping[str, float]) -> tuple[float, list[str]]:
        """How far outside the fitted range ``symbols`` lie.

        Returns (factor, reasons): factor 1.0 inside the range, else the largest ratio by which an
        input lies beyond its bound (2.0 = twice the largest fitted value, or half the smallest).
        """
        values = self.range_values(symbols)
        factor, reasons = 1.0, []
        for name, (lo, hi) in self.provenance.range_dict().items():
            if name not in values:
                continue
            x = float(values[name])
            if not math.isfinite(x) or x <= 0:
                continue
            out = max(lo / x if lo > 0 else 1.0, x / hi if hi > 0 else 1.0, 1.0)
            if out > 1.0 + 1e-9:
                side = "above" if x > hi else "below"
                reasons.append(f"{name} = {x:.3g} is {out:.3g}x {side} the fitted {lo:.3g}-{hi:.3g}")
            factor = max(factor, out)
        return factor, reasons

    def symbols(self, variables: Mapping[str, float | None]) -> dict[str, float]:
        """Every input symbol of the law that the run supplies (for the fitted-range check).

        All of them, not only those of one output: Step Law's batch depends on D alone, but its
        constants were fitted on models of 2e8-1e9 parameters, so a 7B request is an extrapolation
        of its batch too.
        """
        return {
            symbol: float(value)
            for symbol, spec in self.inputs.items()
            if (value := variables.get(spec.variable)) is not None
        }


class DataPerParamRange:
    """Mixin for a law fitted on runs whose D/N, tokens per parameter, matters: its fitted range
    may bound D/N, which :meth:`Law.range_values` then adds when the run gives N and D."""

    def range_values(self, symbols: Mapping[str, float]) -> dict[str, float]:
        values = dict(symbols)
        if "N" in values and "D" in values:
            values["D/N"] = values["D"] / values["N"]
        return values
