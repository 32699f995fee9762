"""Which trainer wrote a config: by file name first, then by the keys it contains.

Each trainer has marker keys that the others do not use (DeepSpeed's
``train_micro_batch_size_per_gpu`` for GPT-NeoX, ``per_device_train_batch_size`` for Hugging Face,
``tokens:`` + ``parallelism:`` sections for nanotron...).  The format with the most markers wins;
none at all is a DataError that lists what was seen and says to pass the format explicitly, and
a runner-up nearly as strong is a DataError too (ambiguous: two trainers' keys in one file).
Lines of ``--flags`` are a launch script whatever the file's name, unless the file parses as its
extension says (``recommend --emit megatron > megatron.yaml`` writes a bash array of flags).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpadvisor.errors import DataError

_HINT = ("Name the format explicitly (`format`: one of megatron, neox, hf, torchtitan, nanotron, "
         "nanogpt, hpadvisor).")

MARKERS: dict[str, frozenset[str]] = {
    "neox": frozenset({"train_micro_batch_size_per_gpu", "pipe_parallel_size", "model_parallel_size",
                       "norm", "pos_emb", "gpt_j_residual", "no_weight_tying", "scaled_upper_triang_masked_softmax_fusion",
                       "bias_gelu_fusion", "zero_optimization", "train_batch_size", "gradient_clipping",
                       "partition_activations", "synchronize_each_layer", "output_layer_parallelism",
                       "warmup", "optimizer.params", "tokenizer_type", "data_path", "lr_decay_fraction"}),
    "megatron": frozenset({"tensor_model_parallel_size", "pipeline_model_parallel_size", "micro_batch_size",
                           "global_batch_size", "lr_warmup_iters", "lr_warmup_fraction", "lr_warmup_samples",
                           "train_samples", "lr_decay_samples",
                           "untie_embeddings_and_output_weights", "num_query_groups", "clip_grad",
                           "adam_beta2", "lr_wsd_decay_style", "swiglu", "use_distributed_optimizer",
                           "language_model", "model_parallel", "ffn_hidden_size"}),
    "hf": frozenset({"per_device_train_batch_size", "learning_rate", "lr_scheduler_type", "output_dir",
                     "warmup_ratio", "num_train_epochs", "max_steps", "adam_epsilon", "max_grad_norm",
                     "logging_steps", "save_steps", "gradient_accumulation_steps", "bf16", "optim",
                     "lr_scheduler_kwargs", "per_device_eval_batch_size", "report_to"}),
    "nanotron": frozenset({"tokens", "parallelism", "general", "checkpoints", "data_stages",
                           "optimizer.learning_rate_scheduler", "optimizer.optimizer_factory",
                           "model.model_config", "tokens.batch_accumulation_per_replica", "logging"}),
    "hpadvisor": frozenset({"model.params", "model.architecture", "data.tokens", "data.compute",
                            "schedule.shape", "schedule.warmup", "hardware.accelerator", "proxy",
                            "data.tokens_per_param", "optimizer.reference"}),
    "torchtitan": frozenset({"training", "lr_scheduler", "job", "parallelism.data_parallel_shard_degree",
                             "training.local_batch_size", "training.steps", "training.seq_len",
                             "activation_checkpoint", "float8", "metrics", "model.flavor"}),
}


def _keys(data: Mapping[str, Any]) -> set[str]:
    """Top-level keys plus 'section.key' for nested ones, '-' read as '_'."""
    out: set[str] = set()
    for k, v in data.items():
        k = str(k).replace("-", "_")
        out.add(k)
        if isinstance(v, Mapping):
            out.update(f"{k}.{str(kk).replace('-', '_')}" for kk in v)
    return out


def score(data: Any) -> dict[str, int]:
    if not isinstance(data, Mapping):
        return {}
    keys = _keys(data)
    return {fmt: len(keys & marks) for fmt, marks in MARKERS.items()}


def _best(path: str, data: Any, allowed: tuple[str, ...]) -> str:
    scores = score(data)
    best = max(allowed, key=lambda f: scores.get(f, 0))  # ties: the first in ``allowed``
    _unambiguous(path, best, allowed, scores)
    if scores.get(best, 0) == 0:
        if isinstance(data, Mapping):
            seen = ", ".join(sorted(str(k) for k in data)[:8]) or "no keys"
            if {"model_type", "architectures"} & set(map(str, data)):
                raise DataError(f"{path}: this is a model config.json (architecture only). Give it "
                                "with `model_config` and check the TrainingArguments file.")
            raise DataError(f"{path}: cannot tell which trainer this config is for (top-level keys: "
                            f"{seen}). {_HINT}")
        raise DataError(f"{path}: cannot tell which trainer this config is for: it is not a mapping "
                        f"of settings. {_HINT}")
    return best


def _unambiguous(path: str, best: str, allowed: Sequence[str], scores: Mapping[str, int]) -> None:
    """A file holding two trainers' keys is refused, not read as one of them with the other's
    settings dropped (a Megatron lr beside HF's learning_rate): the runner-up with at least two
    markers and at least half the winner's."""
    rival = max((f for f in allowed if f != best), key=lambda f: scores.get(f, 0), default="")
    top, second = scores.get(best, 0), scores.get(rival, 0)
    if second >= 2 and 2 * second >= top:
        raise DataError(f"{path}: ambiguous: it holds the keys of two trainers ({best}: {top}, {rival}: {second} "
                        f"of their marker keys). Name the format explicitly (--format-in {best} or {rival}), "
                        "or split the file.")


def _flags(text: str) -> bool:
    from hpadvisor.formats.shellargs import has_flag_lines

    return has_flag_lines(text)


def detect(path: str, text: str) -> str:
    low = path.lower()
    if low.endswith(".py"):
        return "nanogpt"
    if low.endswith((".sh", ".bash", ".slurm", ".sbatch")) or text.startswith("#!"):
        return "megatron"
    # lines of --flags (a launch script, the bash array `recommend --emit megatron` writes) are a
    # launch script whatever the file is called, unless the file parses as its extension says
    if low.endswith(".toml"):
        from hpadvisor.io.jsonio import parse_toml

        if _flags(text):
            try:
                parse_toml(text, path)
            except DataError:
                return "megatron"
        data, _ = parse_toml(text, path)
        return _best(path, data, ("torchtitan",))
    if low.endswith(".json"):
        from hpadvisor.io.jsonio import parse_json

        if _flags(text):
            try:
                parse_json(text, path)
            except DataError:
                return "megatron"
        data, _ = parse_json(text, path)
        return _best(path, data, ("hf", "neox", "megatron", "nanotron", "hpadvisor"))
    if _flags(text) and not low.endswith((".yaml", ".yml")):
        return "megatron"
    from hpadvisor.io import yamlio

    try:
        data, _ = yamlio.loads(text, source=path)
    except DataError:
        if _flags(text):
            return "megatron"  # a .yaml of --flags
        if not low.endswith((".yaml", ".yml")) and _looks_like_python(text):
            return "nanogpt"
        raise
    if not isinstance(data, Mapping) and _looks_like_python(text):
        return "nanogpt"
    if _flags(text) and not (isinstance(data, Mapping) and any(score(data).values())):
        return "megatron"  # a .yaml of --flags
    return _best(path, data, ("neox", "megatron", "hf", "nanotron", "hpadvisor"))


def _looks_like_python(text: str) -> bool:
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(n, ast.Assign) for n in tree.body)
