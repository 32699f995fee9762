"""Reading a run file and flag values: each value converted to base units and checked against its field."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hpadvisor.errors import DataError, HpAdvisorError, InvalidInputError, closest, did_you_mean
from hpadvisor.spec import units
from hpadvisor.spec.fields import FIELDS, SYNONYMS, Field, _field_at, field_paths

# ------------------------------------------------------------------------------------------------
# Parsing.

Lines = Mapping[tuple[str, ...], int]


def _where(path: tuple[str, ...], lines: Lines, source: str) -> str:
    line = lines.get(path)
    loc = f"{source}:{line}: " if (source and line) else (f"{source}: " if source else "")
    return loc


def _convert(fld: Field, value: Any, dotted: str) -> Any:
    kind = fld.kind
    if kind == "count":
        of = "parameters" if dotted.endswith("params") else "tokens" if dotted.endswith("tokens") else None
        if of is not None:  # a model size or a token count: in the range hpadvisor computes with
            return units.parse_size(value, name=dotted, of=of)
        return units.parse_count(value, name=dotted)
    if kind == "width":
        return units.parse_width(value, name=dotted)
    if kind == "flops":
        return units.parse_quantity(value, name=dotted, units=("FLOPs",))[0]
    if kind == "seq_len":
        return units.parse_seq_len(value, name=dotted)
    if kind == "batch":
        return _batch(value, dotted)
    if kind == "int":
        return int(units.parse_quantity(value, name=dotted, integer=True)[0])
    if kind in ("float", "lr"):
        return units.parse_count(value, name=dotted)
    if kind == "nonneg":
        x = units.parse_quantity(value, name=dotted, positive=False)[0]
        if x < 0:
            raise InvalidInputError(f"'{dotted}' must be >= 0. Got {value!r}.")
        return x
    if kind in ("fraction", "beta"):
        x = units.parse_quantity(value, name=dotted, positive=False)[0]
        ok = 0 < x < 1 if kind == "beta" else 0 <= x <= 1
        if not ok:
            rng = "between 0 and 1 (exclusive)" if kind == "beta" else "between 0 and 1"
            raise InvalidInputError(f"'{dotted}' must be {rng}. Got {value!r}.")
        return x
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInputError(f"'{dotted}' must be true or false. Got {value!r}.")
        return value
    if kind == "str":
        return _text(fld, value, dotted)
    if kind == "warmup":
        return _warmup(value, dotted)
    raise AssertionError(f"unhandled field kind {kind}")  # pragma: no cover - table is fixed


def _batch(value: Any, dotted: str) -> tuple[float, str]:
    """A batch with its unit: (number, 'tokens' or 'sequences')."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise InvalidInputError(
            f"'{dotted}' = {value} has no unit: write '{value} seqs' or '{value} tokens'."
        )
    number, unit = units.parse_quantity(value, name=dotted, units=("tokens", "sequences"))
    if unit is None:
        raise InvalidInputError(
            f"'{dotted}' = {value!r} has no unit: write '{value} seqs' or '{value} tokens'."
        )
    return (number, unit)


def _text(fld: Field, value: Any, dotted: str) -> str:
    """A non-empty string; one of the field's choices (normalised) when it has them."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"'{dotted}' must be a non-empty string. Got {value!r}.")
    if fld.choices:
        norm = value.strip().lower().replace("-", "_")
        if norm not in fld.choices:
            raise InvalidInputError(
                f"'{dotted}' = {value!r} is not one of {', '.join(fld.choices)}."
                + (did_you_mean(norm, fld.choices) if len(fld.choices) > 1 else "")
            )
        return norm
    return value.strip()


def _warmup(value: Any, dotted: str) -> tuple[str, float]:
    """A warmup: ('fraction', x) below 1, else ('steps' or 'tokens', n)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = float(Decimal(value)) if isinstance(value, int) else value  # a huge int: inf, not an error
        if not math.isfinite(x) or x < 0:
            raise InvalidInputError(f"'{dotted}' must be a finite number >= 0. Got {units.describe(value)}.")
        if 0 < x < 1:
            return ("fraction", x)
        if x != int(x):
            raise InvalidInputError(
                f"'{dotted}' = {value!r}: give a fraction below 1, or whole steps ('2000 steps')."
            )
        return ("steps", x)
    number, unit = units.parse_quantity(
        value, name=dotted, units=("steps", "tokens"), positive=False
    )
    if number < 0:
        raise InvalidInputError(f"'{dotted}' must be >= 0. Got {value!r}.")
    if unit is None:
        if 0 < number < 1:
            return ("fraction", number)
        unit = "steps"
    if unit == "steps" and number != int(number):
        raise InvalidInputError(
            f"'{dotted}' = {units.describe(value)}: give a fraction below 1, or whole steps ('2000 steps')."
        )
    return (unit, number)


