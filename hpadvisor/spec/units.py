"""Human units in and out: ``7B``, ``1.4T``, ``2e21``, ``4k``, ``512 seqs``, ``4M tokens``.

Conventions (also in README.md):

* SI multipliers for counts: ``k`` = 1e3, ``M`` = 1e6, ``B`` or ``G`` = 1e9, ``T`` = 1e12, ``P`` = 1e15
  (case-insensitive).  Binary multipliers ``Ki``, ``Mi``, ``Gi``, ``Ti`` are powers of 1024.
* Sequence lengths are the one exception: ``4k`` context means 4096 tokens, so
  :func:`parse_seq_len` reads ``k`` and ``M`` as 1024 and 1024**2.
* A multiplier must be followed by a space or the end: ``4M tokens`` (not ``4Mtokens``).
* Parsing is exact decimal arithmetic, so ``parse_count(format_count(x)) == x`` for every float x.

Everything inside hpadvisor is carried in base units: parameters, tokens, tokens per step, FLOPs,
FLOP/s, seconds.  Conversion happens here, at the edge, once.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from hpadvisor.errors import InvalidInputError

_SI = {"k": 3, "m": 6, "b": 9, "g": 9, "t": 12, "p": 15}
_BINARY = {"ki": 10, "mi": 20, "gi": 30, "ti": 40, "pi": 50}

_NUMBER = r"[+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_PATTERN = re.compile(
    rf"^\s*(?P<num>{_NUMBER})\s*(?:(?P<mult>[KMGTP]i|[kmbgtp])(?![A-Za-z]))?\s*(?P<unit>[A-Za-z/_ ]*?)\s*$",
    re.IGNORECASE,
)

#: Unit words accepted after a number, mapped to the canonical unit.
UNIT_WORDS: dict[str, str] = {
    "tokens": "tokens", "token": "tokens", "tok": "tokens", "toks": "tokens",
    "seqs": "sequences", "seq": "sequences", "sequences": "sequences", "sequence": "sequences",
    "samples": "sequences", "sample": "sequences",
    "flops": "FLOPs", "flop": "FLOPs",
    "params": "params", "parameters": "params", "param": "params",
    "steps": "steps", "step": "steps", "iters": "steps", "iterations": "steps",
}


def describe(text: object) -> str:
    """A value as an error message shows it: strings quoted, anything longer than 40 characters cut."""
    out = repr(text) if isinstance(text, str) else str(text)
    return out if len(out) <= 40 else out[:37] + "..."


def parse_quantity(
    value: object,
    *,
    name: str,
    units: tuple[str, ...] = (),
    binary_k: bool = False,
    positive: bool = True,
    integer: bool = False,
) -> tuple[float, str | None]:
    """Parse a number with optional multiplier and unit word; return (value, canonical unit).

    ``units`` lists the canonical units accepted after the number (empty: none accepted).
    Raises :class:`InvalidInputError` with one line naming the field and the fix.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"'{name}' must be a number such as 7B or 2e21, not {value}.")
    unit: str | None = None
    if isinstance(value, int):  # via Decimal: a huge int gives inf (refused below), not OverflowError
        number = float(Decimal(value))
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            stripped = value.strip()
            lead = re.match(rf"^\s*{_NUMBER}\s*", stripped)
            if lead and stripped[lead.end():]:
                rest = stripped[lead.end():]
                raise InvalidInputError(
                    f"'{name}' = {describe(value)}: unknown unit suffix '{rest.split()[0]}'. "
                    "Use k, M, B, T (e.g. 7B, 1.4T, 2e21)."
                )
            raise InvalidInputError(
                f"'{name}' = {describe(value)} is not a number. Write it like 7B, 1.4T, 2e21 or 4k."
            )
        num, mult, word = match.group("num"), match.group("mult"), match.group("unit").strip()
        try:
            dec = Decimal(num.replace("_", ""))
        except InvalidOperation:  # pragma: no cover - the regex admits only decimals
            raise InvalidInputError(f"'{name}' = {describe(value)} is not a number.") from None
        if mult:
            key = mult.lower()
            if key in _BINARY:
                dec = dec * (Decimal(2) ** _BINARY[key])
            elif binary_k and key in ("k", "m"):
                dec = dec * (Decimal(1024) ** (1 if key == "k" else 2))
            else:
                dec = dec.scaleb(_SI[key])
        if word:
            canonical = UNIT_WORDS.get(word.lower())
            attached = not mult and value.lstrip()[len(num):][:1].isalpha()
            if canonical is None and attached:
                raise InvalidInputError(
                    f"'{name}' = {describe(value)}: unknown unit suffix '{word}'. "
                    "Use k, M, B, T (e.g. 7B, 1.4T, 2e21), and a space before a unit word (4M tokens)."
                )
            if canonical is None or canonical not in units:
                accepted = ", ".join(units) if units else "none (a bare number)"
                raise InvalidInputError(
                    f"'{name}' = {describe(value)}: unknown unit '{word}'. Units accepted here: {accepted}."
                )
            unit = canonical
        try:
            number = float(dec)
        except OverflowError:  # pragma: no cover - Decimal -> float gives inf, not an error
            number = math.inf
    else:
        raise InvalidInputError(
            f"'{name}' must be a number such as 7B or 2e21, not a {type(value).__name__}."
        )
    if not math.isfinite(number):
        raise InvalidInputError(f"'{name}' = {describe(value)} is not a finite number.")
    if positive and number <= 0:
        raise InvalidInputError(f"'{name}' must be > 0. Got {describe(value)}.")
    if integer and number != int(number):
        raise InvalidInputError(f"'{name}' must be a whole number. Got {describe(value)}.")
    return number, unit


