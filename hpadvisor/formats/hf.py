"""Hugging Face ``TrainingArguments`` as JSON or YAML (plus the model's ``config.json``).

Field names and defaults are those of ``transformers.TrainingArguments`` and
``transformers.optimization.get_scheduler``:

* ``learning_rate`` 5e-5, ``lr_scheduler_type`` "linear" (decays to 0 at ``max_steps``);
  ``cosine_with_min_lr`` takes ``lr_scheduler_kwargs`` ``min_lr`` (absolute) or ``min_lr_rate``
  (ratio); ``warmup_stable_decay`` takes ``num_stable_steps``, ``num_decay_steps``,
  ``decay_type`` (cosine by default), ``warmup_type`` and ``min_lr_ratio`` -- its warmup starts
  from ``min_lr_ratio`` x the peak, not from 0;
* ``constant`` and ``reduce_lr_on_plateau`` run without a warmup whatever ``warmup_steps`` says;
* warmup: ``warmup_steps`` when > 0 (a value below 1 is a ratio in recent versions), else
  ``ceil(warmup_ratio x max_steps)``;
* the global batch is ``per_device_train_batch_size`` x ``gradient_accumulation_steps`` x the
  number of devices, which the file does not state (give it as the ``data_parallel`` override);
* ``max_steps`` -1 means "epochs": the run length then depends on the dataset size;
* the Trainer decays every weight except biases and norm gains (embeddings included).

The sequence length is not a TrainingArguments field; the usual script arguments kept in the
same file (``max_seq_length``, ``block_size``, ``max_length``, ``seq_length``) are read.
"""

from __future__ import annotations

import json
from typing import Any

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.formats._common import Draft
from hpadvisor.formats.base import TrainerConfig
from hpadvisor.formats.trainer import SchedulePlan, Trainer

SCHEDULES = {"linear": "linear", "cosine": "cosine", "cosine-with-restarts": "cosine",
             "polynomial": "linear", "constant": "constant", "constant-with-warmup": "constant",
             "inverse-sqrt": "inverse_sqrt", "reduce-lr-on-plateau": "constant",
             "cosine-with-min-lr": "cosine", "cosine-warmup-with-min-lr": "cosine",
             "warmup-stable-decay": "wsd"}
WSD_STYLES = {"linear": "linear", "cosine": "cosine", "1-sqrt": "1-sqrt"}

_SIMPLE = (
    ("lr", "learning_rate", "pos"), ("micro_batch_seqs", "per_device_train_batch_size", "posint"),
    ("grad_accum", "gradient_accumulation_steps", "posint"), ("weight_decay", "weight_decay", "nonneg"),
    ("beta1", "adam_beta1", "beta"), ("beta2", "adam_beta2", "beta"), ("eps", "adam_epsilon", "pos"),
    ("grad_clip", "max_grad_norm", "nonneg"),
)
_SEQ_KEYS = ("max_seq_length", "block_size", "max_length", "seq_length", "model_max_length")