def convert(kind: str, value: Any, name: str) -> Any:
    """Validate and convert one value of a field kind (count, int, lr, batch...), as the run file does."""
    return _convert(Field(kind, name), value, name)


def parse_raw(
    raw: Any, *, lines: Lines | None = None, source: str = ""
) -> dict[str, Any]:
    """Validate the nested run-file mapping against ``FIELDS``; return {dotted key: value}.

    Unknown keys are refused with the closest valid key.  Values are converted to base units.
    """
    lines = lines or {}
    if raw is None:
        raise DataError(f"{source or 'run file'}: is empty. See `hpadvisor schema` for the keys.")
    if not isinstance(raw, Mapping):
        raise DataError(
            f"{source or 'run file'}: must be a mapping of keys (model:, data:, ...), "
            f"not a {type(raw).__name__}."
        )
    out: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], tree: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            kpath = path + (str(key),)
            dotted = ".".join(kpath)
            where = _where(kpath, lines, source)
            if not isinstance(key, str) or key not in tree:
                here = [".".join(path + (k,)) for k in tree]
                synonym = ".".join(path + (SYNONYMS.get(str(key).lower(), ""),))
                best = synonym if synonym in field_paths() else closest(dotted, here + field_paths())
                hint = (f" Did you mean '{best}'?" if best else
                        f" Valid here: {', '.join(here)} (see `hpadvisor schema`).")
                raise InvalidInputError(f"{where}unknown key {dotted!r}.{hint}")
            sub = tree[key]
            if isinstance(sub, Field):
                if value is None:
                    raise InvalidInputError(f"{where}'{dotted}' is empty. Give a value or remove the key.")
                try:
                    out[dotted] = _convert(sub, value, dotted)
                except InvalidInputError as exc:
                    raise InvalidInputError(f"{where}{exc}") from None
            else:
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    raise InvalidInputError(
                        f"{where}'{dotted}' must be a section of keys ({', '.join(sub)}), "
                        f"not {value!r}."
                    )
                walk(value, sub, kpath)

    walk(raw, FIELDS, ())
    return out


def parse_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Flag values keyed by dotted run-file key, validated like the file (None = not given)."""
    out: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        fld = _field_at(tuple(dotted.split(".")))
        out[dotted] = _convert(fld, value, dotted)
    return out




# ------------------------------------------------------------------------------------------------
# Entry points.


def load_values(path: str | None, overrides: Mapping[str, Any] | None = None, *,
                looks_like: Callable[[str, Any], str | None] | None = None) -> dict[str, Any]:
    """Read a run file (if any) and apply flag overrides (flags win).

    ``looks_like(path, raw)``: the trainer a file that failed as a run file was written for (raw =
    the parsed YAML, or None), so the message can say which command reads it."""
    from hpadvisor.io import yamlio

    values: dict[str, Any] = {}
    if path is not None:
        raw = None
        try:
            raw, lines = yamlio.load(path, what="run file")
            values.update(parse_raw(raw, lines=lines, source=str(path)))
        except HpAdvisorError as exc:  # a trainer's config given where a run file goes: say which command reads it
            trainer = None if looks_like is None else looks_like(str(path), raw)
            if trainer is None:
                raise
            raise type(exc)(f"{path} looks like a {trainer} config, not an hpadvisor run file: "
                            f"`hpadvisor check {path}` compares it with the advice, and "
                            f"`hpadvisor schedule --config {path}` writes the lr it runs with.") from None
    if overrides:
        values.update(parse_overrides(overrides))
    return values



