"""nanotron: one YAML config (``optimizer:``, ``tokens:``, ``parallelism:``, ``model:`` sections).

Field names and defaults are those of ``nanotron/config/config.py`` and the schedule of
``lr_scheduler_builder`` in ``nanotron/helpers.py``:

* ``optimizer.learning_rate_scheduler``: ``learning_rate``, ``lr_warmup_steps`` (default 0),
  ``lr_decay_style`` (linear default, set in ``LRSchedulerArgs.__post_init__``; cosine, 1-sqrt),
  ``lr_warmup_style`` (linear, or constant: the peak lr from the first step),
  ``lr_decay_starting_step`` (default: end of warmup), ``lr_decay_steps`` (default, set in
  ``Config.__post_init__``: train_steps - warmup, even when the decay starts later),
  ``min_decay_lr`` absolute -- and when absent it DEFAULTS TO THE PEAK LR: no decay at all;
* a decay start after the warmup leaves a constant phase: a warmup-stable-decay schedule;
* ``optimizer.optimizer_factory``: ``adam_beta1``, ``adam_beta2``, ``adam_eps``;
  ``optimizer.weight_decay``, ``optimizer.clip_grad``;
* weight decay applies to every parameter except those matching a regex of
  ``optimizer.weight_decay_exclude_named_params`` (default none: embeddings and norms decayed);
* ``tokens``: ``micro_batch_size``, ``batch_accumulation_per_replica``, ``sequence_length``,
  ``train_steps``; ``parallelism.dp`` is the data-parallel size;
* ``model.model_config`` holds an HF-style architecture (hidden_size, num_hidden_layers...).
"""

from __future__ import annotations

import re
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.formats._common import Draft
from hpadvisor.formats.base import TrainerConfig
from hpadvisor.formats.trainer import SchedulePlan, Trainer

DECAY = {"cosine": "cosine", "linear": "linear", "1-sqrt": "1-sqrt"}
WARMUP = {"linear": "linear", "constant": "constant"}

#: Representative nanotron parameter names, to test the exclusion regexes against.
EMBEDDING_NAMES = ("model.token_position_embeddings.pp_block.token_embedding.weight",
                   "model.lm_head.pp_block.weight")
NORM_NAMES = ("model.decoder.0.pp_block.input_layernorm.weight",
              "model.decoder.0.pp_block.post_attention_layernorm.weight",
              "model.final_layer_norm.pp_block.weight")

_ARCH = (("d_model", "hidden_size"), ("n_layers", "num_hidden_layers"),
         ("n_heads", "num_attention_heads"), ("n_kv_heads", "num_key_value_heads"),
         ("ffn_hidden", "intermediate_size"), ("vocab_size", "vocab_size"))


