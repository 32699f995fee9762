"""The planned run: read from a YAML run file and/or flags, validated, normalised to base units.

``FIELDS`` below is the single description of the run file: the parser, the JSON Schema
(``hpadvisor schema``) and the README's key list all come from it.  The result is a frozen
:class:`RunSpec` in base units (parameters, tokens, tokens per step, FLOPs, FLOP/s) plus the list
of assumptions made where the user left something out, so every derived number can be traced.

Parameter counts (see :class:`Architecture`):

* non-embedding = attention (q, k, v, o) + MLP (+ MoE router) weights of all layers; norms,
  biases and embeddings excluded: Step Law's n_layer (4 h^2 + 3 h ffn) and Kaplan's 12 n_layer d^2.
* total = non-embedding + token embedding + output projection (unless tied) + norm gains.
* active (MoE) = the same with top_k + shared experts instead of all experts.
* FLOPs per token M = 6 N_active_nonembedding + 12 n_layers (n_heads d_head) seq_len: the
  DeepSeek LLM convention (72 n_layer d^2 + 12 n_layer d l_seq when N = 12 n_layer d^2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hpadvisor import units
from hpadvisor.errors import DataError, HpAdvisorError, InvalidInputError, closest, did_you_mean

# ------------------------------------------------------------------------------------------------
# The run file, described as data.


@dataclass(frozen=True)
class Field:
    """One key of the run file."""

    kind: str  # count, seq_len, batch, flops, int, float, fraction, beta, bool, str, warmup, lr
    help: str
    choices: tuple[str, ...] = ()
    example: Any = None


SCHEDULE_SHAPES = ("cosine", "wsd", "linear", "constant", "multistep", "inverse_sqrt")
#: What trainers call a run file's key (CONVENTIONS.md), for "did you mean" on an unknown key.
SYNONYMS = {
    "learning_rate": "lr", "peak_lr": "lr", "max_lr": "lr", "lr_max": "lr", "wd": "weight_decay",
    "adam_beta1": "beta1", "adam_beta2": "beta2", "adam_eps": "eps", "adam_epsilon": "eps",
    "betas": "beta2", "warmup_steps": "warmup", "warmup_iters": "warmup", "warmup_ratio": "warmup",
    "min_lr_rate": "min_lr_ratio", "lr_decay_style": "shape", "lr_scheduler_type": "shape",
    "decay_style": "shape", "num_params": "params", "n_params": "params", "parameters": "params",
    "n_tokens": "tokens", "train_tokens": "tokens", "num_tokens": "tokens", "hidden_size": "d_model",
    "n_embd": "d_model", "num_layers": "n_layers", "num_hidden_layers": "n_layers", "n_layer": "n_layers",
    "num_attention_heads": "n_heads", "n_head": "n_heads", "num_key_value_heads": "n_kv_heads",
    "intermediate_size": "ffn_hidden", "ffn_hidden_size": "ffn_hidden", "num_experts": "n_experts",
    "moe_router_topk": "top_k", "num_experts_per_tok": "top_k", "batch_size": "batch",
    "global_batch_size": "batch", "seq_length": "seq_len", "max_seq_length": "seq_len",
    "block_size": "seq_len", "context_length": "seq_len", "gpus": "count", "num_gpus": "count",
}
#: Training compute (FLOPs) above which a run is refused: ~1e9x the largest runs to date, far below
#: where the laws' products (N x D, C^alpha) leave float range; such numbers are wrong units.
MAX_COMPUTE = 1e35
#: Trainers whose lr formulas a run file may name (schedule.trainer).
TRAINERS = ("megatron", "neox", "hf", "torchtitan", "nanotron", "nanogpt")
#: WSD cooldown shapes, and trainers' spellings of them (Megatron lr_wsd_decay_style, torchtitan decay_type).
DECAY_SHAPES = ("linear", "1-sqrt", "cosine", "exponential", "geometric")
DECAY_ALIASES = {"1_sqrt": "1-sqrt", "minus_sqrt": "1-sqrt", "sqrt": "1-sqrt", "one_minus_sqrt": "1-sqrt",
                 "exp": "exponential"}
OPTIMIZERS = ("adamw", "adam")

FIELDS: dict[str, Any] = {
    "name": Field("str", "A name for the run (shown in the output)."),
    "model": {
        "params": Field("count", "Total parameters, embeddings included (e.g. 7B).", example="7B"),
        "non_embedding_params": Field("count", "Parameters outside the embeddings and output layer."),
        "active_params": Field("count", "MoE: total parameters active per token."),
        "architecture": {
            "d_model": Field("int", "Hidden size (hidden_size, n_embd).", example=4096),
            "n_layers": Field("int", "Transformer layers (num_layers, n_layer).", example=32),
            "n_heads": Field("int", "Attention (query) heads.", example=32),
            "n_kv_heads": Field("int", "Key/value heads (GQA/MQA); default n_heads."),
            "head_dim": Field("int", "Per-head dimension; default d_model / n_heads."),
            "ffn_hidden": Field(
                "int",
                "MLP hidden size; default 4 d_model, or Llama's 8/3 d_model rounded up to 256 "
                "with SwiGLU.",
            ),
            "vocab_size": Field("int", "Vocabulary size.", example=32000),
            "swiglu": Field("bool", "Gated MLP with three matrices (default true)."),
            "tied_embeddings": Field("bool", "Output layer shares the embedding matrix (default false)."),
            "n_experts": Field("int", "MoE: routed experts per MoE layer (default: dense)."),
            "top_k": Field("int", "MoE: routed experts per token."),
            "n_shared_experts": Field("int", "MoE: always-active shared experts (default 0)."),
            "moe_ffn_hidden": Field("int", "MoE: hidden size of one expert; default ffn_hidden."),
            "init_std": Field("lr", "Std of the weights' initialisation (e.g. 0.02), for transfer."),
        },
    },
    "data": {
        "tokens": Field("count", "Training tokens (e.g. 2T).", example="2T"),
        "tokens_per_param": Field("float", "Training tokens per total parameter (Chinchilla ~20)."),
        "compute": Field(
            "flops",
            "Compute budget in FLOPs (e.g. 2e21). Alone, it picks the compute-optimal model and data.",
        ),
    },
    "seq_len": Field("seq_len", "Sequence length in tokens; 4k = 4096 (default 2048).", example="4k"),
    "batch": Field(
        "batch", "Planned global batch with its unit: '4M tokens' or '1024 seqs' (optional).",
        example="4M tokens",
    ),
    "optimizer": {
        "name": Field("str", "Optimizer (default adamw).", choices=OPTIMIZERS),
        "lr": Field("lr", "Planned peak learning rate (optional; compared with the advice)."),
        "beta1": Field("beta", "Adam beta1 (default 0.9)."),
        "beta2": Field("beta", "Planned Adam beta2 (optional)."),
        "eps": Field("lr", "Adam epsilon (optional)."),
        "weight_decay": Field("nonneg", "Planned decoupled weight decay (optional)."),
        "reference": {
            "lr": Field("lr", "A learning rate tuned on a reference run."),
            "tokens": Field("count", "Tokens of that reference run (token-horizon rule)."),
            "batch": Field("batch", "Batch of that reference run, with unit."),
        },
    },
    "schedule": {
        "shape": Field("str", "Learning-rate schedule (default cosine).", choices=SCHEDULE_SHAPES),
        "warmup": Field(
            "warmup", "Warmup as '2000 steps', '500M tokens' or a fraction of the run (0.01)."
        ),
        "decay_fraction": Field("fraction", "WSD: fraction of the run (of each cycle with cooldowns > 1) spent cooling down."),
        "decay_shape": Field("str", "WSD cooldown shape (default linear).",
                             choices=tuple(dict.fromkeys(x.replace("-", "_") for x in (*DECAY_SHAPES, *DECAY_ALIASES)))),
        "cooldowns": Field("int", "WSD: number of cooldowns, evenly spaced (WSD-S; default 1)."),
        "min_lr": Field("nonneg", "Final learning rate, absolute."),
        "min_lr_ratio": Field("fraction", "Final learning rate as a fraction of the peak."),
        "trainer": Field("str", "The trainer that runs it: the per-step lr follows that trainer's formulas "
                         "(hpadvisor schedule, predict --config; default megatron).", choices=TRAINERS),
    },
    "proxy": {
        "d_model": Field("int", "Width of the small proxy the hyperparameters were tuned on."),
        "n_layers": Field("int", "Depth of the proxy."),
        "n_heads": Field("int", "Attention heads of the proxy (default: head size 64)."),
        "head_dim": Field("int", "Head size of the proxy."),
        "ffn_hidden": Field("int", "MLP hidden size of the proxy (default 4 d_model)."),
        "lr": Field("lr", "Learning rate tuned on the proxy."),
        "init_std": Field("lr", "Initialisation std tuned on the proxy (default 0.02)."),
        "weight_decay": Field("nonneg", "Weight decay used on the proxy (default 0.1)."),
        "eps": Field("lr", "Adam epsilon used on the proxy (default 1e-8)."),
        "batch": Field("batch", "Batch of the proxy run, with unit."),
        "tokens": Field("count", "Tokens of the proxy run."),
        "parameterization": Field(
            "str", "sp, mup, mup-sgd, u-mup, completep, depth-mup, width-wd (default mup)."
        ),
    },
    "hardware": {
        "accelerator": Field("str", "Accelerator name (H100, A100, B200, MI300X, TPU-v5p...)."),
        "peak_flops": Field("flops", "Peak FLOP/s per device (overrides the accelerator table)."),
        "count": Field("int", "Number of devices (for wall-clock time)."),
        "mfu": Field("fraction", "Model FLOPs utilisation, 0-1 (default 0.4)."),
    },
}


def _field_at(path: tuple[str, ...]) -> Any:
    node: Any = FIELDS
    for key in path:
        node = node[key]
    return node


def field_paths(tree: Mapping[str, Any] | None = None, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every dotted key of the run file, in order."""
    tree = FIELDS if tree is None else tree
    out: list[str] = []
    for key, node in tree.items():
        if isinstance(node, Field):
            out.append(".".join(prefix + (key,)))
        else:
            out.extend(field_paths(node, prefix + (key,)))
    return out


