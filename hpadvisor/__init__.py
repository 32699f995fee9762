"""hpadvisor: hyperparameter advice for LLM pretraining from every published law.

    >>> import hpadvisor
    >>> spec = hpadvisor.spec_from(params="1.3B", tokens="26B", seq_len=2048)
    >>> advice = hpadvisor.recommend(spec)
    >>> advice["peak_lr"].law
    'steplaw'
"""

from __future__ import annotations

__version__ = "0.1.0"

from hpadvisor.advisor import Advice, Recommendation, recommend
from hpadvisor.api import load_spec, spec_from
from hpadvisor.errors import DataError, FitError, HpAdvisorError, InvalidInputError, UnknownLawError
from hpadvisor.laws import REGISTRY
from hpadvisor.spec import RunSpec

__all__ = [
    "Advice",
    "DataError",
    "FitError",
    "HpAdvisorError",
    "InvalidInputError",
    "REGISTRY",
    "Recommendation",
    "RunSpec",
    "UnknownLawError",
    "load_spec",
    "recommend",
    "spec_from",
]
