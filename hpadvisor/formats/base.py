"""The one normalised view of a trainer's config, and the three entry points.

Every reader (one module per trainer, next to this one) turns a file in its trainer's own format
into a :class:`TrainerConfig`: a mapping from the ``CANONICAL`` names below to :class:`Setting`
objects, each holding the value in base units, the trainer's field name as written, the 1-based
line where it is set and the raw value.  The check rules (``hpadvisor/check.py``) read only this
view, so they never need to know which trainer a file came from.

Files are only ever parsed as data: YAML through :mod:`hpadvisor.yamlio` (safe loader), JSON with
:mod:`json`, TOML with :mod:`tomllib`, launch scripts split with :mod:`shlex`, and nanoGPT's Python
override files with :func:`ast.parse` + :func:`ast.literal_eval`.  Nothing in a file is executed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError, did_you_mean


@dataclass(frozen=True)
class Setting:
    """One normalised setting of a trainer config."""

    value: Any  # normalised value in base units (see CANONICAL)
    field: str  # the trainer's own field name as written, e.g. "lr_warmup_iters" or "--lr"
    line: int | None  # 1-based line in the file where it is set (None if derived or a default)
    raw: Any = None  # the value exactly as written
    derived_from: tuple[str, ...] = ()  # fields it was computed from
    offset: float = 0.0  # value = offset + raw, when the field counts from a later start (HF WSD, nanotron)


@dataclass(frozen=True)
class TrainerConfig:
    """A trainer config read from ``path``, normalised to ``CANONICAL`` names."""

    path: str
    format: str  # one of FORMATS
    settings: Mapping[str, Setting] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # normalisation remarks (e.g. "warmup given in samples")
    unknown: frozenset[str] = frozenset()  # canonical names the file sets to something unreadable (code)

    def get(self, key: str) -> Setting | None:
        """The setting for a canonical name, or None when the file neither states nor implies it."""
        return self.settings.get(key)

    def value(self, key: str, default: Any = None) -> Any:
        """The normalised value for a canonical name, or ``default``."""
        s = self.settings.get(key)
        return default if s is None else s.value


FORMATS = ("megatron", "neox", "hf", "torchtitan", "nanotron", "nanogpt", "hpadvisor")

#: Canonical setting names -> meaning and unit.  Values are always in these units, whatever the
#: trainer wrote (steps, not samples or fractions; absolute lr, not ratios; sequences, not tokens).
CANONICAL: dict[str, str] = {
    "lr": "peak learning rate (absolute)",
    "min_lr": "final learning rate, absolute (ratio forms are converted using lr)",
    "schedule": "one of cosine, linear, wsd, constant, inverse_sqrt, exponential, multistep",
    "wsd_decay_style": "linear, cosine, exponential, 1-sqrt (WSD cooldown shape)",
    "warmup_steps": "warmup length in optimizer steps (samples/fractions converted; keep the raw field)",
    "schedule_variant": "a decay the schedule name does not describe (HF power or num_cycles, a nanotron decay "
                        "starting inside the warmup); not computed",
    "trainer": "the trainer a run file says runs it (its per-step lr formulas)",
    "warmup_shape": "warmup ramp shape when not linear (HF warmup_stable_decay's warmup_type)",
    "warmup_init_lr": "lr the warmup starts from, absolute (Megatron lr_warmup_init; the peak for a constant warmup)",
    "train_steps": "total optimizer steps of the run",
    "decay_steps": "steps over which the lr decays (the decay horizon; may differ from train_steps)",
    "wsd_decay_steps": "WSD cooldown length in steps",
    "global_batch_seqs": "global batch in sequences (per-device x accumulation x data-parallel)",
    "micro_batch_seqs": "per-device micro batch in sequences",
    "grad_accum": "gradient accumulation steps",
    "data_parallel": "data-parallel size (devices / (tp*pp) where known)",
    "seq_len": "sequence length in tokens",
    "tokens": "total training tokens (if stated or derivable: train_steps x global batch x seq_len)",
    "weight_decay": "decoupled weight decay",
    "wd_on_embeddings": "True if weight decay applies to embeddings (per the trainer's defaults/flags)",
    "wd_on_norms": "True if weight decay applies to norm gains / biases",
    "beta1": "Adam beta1",
    "beta2": "Adam beta2",
    "eps": "Adam epsilon",
    "grad_clip": "global gradient-norm clip",
    "use_mup": "muP switched on (bool)",
    "mup_base_shapes": "muP base shapes given (bool); False when use_mup is set without them",
    "d_model": "hidden size",
    "n_layers": "transformer layers",
    "n_heads": "attention (query) heads",
    "n_kv_heads": "key/value heads",
    "ffn_hidden": "MLP hidden size",
    "vocab_size": "vocabulary size",
    "swiglu": "gated MLP with three matrices (bool)",
    "tied_embeddings": "output layer shares the embedding matrix (bool)",
    "n_experts": "MoE routed experts",
    "top_k": "MoE experts per token",
    "moe_ffn_hidden": "MoE: one expert's MLP hidden size (default ffn_hidden)",
    "n_shared_experts": "MoE: always-active shared experts, each moe_ffn_hidden wide",
    "cooldowns": "WSD-S: number of evenly spaced cooldowns (a run file's schedule.cooldowns)",
    "params": "total parameters, as a run file states them (model.params)",
    "non_embedding_params": "non-embedding parameters, as a run file states them",
    "batch_arithmetic_ok": "False when stated global batch != micro x accum x dp (with both given)",
    "trainer_refuses": "why the trainer would refuse to start with this config (its own argument checks)",
}

SCHEDULES = ("cosine", "linear", "wsd", "constant", "inverse_sqrt", "exponential", "multistep")
WSD_DECAY_STYLES = ("linear", "cosine", "exponential", "1-sqrt")


def _module(fmt: str) -> Any:
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown config format '{fmt}'.{did_you_mean(fmt, FORMATS)}")
    return importlib.import_module(f"hpadvisor.formats.{fmt}")


def detect_format(path: str, text: str) -> str:
    """The format of a config file from its name and content; DataError naming what it saw."""
    from hpadvisor.formats._detect import detect

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
    from hpadvisor.formats._common import apply_overrides, finalize, read_hf_model_config
    from hpadvisor.yamlio import read_text

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


__all__ = [
    "CANONICAL",
    "FORMATS",
    "SCHEDULES",
    "WSD_DECAY_STYLES",
    "DataError",
    "Setting",
    "TrainerConfig",
    "detect_format",
    "dump_snippet",
    "read_config",
]
