"""Hyperparameter transfer from a tuned proxy to a target model (muP, CompleteP, ...): plans and trainer emitters.

The package is also its entry point: ``hpadvisor.transfer(base, target, param="mup")`` calls
:func:`hpadvisor.transfer.plan.plan_from_values` (a function could not be re-exported as
``hpadvisor.transfer``: importing any module of this package binds the package there).
"""

import sys as _sys
import types as _types


class _Package(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from hpadvisor.transfer.plan import plan_from_values

        return plan_from_values(*args, **kwargs)


_sys.modules[__name__].__class__ = _Package
