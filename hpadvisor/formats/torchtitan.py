"""torchtitan: a TOML job config (``[optimizer]``, ``[lr_scheduler]``, ``[training]``, ``[parallelism]``).

Field names and defaults are those of ``torchtitan/config/job_config.py``:

* ``[optimizer]`` lr 8e-4, beta1 0.9, beta2 0.95, eps 1e-8, weight_decay 0.1 (applied to every
  parameter: torchtitan builds one parameter group, embeddings and norms included);
* ``[lr_scheduler]`` warmup_steps 200, decay_ratio (None: decay right after warmup; r: a WSD
  schedule whose cooldown is the last ``round(steps x r)`` steps), decay_type linear / sqrt /
  cosine, ``min_lr_factor`` (older versions: ``lr_min``) a RATIO of the peak lr, default 0;
* ``[training]`` ``local_batch_size`` (older: ``batch_size``) per device, ``global_batch_size``
  (-1: local x data-parallel, no accumulation), seq_len 2048, max_norm 1.0, steps 10000;
* data-parallel size = ``data_parallel_replicate_degree`` x ``data_parallel_shard_degree``
  (-1 means "the remaining devices", unknown from the file).
"""

from __future__ import annotations

from typing import Any

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.formats._common import Draft
from hpadvisor.formats.base import TrainerConfig
from hpadvisor.formats.trainer import SchedulePlan, Trainer

DECAY = {"linear": "linear", "cosine": "cosine", "sqrt": "1-sqrt"}


def read(path: str, text: str) -> Draft:
    from hpadvisor.io.jsonio import parse_toml

    data, lines = parse_toml(text, path)
    d = Draft(path, "torchtitan")

    def table(name: str) -> dict[str, Any]:
        t = data.get(name, {})
        if not isinstance(t, dict):
            raise DataError(f"{path}:{lines.get((name,))}: '{name}' must be a [{name}] table, "
                            f"not {type(t).__name__}.")
        return t

    def get(tab: str, *keys: str) -> tuple[Any, int | None, str] | None:
        t = table(tab)
        for key in keys:
            if key in t and t[key] is not None:
                return t[key], lines.get((tab, key)), f"{tab}.{key}"
        return None

    def num(canon: str, kind: str, tab: str, *keys: str) -> None:
        a = get(tab, *keys)
        if a is not None:
            d.put(canon, d.number(a[0], a[2], a[1], kind), a[2], a[1], a[0])

    num("lr", "pos", "optimizer", "lr")
    num("beta1", "beta", "optimizer", "beta1")
    num("beta2", "beta", "optimizer", "beta2")
    num("eps", "pos", "optimizer", "eps")
    num("weight_decay", "nonneg", "optimizer", "weight_decay")
    num("warmup_steps", "count", "lr_scheduler", "warmup_steps")
    num("micro_batch_seqs", "posint", "training", "local_batch_size", "batch_size")
    num("seq_len", "posint", "training", "seq_len")
    num("grad_clip", "nonneg", "training", "max_norm")
    num("train_steps", "posint", "training", "steps")
    a = get("training", "global_batch_size")
    if a is not None and d.number(a[0], a[2], a[1], "int") == 0:  # train.py asserts global_batch_size > 0
        raise d.bad(a[2], a[1], "a whole number >= 1, or negative for local_batch_size x data-parallel "
                    "(torchtitan asserts global_batch_size > 0)", a[0])
    if a is not None and d.number(a[0], a[2], a[1], "int") > 0:
        d.put("global_batch_seqs", d.number(a[0], a[2], a[1], "posint"), a[2], a[1], a[0])
    a = get("lr_scheduler", "min_lr_factor", "lr_min")
    if a is not None:
        d.later("min_lr_ratio", d.number(a[0], a[2], a[1], "frac"), a[2], a[1], a[0])
    else:
        d.later("min_lr_ratio", 0.0, "lr_scheduler.min_lr_factor", None, None)
    _schedule(d, get)
    _data_parallel(d, get)
    _defaults(d)
    flavor = get("model", "flavor")
    if flavor is not None:
        d.note(f"model flavor {flavor[0]!r}: the architecture lives in torchtitan's model "
               "registry, not in the file; give the model's config.json for architecture checks.")
    return d


