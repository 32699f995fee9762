"""GPT-NeoX: one YAML file of its arguments (often written as a JSON-like flow mapping).

Field names and defaults are those of GPT-NeoX's ``megatron/neox_arguments`` and its
``get_learning_rate_scheduler`` (``megatron/training.py``):

* keys may be written with ``-`` or ``_`` (``train-iters`` = ``train_iters``);
* the peak lr is ``optimizer.params.lr``; Adam's ``betas`` and ``eps`` sit beside it (torch's
  defaults 0.9 / 0.999 / 1e-8 when absent);
* the decay horizon is ``lr_decay_iters``, else ``floor(train_iters x lr_decay_fraction)``,
  else ``train_iters``; ``warmup`` (default 0.01) is a FRACTION of that horizon;
* ``min_lr`` is absolute (default 0);
* the batch follows DeepSpeed: ``train_batch_size`` = ``train_micro_batch_size_per_gpu`` x
  ``gradient_accumulation_steps`` x data-parallel size;
* weight decay skips norms and biases, embeddings are decayed; embeddings are tied unless
  ``no_weight_tying``; muP needs ``base_shapes_file`` (or ``mup_width_scale``);
* the MLP width (``ParallelMLP``): ``I`` = ``intermediate_size``, else ``expansion_factor x
  hidden_size``, else ``4 x hidden_size``; a gated activation (swiglu, geglu, reglu) scales it
  by 2/3 for its two fused matrices, so each of gate/up/down is ``ceil256(int(2 I / 3) // 2)`` wide:
  Llama-2-7B's 11008 is written ``intermediate_size: 32768`` (NeoX's own llama2 configs).
"""

from __future__ import annotations

from typing import Any

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.formats._common import Draft
from hpadvisor.formats.trainer import MupFields, Trainer

SCHEDULES = {"constant": "constant", "linear": "linear", "cosine": "cosine",
             "exponential": "exponential"}

_SIMPLE = (
    ("min_lr", "min_lr", "nonneg"), ("train_steps", "train_iters", "posint"),
    ("decay_steps", "lr_decay_iters", "posint"), ("global_batch_seqs", "train_batch_size", "posint"),
    ("micro_batch_seqs", "train_micro_batch_size_per_gpu", "posint"),
    ("grad_accum", "gradient_accumulation_steps", "posint"), ("seq_len", "seq_length", "posint"),
    ("weight_decay", "weight_decay", "nonneg"), ("grad_clip", "gradient_clipping", "nonneg"),
    ("d_model", "hidden_size", "posint"), ("n_layers", "num_layers", "posint"),
    ("n_heads", "num_attention_heads", "posint"), ("n_kv_heads", "num_kv_heads", "posint"),
    ("n_experts", "moe_num_experts", "posint"), ("top_k", "moe_top_k", "posint"),
)
_GATED = ("swiglu", "geglu", "reglu")

Args = dict[str, tuple[Any, int | None, str]]


def _flatten(path: str, data: dict[Any, Any], lines: dict[tuple[str, ...], int]) -> Args:
    args: Args = {}
    for k, v in data.items():
        key = str(k).replace("-", "_").lower()
        args[key] = (v, lines.get((str(k),)), str(k))
    opt = data.get("optimizer")
    if isinstance(opt, dict):
        okey = next(str(k) for k in data if str(k) == "optimizer")
        params = opt.get("params")
        if isinstance(params, dict):
            for k, v in params.items():
                args["optimizer.params." + str(k).lower()] = (
                    v, lines.get((okey, "params", str(k))), f"optimizer.params.{k}")
        elif params is not None:
            raise DataError(f"{path}:{lines.get((okey, 'params'))}: field 'optimizer.params' must be "
                            f"a mapping (lr, betas, eps); got {type(params).__name__}.")
    elif opt is not None:
        raise DataError(f"{path}:{lines.get(('optimizer',))}: field 'optimizer' must be a mapping "
                        f"(type:, params:); got {type(opt).__name__}.")
    return args


