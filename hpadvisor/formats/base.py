"""The one normalised view of a trainer's config, and the three entry points.

Every reader (one module per trainer, next to this one) turns a file in its trainer's own format
into a :class:`TrainerConfig` (its :class:`~hpadvisor.formats.trainer.Trainer` registered in
:mod:`hpadvisor.formats.registry`): a mapping from the ``CANONICAL`` names below to :class:`Setting`
objects, each holding the value in base units, the trainer's field name as written, the 1-based
line where it is set and the raw value.  The check rules (``hpadvisor/check/rules.py``) read only this
view, so they never need to know which trainer a file came from.

Files are only ever parsed as data: YAML through :mod:`hpadvisor.io.yamlio` (safe loader), JSON with
:mod:`json`, TOML with :mod:`tomllib`, launch scripts split with :mod:`shlex`, and nanoGPT's Python
override files with :func:`ast.parse` + :func:`ast.literal_eval`.  Nothing in a file is executed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError

#: the canonical keys that describe the model's shape (check and --emit read them together).
ARCH_KEYS = ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_hidden", "vocab_size", "swiglu",
              "tied_embeddings", "n_experts", "top_k", "moe_ffn_hidden", "n_shared_experts")


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
    format: str  # a registered format's key (hpadvisor.formats.registry.TRAINERS)
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

    def steps(self, key: str, default: int | None, exact: bool = False) -> int | float | None:
        """A canonical step count (warmup_steps, decay_steps...) as a whole number of steps, or
        ``default`` when the file does not give it; ``exact``: a fraction of a step is kept.
        InvalidInputError naming the field when it is not a number of steps >= 0."""
        v = self.value(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise InvalidInputError(f"'{self.path}': {self.settings[key].field} = {v!r} is not a number of steps >= 0.")
        if exact and not float(v).is_integer():
            return float(v)
        return int(round(v))


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


__all__ = [
    "CANONICAL",
    "SCHEDULES",
    "WSD_DECAY_STYLES",
    "DataError",
    "Setting",
    "TrainerConfig",
]
