"""The run file described as data: every key, its kind, help and example (FIELDS), and the JSON Schema built from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
#: What trainers call a run file's key (docs/formats.md), for "did you mean" on an unknown key.
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
#: Trainers whose lr formulas a run file may name (schedule.trainer): the trainer registry's keys
#: (``hpadvisor.formats.registry.trainer_keys()``).  The run file's description sits below the
#: formats layer, so it cannot read the registry: tests/test_trainer_registry.py checks the two agree.
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
            "d_model": Field("width", "Hidden size (hidden_size, n_embd); 4k = 4096.", example=4096),
            "n_layers": Field("int", "Transformer layers (num_layers, n_layer).", example=32),
            "n_heads": Field("int", "Attention (query) heads.", example=32),
            "n_kv_heads": Field("int", "Key/value heads (GQA/MQA); default n_heads."),
            "head_dim": Field("width", "Per-head dimension; default d_model / n_heads."),
            "ffn_hidden": Field(
                "width",
                "MLP hidden size; default 4 d_model, or Llama's 8/3 d_model rounded up to 256 "
                "with SwiGLU.",
            ),
            "vocab_size": Field("int", "Vocabulary size.", example=32000),
            "swiglu": Field("bool", "Gated MLP with three matrices (default true)."),
            "tied_embeddings": Field("bool", "Output layer shares the embedding matrix (default false)."),
            "n_experts": Field("int", "MoE: routed experts per MoE layer (default: dense)."),
            "top_k": Field("int", "MoE: routed experts per token."),
            "n_shared_experts": Field("int", "MoE: always-active shared experts (default 0)."),
            "moe_ffn_hidden": Field("width", "MoE: hidden size of one expert; default ffn_hidden."),
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
        "d_model": Field("width", "Width of the small proxy the hyperparameters were tuned on."),
        "n_layers": Field("int", "Depth of the proxy."),
        "n_heads": Field("int", "Attention heads of the proxy (default: head size 64)."),
        "head_dim": Field("width", "Head size of the proxy."),
        "ffn_hidden": Field("width", "MLP hidden size of the proxy (default 4 d_model)."),
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
        elif kind in ("seq_len", "width"):  # 4k = 4096
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