def read(path: str, text: str) -> Draft:
    from hpadvisor.io import yamlio

    data, lines = yamlio.loads(text, source=path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: a GPT-NeoX config must be a mapping of settings, "
                        f"not {type(data).__name__}.")
    args = _flatten(path, data, lines)
    d = Draft(path, "neox")

    def get(key: str) -> tuple[Any, int | None, str] | None:
        a = args.get(key)
        return None if a is None or a[0] is None else a

    a = get("optimizer.params.lr") or get("lr")
    if a is not None:
        d.put("lr", d.number(a[0], a[2], a[1], "pos"), a[2], a[1], a[0])
    for canon, key, kind in _SIMPLE:
        a = get(key)
        if a is not None:
            d.put(canon, d.number(a[0], a[2], a[1], kind), a[2], a[1], a[0])
    a = get("lr_decay_fraction")
    if a is not None and not d.has("decay_steps"):
        d.later("decay_fraction", d.number(a[0], a[2], a[1], "frac"), a[2], a[1], a[0],
                rounding="floor")
    a = get("warmup")
    if a is not None:
        d.later("warmup_fraction", d.number(a[0], a[2], a[1], "frac"), a[2], a[1], a[0],
                base="decay_steps")
    else:
        d.later("warmup_fraction", 0.01, "warmup", None, None, base="decay_steps")
        d.note("warmup not set: GPT-NeoX's default is 0.01 of the decay horizon.")
    a = get("lr_decay_style")
    if a is not None:
        d.put("schedule", d.choice(a[0], a[2], a[1], SCHEDULES), a[2], a[1], a[0])
    a = get("optimizer.params.betas")
    if a is not None:
        betas = a[0]
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise d.bad(a[2], a[1], "a list of two numbers [beta1, beta2]", betas)
        d.put("beta1", d.number(betas[0], a[2], a[1], "beta"), a[2], a[1], betas)
        d.put("beta2", d.number(betas[1], a[2], a[1], "beta"), a[2], a[1], betas)
    a = get("optimizer.params.eps")
    if a is not None:
        d.put("eps", d.number(a[0], a[2], a[1], "pos"), a[2], a[1], a[0])
    a = get("no_weight_tying")
    if a is not None:
        d.put("tied_embeddings", not d.boolean(a[0], a[2], a[1]), a[2], a[1], a[0])
    a = get("activation")
    if a is not None:
        d.put("swiglu", d.text(a[0], a[2], a[1]).lower() in _GATED, a[2], a[1], a[0])
    a = get("use_mup")
    if a is not None:
        d.put("use_mup", d.boolean(a[0], a[2], a[1]), a[2], a[1], a[0])
        if d.val("use_mup"):
            base = get("base_shapes_file") or get("mup_width_scale")
            if base is not None:
                d.put("mup_base_shapes", True, base[2], base[1], base[0])
            else:
                d.put("mup_base_shapes", False, "base_shapes_file", None, None)
    _mlp_width(d, get)
    d.default("schedule", "linear", "lr_decay_style")
    d.default("min_lr", 0.0, "min_lr")
    d.default("weight_decay", 0.01, "weight_decay")
    d.default("beta1", 0.9, "optimizer.params.betas")
    d.default("beta2", 0.999, "optimizer.params.betas")
    d.default("eps", 1e-8, "optimizer.params.eps")
    d.default("grad_clip", 1.0, "gradient_clipping")
    d.default("tied_embeddings", True, "no_weight_tying")
    d.default("swiglu", False, "activation")
    d.default("use_mup", False, "use_mup")
    d.default("wd_on_embeddings", True, "weight_decay")
    d.default("wd_on_norms", False, "weight_decay")
    return d