# ------------------------------------------------------------------------------------------------
# Normalised spec.


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer; parameter and FLOP counts derive from it."""

    d_model: int
    n_layers: int
    n_heads: int
    vocab_size: int
    n_kv_heads: int | None = None
    head_dim: int | None = None
    ffn_hidden: int | None = None
    swiglu: bool = True
    tied_embeddings: bool = False
    n_experts: int | None = None
    top_k: int | None = None
    n_shared_experts: int = 0
    moe_ffn_hidden: int | None = None

    @property
    def d_head(self) -> int:
        return self.head_dim or self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def ffn(self) -> int:
        if self.ffn_hidden:
            return self.ffn_hidden
        if self.swiglu:  # Llama: 2/3 of 4d, rounded up to a multiple of 256
            return 256 * math.ceil(int(2 * 4 * self.d_model / 3) / 256)
        return 4 * self.d_model

    @property
    def is_moe(self) -> bool:
        return bool(self.n_experts)

    def _mlp(self, hidden: int) -> int:
        return (3 if self.swiglu else 2) * self.d_model * hidden

    def attention_params(self) -> int:
        q_and_o = 2 * self.d_model * self.n_heads * self.d_head
        k_and_v = 2 * self.d_model * self.kv_heads * self.d_head
        return q_and_o + k_and_v

    def counts(self) -> dict[str, float]:
        """total, non-embedding, active, active non-embedding parameters; FLOPs per token."""
        attn = self.attention_params()
        if self.is_moe:
            expert = self._mlp(self.moe_ffn_hidden or self.ffn)
            router = self.d_model * int(self.n_experts or 0)
            mlp_all = (int(self.n_experts or 0) + self.n_shared_experts) * expert + router
            mlp_active = (int(self.top_k or 1) + self.n_shared_experts) * expert + router
        else:
            mlp_all = mlp_active = self._mlp(self.ffn)
        non_emb = self.n_layers * (attn + mlp_all)
        active_non_emb = self.n_layers * (attn + mlp_active)
        embed = self.vocab_size * self.d_model * (1 if self.tied_embeddings else 2)
        norms = (2 * self.n_layers + 1) * self.d_model
        return {
            "params": float(non_emb + embed + norms),
            "non_embedding_params": float(non_emb),
            "active_params": float(active_non_emb + embed + norms),
            "active_non_embedding_params": float(active_non_emb),
        }

    def attention_flops_per_token(self, seq_len: int) -> float:
        """Attention score and value FLOPs per trained token: 12 n_layers (n_heads d_head) seq_len."""
        return 12.0 * self.n_layers * self.n_heads * self.d_head * seq_len


@dataclass(frozen=True)
class ModelSpec:
    params: float
    non_embedding_params: float
    active_params: float
    active_non_embedding_params: float
    architecture: Architecture | None = None

    @property
    def is_moe(self) -> bool:
        return self.active_params < self.params


@dataclass(frozen=True)
class OptimizerSpec:
    name: str = "adamw"
    lr: float | None = None
    beta1: float = 0.9
    beta2: float | None = None
    eps: float | None = None
    weight_decay: float | None = None
    reference_lr: float | None = None
    reference_tokens: float | None = None
    reference_batch_tokens: float | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    shape: str = "cosine"
    warmup_steps: float | None = None
    warmup_tokens: float | None = None
    warmup_fraction: float | None = None
    decay_fraction: float | None = None
    min_lr: float | None = None
    min_lr_ratio: float | None = None
    decay_shape: str | None = None
    cooldowns: int | None = None
    trainer: str | None = None  # whose per-step lr formulas (schedules.TRAINER_CONVENTION)


@dataclass(frozen=True)
class HardwareSpec:
    accelerator: str
    peak_flops: float
    mfu: float
    count: int | None = None
    source: str = ""


@dataclass(frozen=True)
class RunSpec:
    """A planned run in base units.  ``assumptions`` lists every default that was filled in."""

    model: ModelSpec
    tokens: float
    seq_len: int
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    hardware: HardwareSpec | None = None
    batch_tokens: float | None = None
    compute_budget: float | None = None
    name: str = ""
    assumptions: tuple[str, ...] = ()
    #: the run file's `proxy` section (keys without the prefix, base units), for transfer
    proxy: dict[str, Any] | None = None
    init_std: float | None = None

    @property
    def flops_per_token(self) -> float:
        """Training FLOPs per token, M (DeepSeek convention; see the module docstring)."""
        m = 6.0 * self.model.active_non_embedding_params
        if self.model.architecture is not None:
            m += self.model.architecture.attention_flops_per_token(self.seq_len)
        return m

    @property
    def compute_flops(self) -> float:
        return self.flops_per_token * self.tokens

    def variables(self) -> dict[str, float | None]:
        """The run variables that law inputs refer to (:attr:`hpadvisor.laws.base.Input.variable`)."""
        m = self.model
        return {
            "params": m.params,
            "non_embedding_params": m.non_embedding_params,
            "active_params": m.active_params,
            "active_non_embedding_params": m.active_non_embedding_params,
            "tokens": self.tokens,
            "seq_len": float(self.seq_len),
            "flops_per_token": self.flops_per_token,
            "deepseek_flops_per_token": self.flops_per_token,
            "deepseek_compute": self.compute_flops,
            "compute_flops": self.compute_flops,
            "chinchilla_compute": 6.0 * m.params * self.tokens,
            "planned_batch_tokens": self.batch_tokens,
            "reference_lr": self.optimizer.reference_lr,
            "reference_tokens": self.optimizer.reference_tokens,
        }


# ------------------------------------------------------------------------------------------------
# Parsing.

Lines = Mapping[tuple[str, ...], int]


def _where(path: tuple[str, ...], lines: Lines, source: str) -> str:
    line = lines.get(path)
    loc = f"{source}:{line}: " if (source and line) else (f"{source}: " if source else "")
    return loc


def _convert(fld: Field, value: Any, dotted: str) -> Any:
    kind = fld.kind
    if kind == "count":
        return units.parse_count(value, name=dotted)
    if kind == "flops":
        return units.parse_quantity(value, name=dotted, units=("FLOPs",))[0]
    if kind == "seq_len":
        return units.parse_seq_len(value, name=dotted)
    if kind == "batch":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise InvalidInputError(
                f"'{dotted}' = {value} has no unit: write '{value} seqs' or '{value} tokens'."
            )
        number, unit = units.parse_quantity(value, name=dotted, units=("tokens", "sequences"))
        if unit is None:
            raise InvalidInputError(
                f"'{dotted}' = {value!r} has no unit: write '{value} seqs' or '{value} tokens'."
            )
        return (number, unit)
    if kind == "int":
        return int(units.parse_quantity(value, name=dotted, integer=True)[0])
    if kind in ("float", "lr"):
        return units.parse_count(value, name=dotted)
    if kind == "nonneg":
        x = units.parse_quantity(value, name=dotted, positive=False)[0]
        if x < 0:
            raise InvalidInputError(f"'{dotted}' must be >= 0. Got {value!r}.")
        return x
    if kind in ("fraction", "beta"):
        x = units.parse_quantity(value, name=dotted, positive=False)[0]
        ok = 0 < x < 1 if kind == "beta" else 0 <= x <= 1
        if not ok:
            rng = "between 0 and 1 (exclusive)" if kind == "beta" else "between 0 and 1"
            raise InvalidInputError(f"'{dotted}' must be {rng}. Got {value!r}.")
        return x
    if kind == "bool":
        if not isinstance(value, bool):
            raise InvalidInputError(f"'{dotted}' must be true or false. Got {value!r}.")
        return value
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"'{dotted}' must be a non-empty string. Got {value!r}.")
        if fld.choices:
            norm = value.strip().lower().replace("-", "_")
            if norm not in fld.choices:
                raise InvalidInputError(
                    f"'{dotted}' = {value!r} is not one of {', '.join(fld.choices)}."
                    + (did_you_mean(norm, fld.choices) if len(fld.choices) > 1 else "")
                )
            return norm
        return value.strip()
    if kind == "warmup":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            x = float(Decimal(value)) if isinstance(value, int) else value  # a huge int: inf, not an error
            if not math.isfinite(x) or x < 0:
                raise InvalidInputError(f"'{dotted}' must be a finite number >= 0. Got {units.describe(value)}.")
            if 0 < x < 1:
                return ("fraction", x)
            if x != int(x):
                raise InvalidInputError(
                    f"'{dotted}' = {value!r}: give a fraction below 1, or whole steps ('2000 steps')."
                )
            return ("steps", x)
        number, unit = units.parse_quantity(
            value, name=dotted, units=("steps", "tokens"), positive=False
        )
        if number < 0:
            raise InvalidInputError(f"'{dotted}' must be >= 0. Got {value!r}.")
        if unit is None:
            if 0 < number < 1:
                return ("fraction", number)
            unit = "steps"
        if unit == "steps" and number != int(number):
            raise InvalidInputError(
                f"'{dotted}' = {units.describe(value)}: give a fraction below 1, or whole steps ('2000 steps')."
            )
        return (unit, number)
    raise AssertionError(f"unhandled field kind {kind}")  # pragma: no cover - table is fixed


def convert(kind: str, value: Any, name: str) -> Any:
    """Validate and convert one value of a field kind (count, int, lr, batch...), as the run file does."""
    return _convert(Field(kind, name), value, name)


def parse_raw(
    raw: Any, *, lines: Lines | None = None, source: str = ""
) -> dict[str, Any]:
    """Validate the nested run-file mapping against ``FIELDS``; return {dotted key: value}.

    Unknown keys are refused with the closest valid key.  Values are converted to base units.
    """
    lines = lines or {}
    if raw is None:
        raise DataError(f"{source or 'run file'}: is empty. See `hpadvisor schema` for the keys.")
    if not isinstance(raw, Mapping):
        raise DataError(
            f"{source or 'run file'}: must be a mapping of keys (model:, data:, ...), "
            f"not a {type(raw).__name__}."
        )
    out: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], tree: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            kpath = path + (str(key),)
            dotted = ".".join(kpath)
            where = _where(kpath, lines, source)
            if not isinstance(key, str) or key not in tree:
                here = [".".join(path + (k,)) for k in tree]
                synonym = ".".join(path + (SYNONYMS.get(str(key).lower(), ""),))
                best = synonym if synonym in field_paths() else closest(dotted, here + field_paths())
                hint = (f" Did you mean '{best}'?" if best else
                        f" Valid here: {', '.join(here)} (see `hpadvisor schema`).")
                raise InvalidInputError(f"{where}unknown key {dotted!r}.{hint}")
            sub = tree[key]
            if isinstance(sub, Field):
                if value is None:
                    raise InvalidInputError(f"{where}'{dotted}' is empty. Give a value or remove the key.")
                try:
                    out[dotted] = _convert(sub, value, dotted)
                except InvalidInputError as exc:
                    raise InvalidInputError(f"{where}{exc}") from None
            else:
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    raise InvalidInputError(
                        f"{where}'{dotted}' must be a section of keys ({', '.join(sub)}), "
                        f"not {value!r}."
                    )
                walk(value, sub, kpath)

    walk(raw, FIELDS, ())
    return out


def parse_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Flag values keyed by dotted run-file key, validated like the file (None = not given)."""
    out: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is None:
            continue
        fld = _field_at(tuple(dotted.split(".")))
        out[dotted] = _convert(fld, value, dotted)
    return out