def parse_count(value: object, *, name: str, positive: bool = True) -> float:
    """A bare count with SI multiplier: ``7B`` -> 7e9.  A unit word is refused."""
    return parse_quantity(value, name=name, positive=positive)[0]


def parse_steps(value: object, *, name: str = "steps") -> int:
    """A whole number of steps with SI multiplier: ``72k`` -> 72000; ``2.5`` is refused."""
    return int(parse_quantity(value, name=name, integer=True)[0])


def parse_seq_len(value: object, *, name: str = "seq_len") -> int:
    """A sequence length in tokens; ``4k`` = 4096 (binary k, as everyone writes context sizes)."""
    number, _ = parse_quantity(value, name=name, units=("tokens",), binary_k=True, integer=True)
    return int(number)


def parse_width(value: object, *, name: str = "d_model") -> int:
    """A model width (d_model, MLP or head size): a whole number, ``k`` read as 1024 as in
    :func:`parse_seq_len` (``4k`` = 4096: widths, like context sizes, are written in powers of two)."""
    number, _ = parse_quantity(value, name=name, binary_k=True, integer=True)
    return int(number)


#: The sizes hpadvisor computes with, per kind: (least, most).  A model below a thousand parameters
#: or a run below a thousand tokens is a unit error (millions written as units; a run shorter than
#: one sequence is refused later, in those words); above, the laws' powers leave float range
#: (1e-300 parameters printed numpy overflow warnings).
SIZE_RANGES: dict[str, tuple[float, float]] = {
    "parameters": (1e3, 1e15),
    "tokens": (1e3, 1e17),
}


def check_size(number: float, *, name: str, of: str) -> float:
    """``number`` if it lies in ``SIZE_RANGES[of]``, else one line naming the range and the likely unit slip."""
    least, most = SIZE_RANGES[of]
    if not least <= number <= most:
        side = "below" if number < least else "above"
        raise InvalidInputError(f"'{name}' = {number:.4g} {of} is {side} the {format_si(least)} to {format_si(most)} "
                                f"{of} hpadvisor computes with: check the units (7B = 7e9).")
    return number


def parse_size(value: object, *, name: str, of: str) -> float:
    """A count of ``of`` (parameters or tokens), with SI multiplier, in :data:`SIZE_RANGES`."""
    return check_size(parse_count(value, name=name), name=name, of=of)


def format_count(x: float) -> str:
    """Shortest SI form that parses back to exactly ``x``: 7e9 -> '7B', 1.3e9 -> '1.3B'."""
    x = float(x)
    if not math.isfinite(x):
        return repr(x)
    dec = Decimal(repr(x))
    mag = abs(x)
    for exp, suffix in ((15, "P"), (12, "T"), (9, "B"), (6, "M"), (3, "k")):
        if mag >= 10.0**exp:
            mant = dec.scaleb(-exp).normalize()
            return f"{mant:f}{suffix}"
    return repr(x) if x != int(x) else str(int(x))


def format_si(x: float, sig: int = 3) -> str:
    """Rounded SI form for display: 7.0e9 -> '7B', 1.1077e6 -> '1.11M', 0.5 -> '0.5'."""
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    mag = abs(x)
    for exp, suffix in ((15, "P"), (12, "T"), (9, "B"), (6, "M"), (3, "k")):
        if mag >= 10.0**exp * (1 - 0.5 * 10.0 ** (1 - sig)):
            return f"{_sig(x / 10.0**exp, sig)}{suffix}"
    return _sig(x, sig)


def format_sci(x: float, sig: int = 3) -> str:
    """Scientific form for display: 1.632e-3 -> '1.63e-03'."""
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.{sig - 1}e}"


def _sig(x: float, sig: int) -> str:
    text = f"{x:.{sig}g}"
    if "e" in text:
        return f"{x:.{sig - 1}e}"
    return text