def _ceil(x: int, multiple: int) -> int:
    return multiple * ((x + multiple - 1) // multiple)


def _mlp_width(d: Draft, get: Any) -> None:
    """Each MLP matrix's width as ParallelMLP builds it (see the module docstring)."""
    size, factor = get("intermediate_size"), get("expansion_factor")
    gated = bool(d.val("swiglu", False))
    if size is not None:
        base, src = d.number(size[0], size[2], size[1], "posint"), size
    elif factor is not None and d.has("d_model"):
        base = int(d.number(factor[0], factor[2], factor[1], "pos") * d.val("d_model"))
        src = factor
    elif d.has("d_model"):
        base, src = 4 * d.val("d_model"), None
    else:
        return
    width = _ceil(int(base * 2 / 3) // 2, 256) if gated else base
    act = ("activation",) if gated else ()
    if src is not None:
        d.put("ffn_hidden", width, src[2], src[1], src[0], derived_from=(src[2], *act) if gated else ())
    else:
        d.put("ffn_hidden", width, "intermediate_size (default 4 x hidden_size)", None, None,
              derived_from=("hidden_size", *act))


# ------------------------------------------------------------------------------------------------
# Writer: a GPT-NeoX YAML fragment.

_OUT = (("min_lr", "min_lr"), ("train_steps", "train_iters"), ("decay_steps", "lr_decay_iters"),
        ("global_batch_seqs", "train_batch_size"), ("micro_batch_seqs", "train_micro_batch_size_per_gpu"),
        ("grad_accum", "gradient_accumulation_steps"), ("seq_len", "seq_length"),
        ("weight_decay", "weight_decay"), ("grad_clip", "gradient_clipping"),
        ("n_layers", "num_layers"), ("d_model", "hidden_size"), ("n_heads", "num_attention_heads"),
        ("n_kv_heads", "num_kv_heads"), ("n_experts", "moe_num_experts"), ("top_k", "moe_top_k"))
_INTS = {"train_steps", "decay_steps", "global_batch_seqs", "micro_batch_seqs", "grad_accum", "seq_len",
         "n_layers", "d_model", "n_heads", "n_kv_heads", "n_experts", "top_k"}
WRITES = {k for k, _ in _OUT} | {"lr", "beta1", "beta2", "eps", "schedule", "warmup_steps", "ffn_hidden",
                                 "tied_embeddings", "swiglu", "use_mup", "data_parallel", "tokens"}


def dump(values: dict[str, Any]) -> str:
    from hpadvisor.formats._common import complete_batch, complete_steps, header, unsupported, whole
    from hpadvisor.io import yamlio

    v = complete_steps(complete_batch(values, "GPT-NeoX"))
    out: dict[str, Any] = {}
    params: dict[str, Any] = {}
    if v.get("lr") is not None:
        params["lr"] = float(v["lr"])
    if v.get("beta1") is not None or v.get("beta2") is not None:
        params["betas"] = [float(v.get("beta1", 0.9)), float(v.get("beta2", 0.999))]
    if v.get("eps") is not None:
        params["eps"] = float(v["eps"])
    if params:
        out["optimizer"] = {"type": "Adam", "params": params}
    for key, name in _OUT:
        if v.get(key) is not None:
            out[name] = whole(v, key, "GPT-NeoX") if key in _INTS else float(v[key])
    if v.get("seq_len") is not None:
        out["max_position_embeddings"] = out["seq_length"]
    if v.get("data_parallel") is not None and v.get("global_batch_seqs") is None:
        raise InvalidInputError("GPT-NeoX states the data-parallel size only through "
                                "train_batch_size = micro x accumulation x data-parallel: give "
                                "micro_batch_seqs and grad_accum too.")
    if v.get("schedule") is not None:
        if v["schedule"] not in SCHEDULES:
            raise unsupported("GPT-NeoX", "schedule", v["schedule"],
                              "its lr_decay_style is one of " + ", ".join(SCHEDULES))
        out["lr_decay_style"] = v["schedule"]
    if v.get("warmup_steps") is not None:
        horizon = v.get("decay_steps", v.get("train_steps"))
        if horizon is None:
            raise InvalidInputError("GPT-NeoX gives warmup as a fraction of the decay horizon: "
                                    "give decay_steps or train_steps with warmup_steps.")
        out["warmup"] = v["warmup_steps"] / horizon
    if v.get("tied_embeddings") is not None:
        out["no_weight_tying"] = not v["tied_embeddings"]
    if v.get("swiglu") is not None:
        out["activation"] = "swiglu" if v["swiglu"] else "gelu"
    if v.get("ffn_hidden") is not None:
        width = whole(v, "ffn_hidden", "GPT-NeoX")
        if v.get("swiglu"):  # ParallelMLP takes 2/3 of intermediate_size and halves it (two fused matrices)
            if width % 256:
                raise unsupported("GPT-NeoX", "ffn_hidden", width,
                                  "its gated MLP width is a multiple of 256 (ceil256(int(2 I / 3) // 2))")
            out["intermediate_size"] = 3 * width
        else:
            out["intermediate_size"] = width
    if v.get("use_mup") is not None:
        out["use_mup"] = bool(v["use_mup"])
    written = WRITES & {k for k, x in v.items() if x is not None}
    return header("GPT-NeoX", values, written) + yamlio.dumps(out)


def mup_fields(plan: Any) -> MupFields:
    """A transfer plan in GPT-NeoX's muP arguments.  NeoX takes `-` or `_` in keys; docs/formats.md
    spells them with `_`.  mup_width_scale is the width factor of mup's *delta* model (default 2), not the
    proxy-to-target multiplier."""
    return MupFields("GPT-NeoX", {
        "use_mup": True,
        "save_base_shapes": False,
        "base_shapes_file": f"base-shapes-{plan.base.width}",
        "mup_init_scale": 1.0,
        "mup_attn_temp": 1.0,
        "mup_output_temp": 1.0,
        "mup_embedding_mult": 1.0,
        "mup_width_scale": 2,
        "hidden_size": plan.target.width,
        "num_layers": plan.target.depth,
        "num_attention_heads": plan.target.n_heads,
        "init_method_std": plan.tuned.init_std,
        "optimizer": {"type": "Adam", "params": {"lr": plan.tuned.lr, "eps": plan.tuned.adam_eps}},
        "weight_decay": plan.tuned.weight_decay,
    }, note=("# GPT-NeoX applies muP through microsoft/mup: first run once with hidden_size "
             f"{plan.base.width} and save_base_shapes: true to write base_shapes_file.\n"))


TRAINER = Trainer(
    key="neox", name="GPT-NeoX", order=20, files="YAML", read=read, dump=dump,
    syntaxes={"yaml": 0, "json": 1},
    markers=frozenset({"train_micro_batch_size_per_gpu", "pipe_parallel_size", "model_parallel_size",
                       "norm", "pos_emb", "gpt_j_residual", "no_weight_tying", "scaled_upper_triang_masked_softmax_fusion",
                       "bias_gelu_fusion", "zero_optimization", "train_batch_size", "gradient_clipping",
                       "partition_activations", "synchronize_each_layer", "output_layer_parallelism",
                       "warmup", "optimizer.params", "tokenizer_type", "data_path", "lr_decay_fraction"}),
    convention="neox",  # its schedule rules: the plan as read (its cosine past the horizon: schedules)
    mup=mup_fields, mup_parameterizations=frozenset({"mup"}),
)