def _schedule(d: Draft, get: Any) -> None:
    """The schedule: decay_ratio makes it WSD (decay_type its cooldown shape); a 1-sqrt decay
    without it is a WSD schedule with no stable phase; otherwise decay_type names it."""
    style_a = get("lr_scheduler", "decay_type")
    style = d.choice(style_a[0], style_a[2], style_a[1], DECAY) if style_a else "linear"
    ratio = get("lr_scheduler", "decay_ratio")
    if ratio is not None:
        r = d.number(ratio[0], ratio[2], ratio[1], "frac")
        d.put("schedule", "wsd", ratio[2], ratio[1], ratio[0])
        if style_a is not None:
            d.put("wsd_decay_style", style, style_a[2], style_a[1], style_a[0])
        else:
            d.default("wsd_decay_style", "linear", "lr_scheduler.decay_type")
        d.later("wsd_decay_fraction", r, ratio[2], ratio[1], ratio[0], rounding="round")
    elif style_a is not None and style == "1-sqrt":
        # 1-sqrt straight after warmup: a WSD schedule with no stable phase.
        d.put("schedule", "wsd", style_a[2], style_a[1], style_a[0])
        d.put("wsd_decay_style", "1-sqrt", style_a[2], style_a[1], style_a[0])
        steps, warm = get("training", "steps"), get("lr_scheduler", "warmup_steps")
        if steps is not None and warm is not None:
            d.put("wsd_decay_steps", d.val("train_steps") - d.val("warmup_steps"), style_a[2],
                  None, None, (steps[2], warm[2]))
    elif style_a is not None:
        d.put("schedule", style, style_a[2], style_a[1], style_a[0])
    else:
        d.default("schedule", "linear", "lr_scheduler.decay_type")


def _defaults(d: Draft) -> None:
    """torchtitan's defaults for what the file does not set (config/job_config.py)."""
    d.default("lr", 8e-4, "optimizer.lr")
    d.default("beta1", 0.9, "optimizer.beta1")
    d.default("beta2", 0.95, "optimizer.beta2")
    d.default("eps", 1e-8, "optimizer.eps")
    d.default("weight_decay", 0.1, "optimizer.weight_decay")
    d.default("warmup_steps", 200, "lr_scheduler.warmup_steps")
    d.default("micro_batch_seqs", 8, "training.local_batch_size")
    d.default("seq_len", 2048, "training.seq_len")
    d.default("grad_clip", 1.0, "training.max_norm")
    d.default("train_steps", 10000, "training.steps")
    d.default("wd_on_embeddings", True, "optimizer.weight_decay")
    d.default("wd_on_norms", True, "optimizer.weight_decay")
    d.default("use_mup", False, "use_mup")
    if not d.has("global_batch_seqs"):
        d.default("grad_accum", 1, "training.global_batch_size")


def _data_parallel(d: Draft, get: Any) -> None:
    rep = get("parallelism", "data_parallel_replicate_degree")
    shard = get("parallelism", "data_parallel_shard_degree")
    r = d.number(rep[0], rep[2], rep[1], "posint") if rep else 1
    if shard is None:
        d.note("parallelism.data_parallel_shard_degree defaults to -1 (the remaining devices): "
               "data-parallel size unknown from the file.")
        return
    s = d.number(shard[0], shard[2], shard[1], "int")
    if s == -1:
        d.note("parallelism.data_parallel_shard_degree = -1 (the remaining devices): "
               "data-parallel size unknown from the file.")
        return
    if s < 1:
        raise d.bad(shard[2], shard[1], "-1 or a whole number >= 1", shard[0])
    fields = tuple(x[2] for x in (rep, shard) if x is not None)
    d.put("data_parallel", r * s, " x ".join(fields), None, None, fields)


# ------------------------------------------------------------------------------------------------
# Writer: torchtitan TOML tables (written by hand: tomllib only reads).

_DECAY_OUT = {"linear": "linear", "cosine": "cosine", "1-sqrt": "sqrt"}
WRITES = {"lr", "beta1", "beta2", "eps", "weight_decay", "warmup_steps", "schedule", "wsd_decay_style",
          "wsd_decay_steps", "min_lr", "micro_batch_seqs", "global_batch_seqs", "seq_len", "grad_clip",
          "train_steps", "decay_steps", "data_parallel", "grad_accum", "tokens"}


