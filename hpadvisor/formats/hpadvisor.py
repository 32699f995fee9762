"""hpadvisor's own run file (see ``hpadvisor schema``), read into the same normalised view.

Values are validated by :func:`hpadvisor.spec.parse_raw`, so the run file means here exactly
what it means to ``recommend``: the batch carries its unit (sequences or tokens), warmup is
steps, tokens or a fraction of the run, the lr decays over the whole run, and the run length in
steps is data.tokens / tokens per step.  seq_len defaults to 2048, as in the spec.
"""

from __future__ import annotations

import math
from typing import Any

from hpadvisor.formats._common import Draft
from hpadvisor.formats.trainer import Trainer

_DIRECT = (
    ("optimizer.lr", "lr"), ("optimizer.beta1", "beta1"), ("optimizer.beta2", "beta2"),
    ("optimizer.eps", "eps"), ("optimizer.weight_decay", "weight_decay"), ("schedule.shape", "schedule"),
    ("schedule.min_lr", "min_lr"), ("schedule.trainer", "trainer"), ("seq_len", "seq_len"), ("data.tokens", "tokens"),
    ("model.architecture.d_model", "d_model"), ("model.architecture.n_layers", "n_layers"),
    ("model.architecture.n_heads", "n_heads"), ("model.architecture.n_kv_heads", "n_kv_heads"),
    ("model.architecture.ffn_hidden", "ffn_hidden"), ("model.architecture.vocab_size", "vocab_size"),
    ("model.architecture.swiglu", "swiglu"), ("model.architecture.tied_embeddings", "tied_embeddings"),
    ("model.architecture.n_experts", "n_experts"), ("model.architecture.top_k", "top_k"),
    ("model.architecture.moe_ffn_hidden", "moe_ffn_hidden"),
    ("model.architecture.n_shared_experts", "n_shared_experts"), ("schedule.decay_shape", "wsd_decay_style"),
    ("model.params", "params"), ("model.non_embedding_params", "non_embedding_params"),
    ("schedule.cooldowns", "cooldowns"),
)


def read(path: str, text: str) -> Draft:
    from hpadvisor import spec
    from hpadvisor.io import yamlio

    raw, lines = yamlio.loads(text, source=path)
    values = spec.parse_raw(raw, lines=lines, source=path)
    d = Draft(path, "hpadvisor")

    def line(dotted: str) -> int | None:
        return lines.get(tuple(dotted.split(".")))

    for dotted, canon in _DIRECT:
        if dotted in values:
            v = values[dotted]
            if canon == "wsd_decay_style":  # the run file's spellings (1_sqrt, minus_sqrt ...), canonical
                v = spec.DECAY_ALIASES.get(v, v)
            d.put(canon, int(v) if canon == "tokens" and float(v).is_integer() else v, dotted,
                  line(dotted), v)
    d.default("seq_len", 2048, "seq_len")
    d.default("schedule", "cosine", "schedule.shape")
    seq = d.val("seq_len")
    batch_tokens = None
    if "batch" in values:
        number, unit = values["batch"]
        if unit == "sequences":
            n = int(number) if float(number).is_integer() else number
            d.put("global_batch_seqs", n, "batch", line("batch"), values["batch"])
            batch_tokens = number * seq
        else:
            d.later("global_batch_tokens", number, "batch", line("batch"), values["batch"])
            batch_tokens = number
    if batch_tokens and d.has("tokens"):
        steps = d.val("tokens") / batch_tokens  # whole steps as the advice counts them: ceil
        d.put("train_steps", math.ceil(steps * (1 - 1e-12)), "data.tokens / batch (rounded up)",
              None, None, ("data.tokens", "batch"))
    if "schedule.warmup" in values:
        unit, x = values["schedule.warmup"]
        where = line("schedule.warmup")
        if unit == "steps":
            d.put("warmup_steps", int(x), "schedule.warmup", where, values["schedule.warmup"])
        elif unit == "tokens" and batch_tokens:
            w = x / batch_tokens
            d.put("warmup_steps", int(w) if float(w).is_integer() else w, "schedule.warmup", where,
                  values["schedule.warmup"], ("schedule.warmup", "batch"))
        elif unit == "fraction":
            d.later("warmup_fraction", x, "schedule.warmup", where, values["schedule.warmup"],
                    base="train_steps")
        else:
            d.note("schedule.warmup is in tokens but the batch is unknown; warmup in steps left "
                   "undetermined.")
    if "schedule.min_lr_ratio" in values:
        d.later("min_lr_ratio", values["schedule.min_lr_ratio"], "schedule.min_lr_ratio",
                line("schedule.min_lr_ratio"), values["schedule.min_lr_ratio"])
    if "schedule.decay_fraction" in values:
        d.later("wsd_decay_fraction", values["schedule.decay_fraction"], "schedule.decay_fraction",
                line("schedule.decay_fraction"), values["schedule.decay_fraction"], rounding="round")
    return d