# ------------------------------------------------------------------------------------------------
# Resolution: dotted values -> RunSpec, filling defaults and writing down each assumption.

Allocator = Callable[[float], tuple[float, float, str]]


def build_spec(values: Mapping[str, Any], *, allocate: Allocator | None = None) -> RunSpec:
    """Turn validated values into a :class:`RunSpec`.

    ``allocate(C) -> (N_opt, D_opt, law key)`` is used when only a compute budget is given.
    """
    v = dict(values)
    notes: list[str] = []

    # -- model ---------------------------------------------------------------------------------
    arch = None
    arch_keys = {k.split(".")[-1]: val for k, val in v.items()
                 if k.startswith("model.architecture.") and k != "model.architecture.init_std"}
    if arch_keys:
        missing = [k for k in ("d_model", "n_layers", "n_heads", "vocab_size") if k not in arch_keys]
        if missing:
            raise InvalidInputError(
                "model.architecture needs " + ", ".join(missing) + " (or give model.params instead)."
            )
        arch = Architecture(**arch_keys)
        _check_architecture(arch)

    counts: dict[str, float] = {}
    if arch is not None:
        counts = arch.counts()
    given = {k: v[f"model.{k}"] for k in ("params", "non_embedding_params", "active_params")
             if f"model.{k}" in v}
    for key, value in given.items():
        if key in counts and abs(value / counts[key] - 1) > 0.05:
            notes.append(
                f"model.{key} = {units.format_si(value)} overrides the architecture's "
                f"{units.format_si(counts[key])}."
            )
        counts[key] = value

    seq_len = v.get("seq_len")
    if seq_len is None:
        seq_len = 2048
        notes.append("seq_len not given: assumed 2048 tokens.")

    tokens = v.get("data.tokens")
    tpp = v.get("data.tokens_per_param")
    budget = v.get("data.compute")
    given_data = [k for k, x in (("data.tokens", tokens), ("data.tokens_per_param", tpp),
                                 ("data.compute", budget)) if x is not None]
    if len(given_data) > 1:
        raise InvalidInputError(
            f"give one of data.tokens, data.tokens_per_param, data.compute; got {', '.join(given_data)}."
        )

    if "params" not in counts and "non_embedding_params" not in counts:
        if budget is None:
            raise InvalidInputError(
                "no model size: give model.params (e.g. --params 7B), a model.architecture, "
                "or a compute budget alone (data.compute)."
            )
        if allocate is None:  # pragma: no cover - the advisor always passes one
            raise InvalidInputError("a compute budget alone needs an allocation law.")
        n_opt, d_opt, law = allocate(budget)
        counts["params"] = n_opt
        tokens = d_opt
        notes.append(
            f"model and data from the compute budget {units.format_sci(budget)} FLOPs: "
            f"compute-optimal N = {units.format_si(n_opt)}, D = {units.format_si(d_opt)} ({law}, C = 6ND)."
        )
        budget_used = True
    else:
        budget_used = False

    if "params" not in counts:
        counts["params"] = counts["non_embedding_params"]
        notes.append("model.params not given: total parameters taken equal to non-embedding ones.")
    if "non_embedding_params" not in counts:
        counts["non_embedding_params"] = counts["params"]
        notes.append(
            "no architecture or model.non_embedding_params: non-embedding parameters taken equal "
            "to the total (Step Law and Kaplan want non-embedding; give an architecture to fix this)."
        )
    if counts["non_embedding_params"] > counts["params"]:
        raise InvalidInputError(
            f"model.non_embedding_params ({units.format_si(counts['non_embedding_params'])}) exceeds "
            f"model.params ({units.format_si(counts['params'])}): the total must include it."
        )
    if "active_params" not in counts:
        counts["active_params"] = counts["params"]
    if counts["active_params"] > counts["params"]:
        raise InvalidInputError(
            f"model.active_params ({units.format_si(counts['active_params'])}) exceeds model.params "
            f"({units.format_si(counts['params'])})."
        )
    if "active_non_embedding_params" not in counts:
        embedding = counts["params"] - counts["non_embedding_params"]
        counts["active_non_embedding_params"] = max(counts["active_params"] - embedding, 1.0)
    model = ModelSpec(
        params=counts["params"],
        non_embedding_params=counts["non_embedding_params"],
        active_params=counts["active_params"],
        active_non_embedding_params=counts["active_non_embedding_params"],
        architecture=arch,
    )

    # -- data ----------------------------------------------------------------------------------
    if tpp is not None:
        tokens = tpp * model.params
    provisional = RunSpec(model=model, tokens=1.0, seq_len=seq_len)
    if tokens is None and budget is not None and not budget_used:
        tokens = budget / provisional.flops_per_token
        notes.append(
            f"data.tokens from the compute budget: C / M = {units.format_si(tokens)} tokens "
            f"(M = {units.format_sci(provisional.flops_per_token)} FLOPs/token)."
        )
    if tokens is None:
        raise InvalidInputError(
            "no data size: give data.tokens (e.g. --tokens 2T), data.tokens_per_param or data.compute."
        )
    if tokens < seq_len:
        raise InvalidInputError(
            f"data.tokens ({units.format_si(tokens)}) is fewer than one sequence of {seq_len} tokens."
        )
    if not provisional.flops_per_token * tokens <= MAX_COMPUTE:
        raise InvalidInputError(
            f"model.params ({units.format_si(model.params)}) x data.tokens ({units.format_si(tokens)}) "
            f"is {provisional.flops_per_token * tokens:.3g} FLOPs, beyond the "
            f"{MAX_COMPUTE:.0e} hpadvisor computes with (the largest runs so far are near 1e26): check the units."
        )

    # -- batch ---------------------------------------------------------------------------------
    batch_tokens = _batch_tokens(v.get("batch"), seq_len)
    if batch_tokens is not None and batch_tokens < seq_len:
        raise InvalidInputError(
            f"batch ({units.format_si(batch_tokens)} tokens) is less than one sequence of {seq_len} tokens."
        )
    if batch_tokens is not None and batch_tokens > tokens:
        raise InvalidInputError(
            f"batch ({units.format_si(batch_tokens)} tokens) is larger than the whole run "
            f"({units.format_si(tokens)} tokens)."
        )

    # -- optimizer and schedule ----------------------------------------------------------------
    opt = OptimizerSpec(
        name=v.get("optimizer.name", "adamw"),
        lr=v.get("optimizer.lr"),
        beta1=v.get("optimizer.beta1", 0.9),
        beta2=v.get("optimizer.beta2"),
        eps=v.get("optimizer.eps"),
        weight_decay=v.get("optimizer.weight_decay"),
        reference_lr=v.get("optimizer.reference.lr"),
        reference_tokens=v.get("optimizer.reference.tokens"),
        reference_batch_tokens=_batch_tokens(v.get("optimizer.reference.batch"), seq_len),
    )
    if (opt.reference_tokens is None) != (opt.reference_lr is None) and opt.reference_batch_tokens is None:
        raise InvalidInputError(
            "optimizer.reference needs both lr and tokens (and optionally batch)."
        )

    sched_kw: dict[str, Any] = {"shape": v.get("schedule.shape", "cosine")}
    warm = v.get("schedule.warmup")
    if warm is not None:
        kind, amount = warm
        sched_kw[{"steps": "warmup_steps", "tokens": "warmup_tokens", "fraction": "warmup_fraction"}[kind]] = amount
    for key in ("decay_fraction", "min_lr", "min_lr_ratio", "decay_shape", "cooldowns", "trainer"):
        if f"schedule.{key}" in v:
            sched_kw[key] = v[f"schedule.{key}"]
    if "min_lr" in sched_kw and "min_lr_ratio" in sched_kw:
        raise InvalidInputError("give schedule.min_lr or schedule.min_lr_ratio, not both.")
    for key in ("decay_fraction", "decay_shape", "cooldowns"):
        if sched_kw.get(key) is not None and sched_kw["shape"] != "wsd":
            notes.append(f"schedule.{key} applies to wsd; the {sched_kw['shape']} schedule ignores it.")
    schedule = ScheduleSpec(**sched_kw)

    # -- hardware ------------------------------------------------------------------------------
    from hpadvisor import hardware as hw

    name = v.get("hardware.accelerator")
    if "hardware.peak_flops" in v:
        acc, peak, src = name or "custom", v["hardware.peak_flops"], "hardware.peak_flops"
    else:
        if name is None:
            name = hw.DEFAULT_ACCELERATOR
            notes.append(f"hardware not given: assumed {name} (BF16 dense peak).")
        acc, peak, src = hw.lookup(name)
    mfu = v.get("hardware.mfu")
    if mfu is None:
        mfu = hw.DEFAULT_MFU
        notes.append(f"hardware.mfu not given: assumed {mfu}.")
    if mfu <= 0:
        raise InvalidInputError("hardware.mfu must be > 0 (e.g. 0.4).")
    hardware = HardwareSpec(accelerator=acc, peak_flops=peak, mfu=mfu, count=v.get("hardware.count"),
                            source=src)

    return RunSpec(
        model=model,
        tokens=float(tokens),
        seq_len=int(seq_len),
        optimizer=opt,
        schedule=schedule,
        hardware=hardware,
        batch_tokens=batch_tokens,
        compute_budget=budget,
        name=v.get("name", ""),
        assumptions=tuple(notes),
        proxy=_proxy_values(v, seq_len),
        init_std=v.get("model.architecture.init_std"),
    )


