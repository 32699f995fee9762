"""From a planned run to advice: every value with the law that gave it and the others' spread; the planned schedule; trainer snippets.

The package is also its entry point: ``hpadvisor.recommend(spec, ...)`` calls
:func:`hpadvisor.recommend.advisor.recommend` (a function of the same name could not be re-exported
as ``hpadvisor.recommend``: importing any module of this package binds the package there).
"""

import sys as _sys
import types as _types


class _Package(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from hpadvisor.recommend.advisor import recommend

        return recommend(*args, **kwargs)


_sys.modules[__name__].__class__ = _Package
