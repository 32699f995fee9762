"""hpadvisor: hyperparameter advice for LLM pretraining from every published law.

    >>> import hpadvisor
    >>> spec = hpadvisor.spec_from(params="1.3B", tokens="26B", seq_len=2048)
    >>> advice = hpadvisor.recommend(spec)
    >>> advice["peak_lr"].law
    'steplaw'

Names are imported on first use (PEP 562), so `hpadvisor --help` does not pay for numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Advice": "hpadvisor.recommend.advisor",
    "Recommendation": "hpadvisor.recommend.advisor",
    "recommend": "hpadvisor.recommend.advisor",
    "load_spec": "hpadvisor.recommend.api",
    "spec_from": "hpadvisor.recommend.api",
    "DataError": "hpadvisor.errors",
    "FitError": "hpadvisor.errors",
    "HpAdvisorError": "hpadvisor.errors",
    "InvalidInputError": "hpadvisor.errors",
    "UnknownLawError": "hpadvisor.errors",
    "REGISTRY": "hpadvisor.laws",
    "RunSpec": "hpadvisor.spec",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from hpadvisor.errors import DataError, FitError, HpAdvisorError, InvalidInputError, UnknownLawError
    from hpadvisor.laws import REGISTRY
    from hpadvisor.recommend.advisor import Advice, Recommendation, recommend
    from hpadvisor.recommend.api import load_spec, spec_from
    from hpadvisor.spec import RunSpec


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hpadvisor' has no attribute {name!r}")