def load(path: str, text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    if path.lower().endswith(".json") or text.lstrip().startswith("{"):
        from hpadvisor.io.jsonio import parse_json

        try:
            return parse_json(text, path)
        except DataError:
            if path.lower().endswith(".json"):
                raise
    from hpadvisor.io import yamlio

    return yamlio.loads(text, source=path)


def read(path: str, text: str) -> Draft:
    data, lines = load(path, text)
    if not isinstance(data, dict):
        raise DataError(f"{path}: TrainingArguments must be a mapping of settings, "
                        f"not {type(data).__name__}.")
    d = Draft(path, "hf")

    def get(key: str) -> tuple[Any, int | None, str] | None:
        v = data.get(key)
        return None if v is None else (v, lines.get((key,)), key)

    for canon, key, kind in _SIMPLE:
        a = get(key)
        if a is not None:
            d.put(canon, d.number(a[0], a[2], a[1], kind), a[2], a[1], a[0])
    for key in _SEQ_KEYS:
        a = get(key)
        if a is not None:
            d.put("seq_len", d.number(a[0], a[2], a[1], "posint"), a[2], a[1], a[0])
            break
    a = get("max_steps")
    if a is not None and d.number(a[0], a[2], a[1], "int") > 0:
        d.put("train_steps", d.number(a[0], a[2], a[1], "posint"), a[2], a[1], a[0])
    elif "num_train_epochs" in data:
        d.note("max_steps is not set: the run length follows num_train_epochs and the dataset "
               "size, which the file does not state.")
    kwargs = _kwargs(d, get("lr_scheduler_kwargs"))
    a = get("lr_scheduler_type")
    sched_type = "linear"
    if a is not None:
        d.put("schedule", d.choice(a[0], a[2], a[1], SCHEDULES), a[2], a[1], a[0])
        sched_type = str(a[0]).strip().lower().replace("_", "-")
    else:
        d.default("schedule", "linear", "lr_scheduler_type")
    if a is not None and sched_type in ("constant", "reduce-lr-on-plateau") and _asks_warmup(d, get("warmup_steps"), get("warmup_ratio")):
        # get_scheduler builds these two without num_warmup_steps: the run has no warmup.
        d.put("warmup_steps", 0, a[2], a[1], a[0])
        d.note(f"lr_scheduler_type {a[0]!r} runs without a warmup (transformers builds it without "
               "num_warmup_steps): warmup_steps/warmup_ratio are ignored; constant_with_warmup warms up.")
    else:
        _warmup(d, get("warmup_steps"), get("warmup_ratio"))
    _final_lr(d, sched_type, kwargs, a)
    _variant(d, sched_type, kwargs)
    d.default("lr", 5e-5, "learning_rate")
    d.default("micro_batch_seqs", 8, "per_device_train_batch_size")
    d.default("grad_accum", 1, "gradient_accumulation_steps")
    d.default("weight_decay", 0.0, "weight_decay")
    d.default("beta1", 0.9, "adam_beta1")
    d.default("beta2", 0.999, "adam_beta2")
    d.default("eps", 1e-8, "adam_epsilon")
    d.default("grad_clip", 1.0, "max_grad_norm")
    d.default("wd_on_embeddings", True, "weight_decay")
    d.default("wd_on_norms", False, "weight_decay")
    d.default("use_mup", False, "use_mup")
    d.note("TrainingArguments do not state the number of devices: the global batch is "
           "per_device_train_batch_size x gradient_accumulation_steps x devices.")
    return d


def _kwargs(d: Draft, a: tuple[Any, int | None, str] | None) -> dict[str, tuple[Any, int | None, str]]:
    if a is None:
        return {}
    value = a[0]
    if isinstance(value, str):  # the command line passes it as a JSON string
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise d.bad(a[2], a[1], "a mapping (or its JSON text)", a[0]) from None
    if not isinstance(value, dict):
        raise d.bad(a[2], a[1], "a mapping of scheduler arguments", a[0])
    return {str(k): (v, a[1], f"{a[2]}.{k}") for k, v in value.items() if v is not None}


def _variant(d: Draft, sched: str, kw: dict[str, tuple[Any, int | None, str]]) -> None:
    """A decay the canonical schedule names do not describe (a polynomial power, cosine cycles):
    recorded so the per-step lr is refused rather than computed as the plain shape."""
    default_cycles = 1.0 if sched == "cosine-with-restarts" else 0.5
    checks = [("power", 1.0, "polynomial decay with power {:g}")] if sched == "polynomial" else []
    if sched.startswith("cosine") or sched == "warmup-stable-decay":
        checks.append(("num_cycles", default_cycles, "cosine with num_cycles {:g}"))
    for key, default, text in checks:
        if key in kw:
            m = kw[key]
            x = d.number(m[0], m[2], m[1], "pos")
            if x != default:
                d.put("schedule_variant", text.format(x), m[2], m[1], m[0])


def _asks_warmup(d: Draft, steps: Any, ratio: Any) -> bool:
    """True when warmup_steps or warmup_ratio asks for a warmup (both checked as numbers)."""
    asked = [d.number(x[0], x[2], x[1], "nonneg" if x is steps else "frac") > 0 for x in (steps, ratio) if x]
    return any(asked)


def _warmup(d: Draft, steps: Any, ratio: Any) -> None:
    if steps is not None:
        x = d.number(steps[0], steps[2], steps[1], "nonneg")
        if 0 < x < 1:  # recent transformers read a warmup_steps below 1 as a ratio
            d.later("warmup_fraction", x, steps[2], steps[1], steps[0], base="train_steps",
                    rounding="ceil")
            return
        if x > 0:
            d.put("warmup_steps", d.number(steps[0], steps[2], steps[1], "count"), steps[2],
                  steps[1], steps[0])
            return
    if ratio is not None:
        x = d.number(ratio[0], ratio[2], ratio[1], "frac")
        if x > 0:
            d.later("warmup_fraction", x, ratio[2], ratio[1], ratio[0], base="train_steps",
                    rounding="ceil")
            return
    d.default("warmup_steps", 0, "warmup_steps")


def _final_lr(d: Draft, sched: str, kw: dict[str, tuple[Any, int | None, str]], a: Any) -> None:
    if sched in ("cosine-with-min-lr", "cosine-warmup-with-min-lr"):
        if "min_lr" in kw:
            m = kw["min_lr"]
            d.put("min_lr", d.number(m[0], m[2], m[1], "nonneg"), m[2], m[1], m[0])
        elif "min_lr_rate" in kw:
            m = kw["min_lr_rate"]
            d.later("min_lr_ratio", d.number(m[0], m[2], m[1], "frac"), m[2], m[1], m[0])
        else:
            raise DataError(f"{d.where(a[1] if a else None)}: lr_scheduler_type {a[0]!r} needs "
                            "lr_scheduler_kwargs min_lr or min_lr_rate (transformers refuses it "
                            "without one).")
    elif sched == "warmup-stable-decay":
        for key, canon in (("num_decay_steps", "wsd_decay_steps"),):
            if key in kw:
                m = kw[key]
                d.put(canon, d.number(m[0], m[2], m[1], "count"), m[2], m[1], m[0])
        if "decay_type" in kw:
            m = kw["decay_type"]
            d.put("wsd_decay_style", d.choice(m[0], m[2], m[1], WSD_STYLES), m[2], m[1], m[0])
        else:
            d.default("wsd_decay_style", "cosine", "lr_scheduler_kwargs.decay_type")
        if "min_lr_ratio" in kw:
            m = kw["min_lr_ratio"]
            d.later("min_lr_ratio", d.number(m[0], m[2], m[1], "frac"), m[2], m[1], m[0])
        else:
            d.default("min_lr", 0.0, "lr_scheduler_kwargs.min_lr_ratio")
        if "warmup_type" in kw:
            m = kw["warmup_type"]
            d.put("warmup_shape", d.choice(m[0], m[2], m[1], WSD_STYLES), m[2], m[1], m[0])
        if "num_stable_steps" in kw and "num_decay_steps" in kw:
            # The decay ends at warmup + stable + decay (get_wsd_schedule).
            st, de = kw["num_stable_steps"], kw["num_decay_steps"]
            stable = d.number(st[0], st[2], st[1], "count")
            warm = d.val("warmup_steps")
            if warm is not None:
                d.put("decay_steps", warm + stable + d.val("wsd_decay_steps"), de[2], de[1], de[0],
                      (d.settings["warmup_steps"].field, st[2], de[2]), offset=warm + stable)
            else:  # a warmup from warmup_ratio is known only once max_steps is: finalize adds it
                d.later("wsd_stable_steps", stable, st[2], st[1], st[0])
    elif sched == "polynomial":
        end = kw.get("lr_end")
        if end is not None:
            d.put("min_lr", d.number(end[0], end[2], end[1], "nonneg"), end[2], end[1], end[0])
        else:
            d.default("min_lr", 1e-7, "lr_scheduler_kwargs.lr_end")
    elif sched in ("linear", "cosine", "cosine-with-restarts"):
        d.default("min_lr", 0.0, "lr_scheduler_type")


# ------------------------------------------------------------------------------------------------
# Writer: TrainingArguments JSON (HfArgumentParser.parse_json_file refuses unknown keys, so only
# TrainingArguments fields are written; the device count and the model are not among them).

_OUT = (("lr", "learning_rate", False), ("micro_batch_seqs", "per_device_train_batch_size", True),
        ("grad_accum", "gradient_accumulation_steps", True), ("train_steps", "max_steps", True),
        ("warmup_steps", "warmup_steps", True), ("weight_decay", "weight_decay", False),
        ("beta1", "adam_beta1", False), ("beta2", "adam_beta2", False), ("eps", "adam_epsilon", False),
        ("grad_clip", "max_grad_norm", False))
WRITES = {k for k, _, _ in _OUT} | {"schedule", "min_lr", "wsd_decay_steps", "wsd_decay_style",
                                    "decay_steps"}


def dump(values: dict[str, Any]) -> str:
    from hpadvisor.formats._common import complete_batch, complete_steps, unsupported, whole

    v = complete_steps(complete_batch(values, "Hugging Face"))
    if v.get("global_batch_seqs") is not None and v.get("micro_batch_seqs") is None:
        raise InvalidInputError("Hugging Face TrainingArguments state the batch per device: give "
                                "micro_batch_seqs (and grad_accum, data_parallel) with the global batch.")
    out: dict[str, Any] = {}
    for key, name, integer in _OUT:
        if v.get(key) is not None:
            out[name] = whole(v, key, "Hugging Face") if integer else float(v[key])
    sched, lr, mn = v.get("schedule"), v.get("lr"), v.get("min_lr")
    steps, decay = v.get("train_steps"), v.get("decay_steps")
    if sched not in (None, "wsd") and decay is not None and decay != steps:
        raise unsupported("Hugging Face", "decay_steps", decay,
                          "its schedules decay over max_steps (train_steps)")
    kwargs: dict[str, Any] = {}
    if sched is None:
        pass
    elif sched in ("cosine", "linear"):
        if mn:
            if sched == "cosine":
                out["lr_scheduler_type"] = "cosine_with_min_lr"
                kwargs["min_lr"] = float(mn)
            else:  # polynomial with power 1 is linear decay to lr_end
                out["lr_scheduler_type"] = "polynomial"
                kwargs.update(lr_end=float(mn), power=1.0)
        else:
            out["lr_scheduler_type"] = sched
    elif sched == "constant":
        out["lr_scheduler_type"] = "constant_with_warmup" if v.get("warmup_steps") else "constant"
    elif sched == "inverse_sqrt":
        out["lr_scheduler_type"] = "inverse_sqrt"
    elif sched == "wsd":
        out["lr_scheduler_type"] = "warmup_stable_decay"
        wsd = v.get("wsd_decay_steps")
        end = decay if decay is not None else steps
        if wsd is None or end is None:
            raise InvalidInputError("Hugging Face warmup_stable_decay needs wsd_decay_steps and "
                                    "train_steps (or decay_steps).")
        kwargs["num_decay_steps"] = whole(v, "wsd_decay_steps", "Hugging Face")
        kwargs["num_stable_steps"] = int(end) - int(v.get("warmup_steps") or 0) - int(wsd)
        if kwargs["num_stable_steps"] < 0:
            raise InvalidInputError("Hugging Face warmup_stable_decay: warmup + cooldown exceed the run.")
        if v.get("wsd_decay_style") is not None:
            if v["wsd_decay_style"] not in WSD_STYLES:
                raise unsupported("Hugging Face", "wsd_decay_style", v["wsd_decay_style"],
                                  "its decay_type is one of " + ", ".join(WSD_STYLES))
            kwargs["decay_type"] = v["wsd_decay_style"]
        if mn is not None and lr:
            kwargs["min_lr_ratio"] = float(mn) / float(lr)
    else:
        raise unsupported("Hugging Face", "schedule", sched,
                          "lr_scheduler_type has no equivalent")
    if kwargs:
        out["lr_scheduler_kwargs"] = kwargs
    return json.dumps(out, indent=2) + "\n"


def schedule_rules(plan: SchedulePlan, cfg: TrainerConfig, notes: list[str]) -> None:
    """transformers' cosine_warmup_with_min_lr is computed with its cosine convention (said)."""
    raw_type = str(getattr(cfg.get("schedule"), "raw", "") or "").lower().replace("_", "-")
    if raw_type == "cosine-warmup-with-min-lr":
        notes.append("cosine_warmup_with_min_lr: computed with HF's cosine convention; transformers ramps "
                     "this one to (s + 1) / W and decays one step earlier.")


TRAINER = Trainer(
    key="hf", name="Hugging Face", order=30, files="TrainingArguments JSON/YAML", read=read, dump=dump,
    syntaxes={"json": 0, "yaml": 2},
    markers=frozenset({"per_device_train_batch_size", "learning_rate", "lr_scheduler_type", "output_dir",
                       "warmup_ratio", "num_train_epochs", "max_steps", "adam_epsilon", "max_grad_norm",
                       "logging_steps", "save_steps", "gradient_accumulation_steps", "bf16", "optim",
                       "lr_scheduler_kwargs", "per_device_eval_batch_size", "report_to"}),
    convention="hf", schedule_rules=schedule_rules,
    wsd_warmup_from_floor=True,  # _get_wsd_scheduler_lambda warms up from min_lr_ratio x the peak
    states_shape=False,  # the model's shape is its config.json, not the TrainingArguments
)
