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
    from hpadvisor.recommend.advisor import allocator

    values = load_values(None if path is None else str(path), overrides)
    return _spec.build_spec(values, allocate=allocator(laws, loss_law))


def load_values(path: str | os.PathLike[str] | None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A run file's validated values with ``overrides`` applied; a trainer's config given instead is
    named (with the commands that read it) rather than refused key by key."""
    from hpadvisor.formats.registry import trainer_config_kind

    return _spec.load_values(None if path is None else str(path), overrides, looks_like=trainer_config_kind)


def spec_from(path: str | os.PathLike[str] | None = None, **kwargs: Any) -> _spec.RunSpec:
    """``spec_from(params="7B", tokens="2T", seq_len="4k")``: keyword values in human units."""
    unknown = [k for k in kwargs if k not in KEYWORDS]
    if unknown:
        from hpadvisor.errors import InvalidInputError, did_you_mean

        raise InvalidInputError(f"unknown keyword '{unknown[0]}'.{did_you_mean(unknown[0], KEYWORDS)}")
    return load_spec(path, {KEYWORDS[k]: v for k, v in kwargs.items()})