def _proxy_values(v: Mapping[str, Any], seq_len: int) -> dict[str, Any] | None:
    proxy = {k.split(".", 1)[1]: val for k, val in v.items() if k.startswith("proxy.")}
    if not proxy:
        return None
    if "batch" in proxy:
        proxy["batch"] = _batch_tokens(proxy["batch"], seq_len)
    return proxy


def _batch_tokens(batch: tuple[float, str] | None, seq_len: int) -> float | None:
    if batch is None:
        return None
    number, unit = batch
    return number * seq_len if unit == "sequences" else number


def _check_architecture(arch: Architecture) -> None:
    if arch.head_dim is None and arch.d_model % arch.n_heads:
        raise InvalidInputError(
            f"model.architecture: n_heads ({arch.n_heads}) does not divide d_model ({arch.d_model}); "
            "give head_dim."
        )
    if arch.n_kv_heads is not None and (arch.n_kv_heads > arch.n_heads or arch.n_heads % arch.n_kv_heads):
        raise InvalidInputError(
            f"model.architecture: n_kv_heads ({arch.n_kv_heads}) must divide n_heads ({arch.n_heads})."
        )
    if (arch.n_experts is None) != (arch.top_k is None):
        raise InvalidInputError("model.architecture: MoE needs both n_experts and top_k.")
    if arch.n_experts is not None and arch.top_k is not None and arch.top_k > arch.n_experts:
        raise InvalidInputError(
            f"model.architecture: top_k ({arch.top_k}) exceeds n_experts ({arch.n_experts})."
        )


