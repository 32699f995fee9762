"""Trainer config readers and snippet writers: one module per trainer (and one for hpadvisor's run
file), each defining its :class:`~hpadvisor.formats.trainer.Trainer`, registered in
:data:`~hpadvisor.formats.registry.TRAINERS`.  See :mod:`hpadvisor.formats.base` and docs/formats.md."""

from typing import Any

from hpadvisor.formats.base import CANONICAL, Setting, TrainerConfig
from hpadvisor.formats.registry import TRAINERS, detect_format, dump_snippet, read_config
from hpadvisor.formats.trainer import Trainer

__all__ = [
    "CANONICAL",
    "FORMATS",
    "TRAINERS",
    "Setting",
    "Trainer",
    "TrainerConfig",
    "detect_format",
    "dump_snippet",
    "read_config",
]


def __getattr__(name: str) -> Any:
    if name == "FORMATS":  # every format's key, in listing order (read from the registry when asked)
        from hpadvisor.formats.registry import formats

        return formats()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
