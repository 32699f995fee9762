"""hpadvisor: hyperparameter advice for LLM pretraining from every published law.

    >>> import hpadvisor
    >>> spec = hpadvisor.spec_from(params="1.3B", tokens="26B", seq_len=2048)
    >>> advice = hpadvisor.recommend(spec)
    >>> advice["peak_lr"].law
    'steplaw'

Names are imported on first use (PEP 562), so `hpadvisor --help` does not pay for numpy.  The
documented API (docs/api.md): ``recommend``, ``check``, ``fit_curves``, ``fit_final``, ``fit_sweep``,
``fit_batch``, ``plan_ladder``, ``predict``, ``transfer``, with the readers their inputs come from.  ``recommend``,
``check`` and ``transfer`` are the packages of those names, called as functions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: name -> the module it is imported from; ``hpadvisor.<name>`` itself for a package used as a function.
_EXPORTS = {
    "Advice": "hpadvisor.recommend.advisor",
    "Recommendation": "hpadvisor.recommend.advisor",
    "recommend": "hpadvisor.recommend",
    "check": "hpadvisor.check",
    "transfer": "hpadvisor.transfer",
    "load_spec": "hpadvisor.recommend.api",
    "spec_from": "hpadvisor.recommend.api",
    "fit_curves": "hpadvisor.fitting.curves",
    "curves_from_logs": "hpadvisor.fitting.curves",
    "fit_final": "hpadvisor.fitting.final",
    "read_ladder": "hpadvisor.fitting.final",
    "fit_sweep": "hpadvisor.fitting.sweep",
    "fit_batch": "hpadvisor.fitting.batch",
    "plan_ladder": "hpadvisor.fitting.ladder",
    "read_fit_table": "hpadvisor.fitting.data",
    "predict": "hpadvisor.fitting.curve_advice",
    "read_config": "hpadvisor.formats.registry",
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
    from hpadvisor.check.rules import check
    from hpadvisor.errors import DataError, FitError, HpAdvisorError, InvalidInputError, UnknownLawError
    from hpadvisor.fitting.batch import fit_batch
    from hpadvisor.fitting.curve_advice import predict
    from hpadvisor.fitting.curves import curves_from_logs, fit_curves
    from hpadvisor.fitting.data import read_fit_table
    from hpadvisor.fitting.final import fit_final, read_ladder
    from hpadvisor.fitting.ladder import plan_ladder
    from hpadvisor.fitting.sweep import fit_sweep
    from hpadvisor.formats.registry import read_config
    from hpadvisor.laws import REGISTRY
    from hpadvisor.recommend.advisor import Advice, Recommendation, recommend
    from hpadvisor.recommend.api import load_spec, spec_from
    from hpadvisor.spec import RunSpec
    from hpadvisor.transfer.plan import plan_from_values as transfer


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(_EXPORTS[name])
        value = module if _EXPORTS[name] == f"hpadvisor.{name}" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hpadvisor' has no attribute {name!r}")