# ------------------------------------------------------------------------------------------------
# Writer: a run file.

WRITES = {c for _, c in _DIRECT} | {"global_batch_seqs", "train_steps", "warmup_steps", "decay_steps",
                                    "wsd_decay_steps"}


def dump(values: dict[str, Any]) -> str:
    from hpadvisor.errors import InvalidInputError
    from hpadvisor.formats._common import complete_batch, complete_steps, header, unsupported
    from hpadvisor.io import yamlio

    v = complete_steps(complete_batch(values, "hpadvisor"))
    out: dict[str, Any] = {}

    def put(dotted: str, value: Any) -> None:
        node = out
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    steps, g, seq = v.get("train_steps"), v.get("global_batch_seqs"), v.get("seq_len")
    if v.get("tokens") is None and steps and g and seq:
        v["tokens"] = steps * g * seq
    if v.get("decay_steps") is not None and v["decay_steps"] != steps:
        raise unsupported("hpadvisor", "decay_steps", v["decay_steps"],
                          "a run file's schedule decays over the whole run")
    if v.get("schedule") is not None and v["schedule"] not in _SHAPES:
        raise unsupported("hpadvisor", "schedule", v["schedule"], "schedule.shape is one of "
                          + ", ".join(_SHAPES))
    for dotted, canon in _DIRECT:
        if v.get(canon) is not None:
            x = v[canon]
            put(dotted, x if isinstance(x, (bool, str)) else (int(x) if canon in _INT else float(x)))
    if g is not None:
        put("batch", f"{int(g)} seqs")
    if v.get("warmup_steps") is not None:
        put("schedule.warmup", f"{int(v['warmup_steps'])} steps")
    if v.get("wsd_decay_steps") is not None:
        if not steps:
            raise InvalidInputError("hpadvisor: the WSD cooldown is a fraction of the run: give "
                                    "train_steps (or tokens) with wsd_decay_steps.")
        put("schedule.decay_fraction", float(v["wsd_decay_steps"]) / float(steps))
    written = WRITES & {k for k, x in v.items() if x is not None}
    return header("hpadvisor run file", values, written) + yamlio.dumps(out)


_SHAPES = ("cosine", "wsd", "linear", "constant", "multistep", "inverse_sqrt")
_INT = {"tokens", "seq_len", "d_model", "n_layers", "n_heads", "n_kv_heads", "ffn_hidden", "vocab_size",
        "n_experts", "top_k", "moe_ffn_hidden", "n_shared_experts", "cooldowns"}


TRAINER = Trainer(
    key="hpadvisor", name="hpadvisor", order=1000, files="run file", read=read, dump=dump,
    syntaxes={"yaml": 4, "json": 4},
    markers=frozenset({"model.params", "model.architecture", "data.tokens", "data.compute",
                       "schedule.shape", "schedule.warmup", "hardware.accelerator", "proxy",
                       "data.tokens_per_param", "optimizer.reference"}),
    run_file=True,  # it names the trainer that runs it (schedule.trainer): that one's rules apply
    states_shape=False,  # it states the size (model.params) when there is no architecture
    states_wsd_s=True,
)