def dump(values: dict[str, Any]) -> str:
    from hpadvisor.formats._common import (
        complete_batch,
        complete_steps,
        header,
        num_text,
        unsupported,
        whole,
    )

    v = complete_steps(complete_batch(values, "torchtitan"))
    tables: dict[str, list[str]] = {"optimizer": [], "lr_scheduler": [], "training": [],
                                    "parallelism": []}

    def put(table: str, key: str, canon: str, integer: bool = False) -> None:
        if v.get(canon) is not None:
            text = str(whole(v, canon, "torchtitan")) if integer else num_text(float(v[canon]))
            if not integer and "." not in text and "e" not in text:
                text += ".0"  # a TOML float, not an integer
            tables[table].append(f"{key} = {text}")

    put("optimizer", "lr", "lr")
    put("optimizer", "beta1", "beta1")
    put("optimizer", "beta2", "beta2")
    put("optimizer", "eps", "eps")
    put("optimizer", "weight_decay", "weight_decay")
    put("lr_scheduler", "warmup_steps", "warmup_steps", True)
    sched, steps, decay = v.get("schedule"), v.get("train_steps"), v.get("decay_steps")
    if decay is not None and decay != steps:
        raise unsupported("torchtitan", "decay_steps", decay,
                          "its schedule always ends the decay at training.steps")
    if sched in ("linear", "cosine"):
        tables["lr_scheduler"].append(f'decay_type = "{sched}"')
    elif sched == "wsd":
        style = v.get("wsd_decay_style", "linear")
        if style not in _DECAY_OUT:
            raise unsupported("torchtitan", "wsd_decay_style", style,
                              "its decay_type is one of " + ", ".join(_DECAY_OUT))
        if v.get("wsd_decay_steps") is None or not steps:
            raise InvalidInputError("torchtitan's WSD needs wsd_decay_steps and train_steps "
                                    "(decay_ratio = cooldown / steps).")
        tables["lr_scheduler"].append(f'decay_type = "{_DECAY_OUT[style]}"')
        tables["lr_scheduler"].append(f"decay_ratio = {num_text(float(v['wsd_decay_steps']) / steps)}")
    elif sched is not None:
        raise unsupported("torchtitan", "schedule", sched, "decay_type is linear, sqrt or cosine")
    if v.get("min_lr") is not None:
        if not v.get("lr"):
            raise InvalidInputError("torchtitan states the final lr as a factor of lr: give lr too.")
        factor = float(v["min_lr"]) / float(v["lr"])
        tables["lr_scheduler"].append(f"min_lr_factor = {num_text(factor)}"
                                      + (".0" if float(factor).is_integer() else ""))
    put("training", "local_batch_size", "micro_batch_seqs", True)
    put("training", "global_batch_size", "global_batch_seqs", True)
    put("training", "seq_len", "seq_len", True)
    put("training", "max_norm", "grad_clip")
    put("training", "steps", "train_steps", True)
    if v.get("data_parallel") is not None:
        tables["parallelism"].append("data_parallel_replicate_degree = 1")
        put("parallelism", "data_parallel_shard_degree", "data_parallel", True)
    written = WRITES & {k for k, x in v.items() if x is not None}
    body = "".join(f"\n[{name}]\n" + "\n".join(rows) + "\n" for name, rows in tables.items() if rows)
    return header("torchtitan", values, written) + body


def schedule_rules(plan: SchedulePlan, cfg: TrainerConfig, notes: list[str]) -> None:
    """A warmup as long as the run only ramps; a WSD cooldown longer than what follows the warmup is
    shortened (both with a warning); a cooldown rounding to no step keeps the peak."""
    said = cfg.get("min_lr")
    if said is not None and said.field.endswith("lr_min"):
        notes.append(f"torchtitan: computed as its min_lr_factor versions do; versions with {said.field} "
                     "ramped the warmup to (s + 1) / (W + 1) and decayed over one step more.")
    if plan.warmup >= plan.horizon and plan.shape != "constant":  # the warmup is cut to the run, with a warning
        notes.append(f"torchtitan: the warmup ({plan.warmup:,} steps) is not shorter than the run "
                     f"({plan.horizon:,}): the lr only ramps up, and never decays.")
        plan.shape, plan.warmup, plan.min_lr, plan.cooldown = "constant", plan.horizon, 0.0, None
    if plan.shape == "wsd" and plan.cooldown is not None:
        room = plan.horizon - plan.warmup
        if plan.cooldown > room:  # shortened to fit, with a warning
            notes.append(f"torchtitan shortens the cooldown ({plan.cooldown:,} steps) to the {room:,} steps "
                         "after the warmup.")
            plan.cooldown = room
        if plan.cooldown == 0:  # decay_ratio rounding to no step: the lr stays at its peak
            plan.shape, plan.min_lr, plan.cooldown = "constant", 0.0, None


TRAINER = Trainer(
    key="torchtitan", name="torchtitan", order=40, files="TOML", read=read, dump=dump,
    syntaxes={"toml": 0},
    markers=frozenset({"training", "lr_scheduler", "job", "parallelism.data_parallel_shard_degree",
                       "training.local_batch_size", "training.steps", "training.seq_len",
                       "activation_checkpoint", "float8", "metrics", "model.flavor"}),
    convention="torchtitan", schedule_rules=schedule_rules,
    states_shape=False,  # the model's shape is a named flavor
)
