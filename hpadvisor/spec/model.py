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
  DeepSeek LLM convention (72 n_layer d^2 + 12 n_layer d l_seq when N = 12 n_layer d^2)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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
    trainer: str | None = None  # whose per-step lr formulas (its registered Trainer's convention)


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


