"""``--holdout EXPR``: which rows to hold out of a fit, e.g. ``'N >= 1e9'`` or ``'D > 5e10 and N < 1e9'``.

A tiny grammar (never ``eval``): clauses ``COLUMN OP NUMBER`` joined by ``and``; OP one of
``< <= > >= == !=``; numbers take human units (``1B``, ``5e10``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping

import numpy as np

from hpadvisor.errors import InvalidInputError, did_you_mean
from hpadvisor.spec import units

_OPS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
        "<": operator.lt, ">": operator.gt}
_CLAUSE = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9/]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")


def mask(holdout: str, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Boolean mask of the rows the expression ``holdout`` selects."""
    if not isinstance(holdout, str) or not holdout.strip():
        raise InvalidInputError("`holdout` needs an expression such as 'N >= 1e9'.")
    clauses = re.split(r"\s+and\s+|\s*&\s*", holdout.strip())
    n = len(next(iter(columns.values())))
    out = np.ones(n, dtype=bool)
    for clause in clauses:
        m = _CLAUSE.match(clause)
        if not m:
            raise InvalidInputError(
                f"`holdout` '{holdout}': cannot read '{clause}'. Write COLUMN OP NUMBER, e.g. 'N >= 1e9'."
            )
        col, op, value = m.groups()
        if col not in columns:
            raise InvalidInputError(f"`holdout`: unknown column '{col}'.{did_you_mean(col, columns)}")
        number = units.parse_quantity(value, name="`holdout`", positive=False)[0]
        out &= _OPS[op](np.asarray(columns[col], float), number)
    return out