# ------------------------------------------------------------------------------------------------
# Entry points.


def load_values(path: str | None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a run file (if any) and apply flag overrides (flags win)."""
    from hpadvisor import yamlio

    values: dict[str, Any] = {}
    if path is not None:
        raw = None
        try:
            raw, lines = yamlio.load(path, what="run file")
            values.update(parse_raw(raw, lines=lines, source=str(path)))
        except HpAdvisorError as exc:  # a trainer's config given where a run file goes: say which command reads it
            trainer = _trainer_config_kind(str(path), raw)
            if trainer is None:
                raise
            raise type(exc)(f"{path} looks like a {trainer} config, not an hpadvisor run file: "
                            f"`hpadvisor check {path}` compares it with the advice, and "
                            f"`hpadvisor schedule --config {path}` writes the lr it runs with.") from None
    if overrides:
        values.update(parse_overrides(overrides))
    return values


_TRAINER_NAMES = {"megatron": "Megatron-LM", "neox": "GPT-NeoX", "hf": "Hugging Face", "torchtitan": "torchtitan",
                  "nanotron": "nanotron", "nanogpt": "nanoGPT"}


def _trainer_config_kind(path: str, raw: Any) -> str | None:
    """The trainer a file that failed as a run file was written for, when it clearly is one.
    ``raw``: the file as YAML already parsed (None when it is not YAML: a script, TOML)."""
    from pathlib import Path

    from hpadvisor.formats._detect import detect, score

    try:
        kind = detect(path, Path(path).read_text(encoding="utf-8"))
    except (HpAdvisorError, OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(raw, Mapping):  # by its keys: only when they say so clearly
        marks = score(raw)
        if marks.get(kind, 0) < 2 or marks.get(kind, 0) <= marks.get("hpadvisor", 0):
            return None
    return _TRAINER_NAMES.get(kind)


def json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the run file, generated from ``FIELDS``."""
    number_or_text = {"type": ["number", "string"]}

    def schema_for(fld: Field) -> dict[str, Any]:
        kind = fld.kind
        if kind in ("count", "flops", "float", "lr"):
            s: dict[str, Any] = {
                "oneOf": [
                    {"type": "number", "exclusiveMinimum": 0},
                    {"type": "string", "pattern": r"^\s*[0-9._]+([eE][+-]?[0-9]+)?\s*([kKmMbBgGtTpP]i?)?\s*[A-Za-z]*\s*$"},
                ]
            }
        elif kind == "seq_len":
            s = {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}]}
        elif kind == "batch":
            s = {"type": "string", "pattern": r"^\s*[0-9._eE+-]+\s*([kKmMbBgGtT]i?)?\s*(tokens?|toks?|seqs?|sequences?|samples?)\s*$"}
        elif kind == "int":
            s = {"type": "integer", "minimum": 1}
        elif kind in ("fraction",):
            s = {"type": "number", "minimum": 0, "maximum": 1}
        elif kind == "beta":
            s = {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
        elif kind == "nonneg":
            s = {"type": "number", "minimum": 0}
        elif kind == "bool":
            s = {"type": "boolean"}
        elif kind == "warmup":
            s = dict(number_or_text)
        else:
            s = {"type": "string"}
            if fld.choices:  # the validator folds "-" into "_": both spellings are valid
                s["enum"] = list(dict.fromkeys(v for c in fld.choices for v in (c, c.replace("_", "-"))))
        s["description"] = fld.help
        if fld.example is not None:
            s["examples"] = [fld.example]
        return s

    def section(tree: Mapping[str, Any]) -> dict[str, Any]:
        props = {}
        for key, node in tree.items():
            props[key] = schema_for(node) if isinstance(node, Field) else section(node)
        return {"type": "object", "properties": props, "additionalProperties": False}

    schema = section(FIELDS)
    schema.update(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://hpadvisor.dev/schema/run.json",
            "title": "hpadvisor run file",
            "description": "A planned LLM pretraining run. Sizes accept human units: 7B, 1.4T, 2e21, 4k.",
        }
    )
    return schema