def read(path: str, text: str) -> Draft:
    from hpadvisor.io import yamlio

    data, lines = yamlio.loads(text, source=path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: a nanotron config must be a mapping of sections, "
                        f"not {type(data).__name__}.")
    d = Draft(path, "nanotron")

    def get(*keys: str) -> tuple[Any, int | None, str] | None:
        node: Any = data
        for i, k in enumerate(keys):
            if not isinstance(node, dict):
                where = lines.get(keys[:i])
                raise DataError(f"{d.where(where)}: '{'.'.join(keys[:i])}' must be a section of "
                                f"keys, not {type(node).__name__}.")
            if k not in node or node[k] is None:
                return None
            node = node[k]
        return node, lines.get(keys), ".".join(keys)

    def num(canon: str, kind: str, *keys: str) -> tuple[Any, int | None, str] | None:
        a = get(*keys)
        if a is not None:
            d.put(canon, d.number(a[0], a[2], a[1], kind), a[2], a[1], a[0])
        return a

    sched = ("optimizer", "learning_rate_scheduler")
    num("lr", "pos", *sched, "learning_rate")
    warm = num("warmup_steps", "count", *sched, "lr_warmup_steps")
    num("min_lr", "nonneg", *sched, "min_decay_lr")
    num("train_steps", "posint", "tokens", "train_steps")
    num("micro_batch_seqs", "posint", "tokens", "micro_batch_size")
    num("grad_accum", "posint", "tokens", "batch_accumulation_per_replica")
    num("seq_len", "posint", "tokens", "sequence_length")
    num("data_parallel", "posint", "parallelism", "dp")
    num("weight_decay", "nonneg", "optimizer", "weight_decay")
    num("grad_clip", "nonneg", "optimizer", "clip_grad")
    for canon, key in (("beta1", "adam_beta1"), ("beta2", "adam_beta2"), ("eps", "adam_eps")):
        num(canon, "pos" if canon == "eps" else "beta", "optimizer", "optimizer_factory", key)
    for canon, key in _ARCH:
        num(canon, "posint", "model", "model_config", key)
    a = get("model", "model_config", "tie_word_embeddings")
    if a is not None:
        d.put("tied_embeddings", d.boolean(a[0], a[2], a[1]), a[2], a[1], a[0])
    a = get("model", "model_config", "hidden_act")
    if a is not None:  # nanotron's Llama/Qwen blocks are gated; the act names the gate.
        d.put("swiglu", d.text(a[0], a[2], a[1]).lower() in ("silu", "swiglu"), a[2], a[1], a[0])
    a = get("model", "init_method", "use_mup")
    if a is not None:
        d.put("use_mup", d.boolean(a[0], a[2], a[1]), a[2], a[1], a[0])
        if d.val("use_mup"):
            # nanotron's muP is spectral: it scales by each matrix's own shape, no base model.
            d.put("mup_base_shapes", True, a[2], a[1], a[0])
    _schedule(d, get, warm)
    a = get(*sched, "lr_warmup_style")
    if a is not None and d.choice(a[0], a[2], a[1], WARMUP) == "constant" and d.has("lr"):
        d.put("warmup_init_lr", d.val("lr"), a[2], a[1], a[0])
    _exclusions(d, get)
    if not d.has("min_lr") and d.has("lr"):
        lr = d.settings["lr"]
        d.put("min_lr", lr.value, "optimizer.learning_rate_scheduler.min_decay_lr", None, None,
              (lr.field,))
        d.note("min_decay_lr is not set: nanotron then uses the peak learning_rate, so the lr "
               "never decays.")
    d.default("warmup_steps", 0, "optimizer.learning_rate_scheduler.lr_warmup_steps")
    d.default("use_mup", False, "model.init_method.use_mup")
    return d


def _schedule(d: Draft, get: Any, warm: Any) -> None:
    sched = ("optimizer", "learning_rate_scheduler")
    style_a = get(*sched, "lr_decay_style")
    style = d.choice(style_a[0], style_a[2], style_a[1], DECAY) if style_a else "linear"
    start_a = get(*sched, "lr_decay_starting_step")
    steps_a = get(*sched, "lr_decay_steps")
    warmup = d.val("warmup_steps", 0)
    start = d.number(start_a[0], start_a[2], start_a[1], "count") if start_a else warmup
    length_from: tuple[str, ...] = ()
    if steps_a is not None:
        length = d.number(steps_a[0], steps_a[2], steps_a[1], "count")
    elif d.has("train_steps"):
        # Config.__post_init__ sets train_steps - warmup before lr_scheduler_builder runs (whose own
        # default, which also subtracts a decay start, is therefore never reached).
        length = d.val("train_steps") - warmup
        length_from = tuple(x[2] for x in (warm,) if x) + ("tokens.train_steps",)
    else:
        length = None
    style_field = style_a[2] if style_a else f"{'.'.join(sched)}.lr_decay_style"
    # start < warmup: lr_lambda's warmup branch wins up to the warmup's end, then the lr jumps into
    # its decay part-way; decay_steps keeps the start as its offset, and the schedule builder
    # (hpadvisor.schedules, _nanotron_rules) computes it so.
    if start > warmup or style == "1-sqrt":
        # A constant phase between warmup and decay start (or a 1-sqrt cooldown): WSD.
        src = start_a if start > warmup else style_a
        d.put("schedule", "wsd", src[2], src[1], src[0])
        d.put("wsd_decay_style", style, style_field, style_a[1] if style_a else None,
              style_a[0] if style_a else None)
        if length is not None:
            if steps_a is not None:
                d.put("wsd_decay_steps", length, steps_a[2], steps_a[1], steps_a[0])
            else:
                d.put("wsd_decay_steps", length, "lr_decay_steps (default)", None, None, length_from)
    elif style_a is not None:
        d.put("schedule", style, style_a[2], style_a[1], style_a[0])
    else:
        d.default("schedule", "linear", style_field)
    if length is not None:
        # The lr reaches min_decay_lr at decay start + decay length.
        start_from = (start_a[2],) if start_a else ((warm[2],) if warm else ())
        if steps_a is not None:
            d.put("decay_steps", start + length, steps_a[2], steps_a[1], steps_a[0],
                  start_from + (steps_a[2],), offset=start)
        else:
            d.put("decay_steps", start + length, "lr_decay_steps (default)", None, None,
                  start_from + length_from)


