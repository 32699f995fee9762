"""The trainer registry (``TRAINERS``: every trainer module's :class:`~hpadvisor.formats.trainer.Trainer`),
and reading and writing trainer configs through it: a config's format by its content, its reader,
its snippet writer; and the hint that a file given as a run file is a trainer's config.

A trainer is registered by its module alone: ``formats/<key>.py`` defining ``TRAINER``.  The
registry imports those modules the first time it is read (not when this module is imported), so
the command line's start stays cheap.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hpadvisor.errors import HpAdvisorError, InvalidInputError, did_you_mean
from hpadvisor.formats._common import apply_overrides, finalize, read_hf_model_config
from hpadvisor.formats._detect import detect, score
from hpadvisor.formats.base import CANONICAL, TrainerConfig
from hpadvisor.formats.trainer import Trainer


class _Registry(Mapping[str, Trainer]):
    """Key -> Trainer, in listing order (``Trainer.order``); filled on first use."""

    def __init__(self) -> None:
        self._found: dict[str, Trainer] | None = None

    def _load(self) -> dict[str, Trainer]:
        if self._found is None:
            found = []
            for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
                if info.name.startswith("_") or info.ispkg:
                    continue
                trainer = getattr(importlib.import_module(f"{__package__}.{info.name}"), "TRAINER", None)
                if isinstance(trainer, Trainer):
                    found.append(trainer)
            self._found = {t.key: t for t in sorted(found, key=lambda t: (t.order, t.key))}
        return self._found

    def __getitem__(self, key: str) -> Trainer:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"TRAINERS({', '.join(self)})"


#: Every format hpadvisor reads and writes (the trainers and the run file), by key, in listing order.
TRAINERS: Mapping[str, Trainer] = _Registry()


def formats() -> tuple[str, ...]:
    """Every format's key, in listing order: the trainers', then the run file's."""
    return tuple(TRAINERS)


def trainer_keys() -> tuple[str, ...]:
    """The trainers' keys (the run file left out), in listing order: what ``schedule.trainer`` may name."""
    return tuple(k for k, t in TRAINERS.items() if not t.run_file)


def trainer(key: str) -> Trainer:
    """The registered trainer (or run file) ``key``; InvalidInputError naming the known ones."""
    found = TRAINERS.get(key)
    if found is None:
        raise InvalidInputError(f"unknown config format '{key}'.{did_you_mean(key, formats())}")
    return found


def detect_format(path: str, text: str) -> str:
    """The format of a config file from its name and content; DataError naming what it saw."""
    return detect(str(path), text, tuple(TRAINERS.values()))


def read_config(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    model_config: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainerConfig:
    """Read a trainer config file (format auto-detected unless given) into a TrainerConfig.

    ``model_config``: the model's HF ``config.json`` (architecture) for HF TrainingArguments files
    (any format accepts one; its architecture fields fill in what the file does not state).
    ``overrides``: canonical name -> value (base units) that replace what the file says, e.g. the
    data-parallel size, which a launch config often leaves to the cluster.
    Errors: DataError / InvalidInputError, one line, naming the file, line and field.
    """
    from hpadvisor.io.yamlio import read_text  # here: importing the registry loads no YAML parser

    path = str(path)
    text = read_text(path, what="config file")
    fmt = format if format is not None else detect_format(path, text)
    draft = trainer(fmt).read(path, text)
    if model_config is not None:
        read_hf_model_config(str(model_config), draft)
    if overrides:
        apply_overrides(draft, overrides)
    return finalize(draft)


def dump_snippet(format: str, values: Mapping[str, Any]) -> str:
    """Config text in ``format``'s own syntax and field names for canonical ``values``.

    ``read_config`` of the text gives back the same values (round trip).  Unknown canonical names
    raise InvalidInputError; names the trainer has no field for are left out with a comment.
    """
    unknown = [k for k in values if k not in CANONICAL]
    if unknown:
        raise InvalidInputError(
            f"unknown setting '{unknown[0]}' for dump_snippet.{did_you_mean(unknown[0], CANONICAL)}"
        )
    return trainer(format).dump(dict(values))


def trainer_config_kind(path: str, raw: Any) -> str | None:
    """The trainer a file that failed as a run file was written for, when it clearly is one.
    ``raw``: the file as YAML already parsed (None when it is not YAML: a script, TOML)."""
    known = tuple(TRAINERS.values())
    try:
        from hpadvisor.io.inputs import read_input_text  # regular files only, size capped

        kind = detect(path, read_input_text(path), known)
    except (HpAdvisorError, OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(raw, Mapping):  # by its keys: only when they say so clearly
        marks = score(raw, known)
        run_file = max((marks.get(t.key, 0) for t in known if t.run_file), default=0)
        if marks.get(kind, 0) < 2 or marks.get(kind, 0) <= run_file:
            return None
    return None if TRAINERS[kind].run_file else TRAINERS[kind].name
