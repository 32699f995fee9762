"""`hpadvisor check`: a trainer's config against the advice. Rules are pure functions of a Context; settings and output formats beside them.

The package is also its entry point: ``hpadvisor.check(config, *, format=None, model_config=None,
**options)`` reads ``config`` (a path, or a TrainerConfig already read) with
:func:`hpadvisor.formats.registry.read_config` and returns :func:`hpadvisor.check.rules.check`'s
Report (a function of the same name could not be re-exported as ``hpadvisor.check``: importing any
module of this package binds the package there).
"""

import sys as _sys
import types as _types


class _Package(_types.ModuleType):
    def __call__(self, config, *, format=None, model_config=None, **options):
        from hpadvisor.check.rules import check
        from hpadvisor.formats.base import TrainerConfig

        if not isinstance(config, TrainerConfig):
            from hpadvisor.formats.registry import read_config

            config = read_config(config, format=format, model_config=model_config)
        return check(config, **options)


_sys.modules[__name__].__class__ = _Package
