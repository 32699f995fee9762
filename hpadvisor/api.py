"""Building a :class:`~hpadvisor.spec.RunSpec` from Python: a run file, keyword values, or both."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from hpadvisor import spec as _spec
from hpadvisor.laws.base import Law

#: Keyword names of :func:`spec_from` -> dotted run-file keys (the CLI flags use the same map).
KEYWORDS: dict[str, str] = {
    "params": "model.params",
    "non_embedding_params": "model.non_embedding_params",
    "active_params": "model.active_params",
    "tokens": "data.tokens",
    "tokens_per_param": "data.tokens_per_param",
    "compute": "data.compute",
    "seq_len": "seq_len",
    "batch": "batch",
    "schedule": "schedule.shape",
    "warmup": "schedule.warmup",
    "decay_fraction": "schedule.decay_fraction",
    "min_lr": "schedule.min_lr",
    "min_lr_ratio": "schedule.min_lr_ratio",
    "lr": "optimizer.lr",
    "accelerator": "hardware.accelerator",
    "peak_flops": "hardware.peak_flops",
    "count": "hardware.count",
    "mfu": "hardware.mfu",
    "name": "name",
}


def load_spec(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    laws: Mapping[str, Law] | None = None,
    loss_law: str | None = None,
) -> _spec.RunSpec:
    """Read a run file and apply ``overrides`` (dotted keys, flags win); resolve to a RunSpec."""
    from hpadvisor.advisor import allocator

    values = _spec.load_values(None if path is None else str(path), overrides)
    return _spec.build_spec(values, allocate=allocator(laws, loss_law))


def spec_from(path: str | os.PathLike[str] | None = None, **kwargs: Any) -> _spec.RunSpec:
    """``spec_from(params="7B", tokens="2T", seq_len="4k")``: keyword values in human units."""
    unknown = [k for k in kwargs if k not in KEYWORDS]
    if unknown:
        from hpadvisor.errors import InvalidInputError, did_you_mean

        raise InvalidInputError(f"unknown keyword '{unknown[0]}'.{did_you_mean(unknown[0], KEYWORDS)}")
    return load_spec(path, {KEYWORDS[k]: v for k, v in kwargs.items()})