def _exclusions(d: Draft, get: Any) -> None:
    a = get("optimizer", "weight_decay_exclude_named_params")
    patterns: list[re.Pattern[str]] = []
    if a is not None:
        if not isinstance(a[0], list) or not all(isinstance(p, str) for p in a[0]):
            raise d.bad(a[2], a[1], "a list of regular expressions", a[0])
        for p in a[0]:
            try:
                patterns.append(re.compile(p))
            except (re.error, RecursionError, OverflowError):
                raise d.bad(a[2], a[1], "a list of valid regular expressions", p) from None
    field = a[2] if a else "optimizer.weight_decay_exclude_named_params"
    line = a[1] if a else None

    def decayed(names: tuple[str, ...]) -> bool:
        return not all(any(p.match(n) for p in patterns) for n in names)

    if a is None:
        d.default("wd_on_embeddings", True, field)
        d.default("wd_on_norms", True, field)
    else:
        d.put("wd_on_embeddings", decayed(EMBEDDING_NAMES[:1]), field, line, a[0])
        d.put("wd_on_norms", decayed(NORM_NAMES), field, line, a[0])


# ------------------------------------------------------------------------------------------------
# Writer: the nanotron config sections hpadvisor has values for.

WRITES = {"lr", "warmup_steps", "min_lr", "schedule", "wsd_decay_style", "wsd_decay_steps", "decay_steps",
          "train_steps", "micro_batch_seqs", "grad_accum", "seq_len", "data_parallel",
          "global_batch_seqs", "weight_decay", "grad_clip", "beta1", "beta2", "eps", "d_model",
          "n_layers", "n_heads", "n_kv_heads", "ffn_hidden", "vocab_size", "tied_embeddings",
          "wd_on_embeddings", "wd_on_norms", "use_mup", "tokens", "swiglu"}


