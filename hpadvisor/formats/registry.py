"""Reading and writing trainer configs: a config's format by its content, its reader, its snippet
writer; and the hint that a file given as a run file is a trainer's config."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from hpadvisor.errors import HpAdvisorError, InvalidInputError, did_you_mean
from hpadvisor.formats._common import apply_overrides, finalize, read_hf_model_config
from hpadvisor.formats._detect import detect, score
from hpadvisor.formats.base import CANONICAL, FORMATS, TrainerConfig
from hpadvisor.io.yamlio import read_text


def _module(fmt: str) -> Any:
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown config format '{fmt}'.{did_you_mean(fmt, FORMATS)}")
    return importlib.import_module(f"hpadvisor.formats.{fmt}")


def detect_format(path: str, text: str) -> str:
    """The format of a config file from its name and content; DataError naming what it saw."""
    return detect(str(path), text)


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
    path = str(path)
    text = read_text(path, what="config file")
    fmt = format if format is not None else detect_format(path, text)
    draft = _module(fmt).read(path, text)
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
    return _module(format).dump(dict(values))



_TRAINER_NAMES = {"megatron": "Megatron-LM", "neox": "GPT-NeoX", "hf": "Hugging Face", "torchtitan": "torchtitan",
                  "nanotron": "nanotron", "nanogpt": "nanoGPT"}


def trainer_config_kind(path: str, raw: Any) -> str | None:
    """The trainer a file that failed as a run file was written for, when it clearly is one.
    ``raw``: the file as YAML already parsed (None when it is not YAML: a script, TOML)."""
    try:
        from hpadvisor.io.inputs import read_input_text  # regular files only, size capped

        kind = detect(path, read_input_text(path))
    except (HpAdvisorError, OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(raw, Mapping):  # by its keys: only when they say so clearly
        marks = score(raw)
        if marks.get(kind, 0) < 2 or marks.get(kind, 0) <= marks.get("hpadvisor", 0):
            return None
    return _TRAINER_NAMES.get(kind)