def dump(values: dict[str, Any]) -> str:
    from hpadvisor.formats._common import complete_batch, complete_steps, header, unsupported, whole
    from hpadvisor.io import yamlio

    fmt = "nanotron"
    v = complete_steps(complete_batch(values, fmt))
    if v.get("global_batch_seqs") is not None and any(
            v.get(k) is None for k in ("micro_batch_seqs", "grad_accum", "data_parallel")):
        raise InvalidInputError("nanotron states the batch as micro_batch_size x "
                                "batch_accumulation_per_replica x dp: give two of them with the "
                                "global batch.")
    sched: dict[str, Any] = {}
    if v.get("lr") is not None:
        sched["learning_rate"] = float(v["lr"])
    warm = whole(v, "warmup_steps", fmt) if v.get("warmup_steps") is not None else 0
    if v.get("warmup_steps") is not None:
        sched["lr_warmup_steps"] = warm
        sched["lr_warmup_style"] = "linear"
    shape = v.get("schedule")
    end = v.get("decay_steps", v.get("train_steps"))
    if shape in ("cosine", "linear"):
        sched["lr_decay_style"] = shape
        if end is not None:
            sched["lr_decay_steps"] = int(end) - warm
    elif shape == "wsd":
        style = v.get("wsd_decay_style", "linear")
        if style not in DECAY:
            raise unsupported(fmt, "wsd_decay_style", style, "lr_decay_style is cosine, linear or 1-sqrt")
        if v.get("wsd_decay_steps") is None or end is None:
            raise InvalidInputError("nanotron's stable phase needs wsd_decay_steps and train_steps "
                                    "(or decay_steps).")
        cool = whole(v, "wsd_decay_steps", fmt)
        sched.update(lr_decay_style=style, lr_decay_starting_step=int(end) - cool,
                     lr_decay_steps=cool)
    elif shape is not None:
        raise unsupported(fmt, "schedule", shape, "lr_decay_style is cosine, linear or 1-sqrt")
    if v.get("min_lr") is not None:
        sched["min_decay_lr"] = float(v["min_lr"])
    opt: dict[str, Any] = {}
    if v.get("grad_clip") is not None:
        opt["clip_grad"] = float(v["grad_clip"])
    if sched:  # LRSchedulerArgs refuses a missing lr_warmup_style (its check runs before its default)
        sched.setdefault("lr_warmup_style", "linear")
        opt["learning_rate_scheduler"] = sched
    factory = {f"adam_{k}": float(v[k]) for k in ("beta1", "beta2", "eps") if v.get(k) is not None}
    if factory:
        opt["optimizer_factory"] = {"name": "adamW", **factory}
    if v.get("weight_decay") is not None:
        opt["weight_decay"] = float(v["weight_decay"])
    excluded = []
    if v.get("wd_on_embeddings") is False:
        excluded.append(".*token_embedding.*")
    if v.get("wd_on_norms") is False:
        excluded += [".*layernorm.*", ".*layer_norm.*"]
    if v.get("wd_on_embeddings") is not None or v.get("wd_on_norms") is not None:
        opt["weight_decay_exclude_named_params"] = excluded
    out: dict[str, Any] = {}
    arch: dict[str, Any] = {name: whole(v, canon, fmt) for canon, name in _ARCH if v.get(canon) is not None}
    if v.get("tied_embeddings") is not None:
        arch["tie_word_embeddings"] = bool(v["tied_embeddings"])
    if v.get("swiglu") is not None:
        arch["hidden_act"] = "silu" if v["swiglu"] else "gelu"
    if arch or v.get("use_mup") is not None:
        out["model"] = {}
        if v.get("use_mup") is not None:
            out["model"]["init_method"] = {"use_mup": bool(v["use_mup"])}
        if arch:
            out["model"]["model_config"] = arch
    if opt:
        out["optimizer"] = opt
    if v.get("data_parallel") is not None:
        out["parallelism"] = {"dp": whole(v, "data_parallel", fmt)}
    tokens = {name: whole(v, canon, fmt) for canon, name in (
        ("grad_accum", "batch_accumulation_per_replica"), ("micro_batch_seqs", "micro_batch_size"),
        ("seq_len", "sequence_length"), ("train_steps", "train_steps")) if v.get(canon) is not None}
    if tokens:
        out["tokens"] = tokens
    written = WRITES & {k for k, x in v.items() if x is not None}
    return header(fmt, values, written) + yamlio.dumps(out)


def schedule_rules(plan: SchedulePlan, cfg: TrainerConfig, notes: list[str]) -> None:
    """lr_lambda: the warmup branch (s <= warmup) comes first; after it the decay is already
    (s - start) / lr_decay_steps of the way, so the lr jumps down from the peak."""
    said = cfg.get("decay_steps")
    start = said.offset if said is not None else 0
    if plan.shape in ("constant", "inverse_sqrt") or not start or start >= plan.warmup:
        return
    plan.decay_start = int(start)
    notes.append(f"nanotron: the decay starts at step {int(start):,}, inside the {plan.warmup:,}-step warmup: the lr "
                 "ramps to the peak, then drops to where the decay has reached by then, as lr_lambda computes.")


TRAINER = Trainer(
    key="nanotron", name="nanotron", order=50, files="YAML", read=read, dump=dump,
    syntaxes={"yaml": 3, "json": 3},
    markers=frozenset({"tokens", "parallelism", "general", "checkpoints", "data_stages",
                       "optimizer.learning_rate_scheduler", "optimizer.optimizer_factory",
                       "model.model_config", "tokens.batch_accumulation_per_replica", "logging"}),
    convention="megatron",  # lr_scheduler_builder is Megatron's formula
    schedule_rules=schedule_rules,
    wd_switch="optimizer.weight_decay_exclude_named_params",
)
