"""Megatron-LM: a YAML of its arguments, or a launch script's ``--flag value`` lines.

Field names and defaults are those of Megatron-LM's ``megatron/training/arguments.py``; the
schedule conversion follows ``get_optimizer_param_scheduler`` in ``megatron/training/training.py``:

* ``--lr-decay-iters`` defaults to ``--train-iters`` (the horizon is the run unless stated);
* ``--lr-warmup-fraction`` is a fraction of the *decay* horizon, not of the run;
* ``--train-samples`` / ``--lr-decay-samples`` / ``--lr-warmup-samples`` count sequences and
  are divided by the global batch;
* the global batch defaults to micro x data-parallel (no accumulation); the accumulation steps
  are global / (micro x data-parallel);
* no weight decay on biases and 1-D parameters (norm gains); embeddings are decayed;
* embeddings and output layer are tied unless ``--untie-embeddings-and-output-weights``.

Data-parallel size = world size / (tensor x pipeline x context parallel), where the world size is
read from the ``torchrun`` flags ``--nproc_per_node`` x ``--nnodes`` when the script has them.
"""

from __future__ import annotations

from typing import Any

from hpadvisor.errors import DataError, InvalidInputError
from hpadvisor.formats._common import Draft
from hpadvisor.formats.base import TrainerConfig
from hpadvisor.formats.trainer import MupFields, SchedulePlan, Trainer

SCHEDULES = {"constant": "constant", "linear": "linear", "cosine": "cosine",
             "inverse-square-root": "inverse_sqrt", "wsd": "wsd"}
WSD_STYLES = {"exponential": "exponential", "linear": "linear", "cosine": "cosine",
              "minus-sqrt": "1-sqrt"}

#: Megatron defaults (arguments.py) for the fields the rules read.
DEFAULTS = {"lr_decay_style": "linear", "min_lr": 0.0, "weight_decay": 0.01, "adam_beta1": 0.9,
            "adam_beta2": 0.999, "adam_eps": 1e-8, "clip_grad": 1.0, "lr_wsd_decay_style":
            "exponential", "lr_warmup_iters": 0}

# canonical name, Megatron key (underscored), kind
_SIMPLE = (
    ("lr", "lr", "pos"), ("min_lr", "min_lr", "nonneg"), ("train_steps", "train_iters", "posint"),
    ("decay_steps", "lr_decay_iters", "posint"), ("warmup_steps", "lr_warmup_iters", "count"),
    ("warmup_init_lr", "lr_warmup_init", "nonneg"),
    ("wsd_decay_steps", "lr_wsd_decay_iters", "count"),
    ("global_batch_seqs", "global_batch_size", "posint"),
    ("micro_batch_seqs", "micro_batch_size", "posint"), ("seq_len", "seq_length", "posint"),
    ("weight_decay", "weight_decay", "nonneg"), ("beta1", "adam_beta1", "beta"),
    ("beta2", "adam_beta2", "beta"), ("eps", "adam_eps", "pos"), ("grad_clip", "clip_grad", "nonneg"),
    ("d_model", "hidden_size", "posint"), ("n_layers", "num_layers", "posint"),
    ("n_heads", "num_attention_heads", "posint"), ("ffn_hidden", "ffn_hidden_size", "posint"),
    ("vocab_size", "vocab_size", "posint"), ("n_experts", "num_experts", "posint"),
    ("top_k", "moe_router_topk", "posint"), ("moe_ffn_hidden", "moe_ffn_hidden_size", "posint"),
)
_PENDING = (("train_samples", "train_samples"), ("decay_samples", "lr_decay_samples"),
            ("warmup_samples", "lr_warmup_samples"), ("wsd_decay_samples", "lr_wsd_decay_samples"))

Args = dict[str, tuple[Any, int | None, str]]  # key -> (raw value, line, field as written)

#: Every argument ``apply`` reads (a YAML mapping under one of these names is an error, not a section).
_READ = frozenset({key for _, key, _ in _SIMPLE} | {key for _, key in _PENDING} | {
    "lr_warmup_fraction", "lr_decay_style", "lr_wsd_decay_style", "swiglu", "use_mup",
    "untie_embeddings_and_output_weights", "num_query_groups", "group_query_attention", "mup_base_hidden_size",
    "moe_shared_expert_intermediate_size", "rampup_batch_size", "start_weight_decay", "end_weight_decay",
    "nproc_per_node", "nnodes", "tensor_model_parallel_size", "pipeline_model_parallel_size",
    "context_parallel_size"})


def read(path: str, text: str) -> Draft:
    if _is_script(path, text):
        args, notes = _script_args(path, text)
    else:
        args, notes = _yaml_args(path, text)
    d = Draft(path, "megatron")
    for n in notes:
        d.note(n)
    apply(d, args)
    return d


def _is_script(path: str, text: str) -> bool:
    """A launch script or a bash array of flags, by its content whatever its name (``recommend --emit
    megatron > megatron.yaml`` writes flags into a .yaml): a YAML of arguments has no ``--flag`` line."""
    from hpadvisor.formats.shellargs import has_flag_lines

    if path.endswith((".sh", ".bash", ".slurm", ".sbatch")) or text.startswith("#!"):
        return True
    if not has_flag_lines(text):
        return False
    if path.endswith((".yaml", ".yml", ".json")):  # a YAML of arguments may quote flags in a string
        from hpadvisor.io import yamlio

        try:
            return not isinstance(yamlio.loads(text, source=path)[0], dict)
        except DataError:
            return True
    return True


def _script_args(path: str, text: str) -> tuple[Args, list[str]]:
    from hpadvisor.formats.shellargs import parse_flags

    flags, notes = parse_flags(text, path)
    args: Args = {}
    for f in flags:
        if f.key in args and args[f.key][1] != f.line:
            notes.append(f"{f.name} is given twice (lines {args[f.key][1]} and {f.line}); "
                         "the last one wins, as in argparse.")
        if f.words and "$" in f.words[0]:
            notes.append(f"line {f.line}: {f.name} {f.words[0]} is not set in the script; "
                         "its value is unknown.")
            args.pop(f.key, None)
            continue
        value: Any = True if not f.words else f.words[0]
        args[f.key] = (value, f.line, f.name)
    return args, notes


def _yaml_args(path: str, text: str) -> tuple[Args, list[str]]:
    from hpadvisor.formats._common import FieldError, short
    from hpadvisor.io import yamlio

    data, lines = yamlio.loads(text, source=path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: a Megatron-LM YAML must be a mapping of argument names, "
                        f"not {type(data).__name__}.")
    args: Args = {}
    notes: list[str] = []

    # Megatron's --yaml-cfg groups arguments in sections (language_model:, model_parallel:):
    # argument names are unique, so the leaves are read wherever they sit.
    def walk(node: dict[Any, Any], path_: tuple[str, ...]) -> None:
        for k, v in node.items():
            kp = path_ + (str(k),)
            key = str(k).replace("-", "_").lower()
            if isinstance(v, dict) and key in _READ:  # an argument is one value, not a section
                raise FieldError(f"{path}:{lines.get(kp)}: field '{k}' must be a single value, not a mapping; "
                                 f"got {short(v)}. Fix the value in the file.", path=path, fmt="megatron",
                                 field=str(k), line=lines.get(kp), requirement="a single value, not a mapping",
                                 raw=v)
            if isinstance(v, dict):
                walk(v, kp)
                continue
            if key in args:
                notes.append(f"'{key}' appears twice (lines {args[key][1]} and {lines.get(kp)}); "
                             "the first one is read.")
                continue
            args[key] = (v, lines.get(kp), str(k))

    walk(data, ())
    return args, notes


def apply(d: Draft, args: Args) -> None:
    def get(key: str) -> tuple[Any, int | None, str] | None:
        a = args.get(key)
        return None if a is None or a[0] is None else a

    for canon, key, kind in _SIMPLE:
        a = get(key)
        if a is not None:
            d.put(canon, d.number(a[0], a[2], a[1], kind), a[2], a[1], a[0])
    for kind, key in _PENDING:
        a = get(key)
        if a is not None:
            d.later(kind, d.number(a[0], a[2], a[1], "count"), a[2], a[1], a[0])
    a = get("lr_warmup_fraction")
    if a is not None:
        if d.has("warmup_steps") and d.settings["warmup_steps"].line is not None:
            d.note(f"both {d.settings['warmup_steps'].field} and {a[2]} are set; Megatron uses "
                   f"{a[2]} (and refuses the pair at launch).")
            del d.settings["warmup_steps"]
        d.later("warmup_fraction", d.number(a[0], a[2], a[1], "frac"), a[2], a[1], a[0],
                base="decay_steps")
    a = get("lr_decay_style")
    if a is not None:
        d.put("schedule", d.choice(a[0], a[2], a[1], SCHEDULES), a[2], a[1], a[0])
    a = get("lr_wsd_decay_style")
    if a is not None:
        d.put("wsd_decay_style", d.choice(a[0], a[2], a[1], WSD_STYLES), a[2], a[1], a[0])
    for key in ("swiglu", "use_mup"):
        a = get(key)
        if a is not None:
            d.put({"swiglu": "swiglu", "use_mup": "use_mup"}[key], d.boolean(a[0], a[2], a[1]),
                  a[2], a[1], a[0])
    a = get("untie_embeddings_and_output_weights")
    if a is not None:
        d.put("tied_embeddings", not d.boolean(a[0], a[2], a[1]), a[2], a[1], a[0])
    a = get("num_query_groups")
    gqa = get("group_query_attention")
    if a is not None and (gqa is None or d.boolean(gqa[0], gqa[2], gqa[1])):
        d.put("n_kv_heads", d.number(a[0], a[2], a[1], "posint"), a[2], a[1], a[0])
    a = get("mup_base_hidden_size")
    if a is not None:
        d.number(a[0], a[2], a[1], "posint")
        d.put("mup_base_shapes", True, a[2], a[1], a[0])
    if d.val("use_mup") and not d.has("mup_base_shapes"):
        d.put("mup_base_shapes", False, "mup_base_hidden_size", None, None)
    a = get("moe_shared_expert_intermediate_size")
    if a is not None:  # all shared experts together; counted as that many experts of the routed width
        total = d.number(a[0], a[2], a[1], "posint")
        width = d.val("moe_ffn_hidden", d.val("ffn_hidden", 0))
        if width:
            d.put("n_shared_experts", max(1, round(total / width)), a[2], a[1], a[0],
                  derived_from=(a[2], "moe_ffn_hidden_size" if d.has("moe_ffn_hidden") else "ffn_hidden_size"))
            if total % width:
                d.note(f"{a[2]} = {total} is not a multiple of the expert width {width}: counted as "
                       f"{max(1, round(total / width))} shared experts.")
    a = get("rampup_batch_size")
    if a is not None:
        d.note(f"{a[2]} ramps the batch up at the start; the batch checks use the final global batch.")
        iters = get("train_iters")
        if iters is not None:  # validate_args: 'expected no batch-size rampup for iteration-based training'
            d.put("trainer_refuses", f"Megatron refuses {a[2]} with iteration-based training ({iters[2]}): give "
                  "the run in samples (train_samples) or drop the rampup", a[2], a[1], a[0])
    for key in ("start_weight_decay", "end_weight_decay"):
        a = get(key)
        if a is not None:
            d.note(f"{a[2]} = {a[0]}: weight decay changes during the run; "
                   "weight_decay is the value checked.")
    _data_parallel(d, args)
    _defaults(d)


def _defaults(d: Draft) -> None:
    """Megatron's defaults for what the file leaves out."""
    d.default("schedule", "linear", "lr_decay_style")
    d.default("min_lr", 0.0, "min_lr")
    if d.val("schedule") == "wsd":
        d.default("wsd_decay_style", "exponential", "lr_wsd_decay_style")
    if "warmup_fraction" not in d.pending and "warmup_samples" not in d.pending:
        d.default("warmup_steps", 0, "lr_warmup_iters")
    d.default("weight_decay", 0.01, "weight_decay")
    d.default("beta1", 0.9, "adam_beta1")
    d.default("beta2", 0.999, "adam_beta2")
    d.default("eps", 1e-8, "adam_eps")
    d.default("grad_clip", 1.0, "clip_grad")
    d.default("tied_embeddings", True, "untie_embeddings_and_output_weights")
    d.default("swiglu", False, "swiglu")
    d.default("use_mup", False, "use_mup")
    d.default("wd_on_embeddings", True, "weight_decay")
    d.default("wd_on_norms", False, "weight_decay")


def _data_parallel(d: Draft, args: Args) -> None:
    """dp = world / (tp x pp x cp), the world from torchrun's flags when present."""
    nproc = args.get("nproc_per_node")
    if nproc is None:
        return
    nnodes = args.get("nnodes")
    try:
        world = d.number(nproc[0], nproc[2], nproc[1], "posint")
        if nnodes is not None:
            world *= d.number(nnodes[0], nnodes[2], nnodes[1], "posint")
    except ValueError:
        d.note("the torchrun world size is not a plain number; data-parallel size unknown.")
        return
    model_par = 1
    used = [nproc[2]] + ([nnodes[2]] if nnodes else [])
    for key in ("tensor_model_parallel_size", "pipeline_model_parallel_size", "context_parallel_size"):
        a = args.get(key)
        if a is not None:
            model_par *= d.number(a[0], a[2], a[1], "posint")
            used.append(a[2])
    if world % model_par:
        d.note(f"world size {world} is not divisible by tp x pp x cp = {model_par}.")
        if not d.has("trainer_refuses"):  # initialize: the world size must split into model-parallel groups
            d.put("trainer_refuses", f"the world size {world} is not divisible by tensor x pipeline x context "
                  f"parallel = {model_par}: Megatron cannot form its model-parallel groups", nproc[2], nproc[1],
                  nproc[0])
        return
    field = " x ".join(used[: 2 if nnodes else 1])
    if len(used) > (2 if nnodes else 1):
        field += " / (" + " x ".join(used[2 if nnodes else 1:]) + ")"
    d.put("data_parallel", world // model_par, field, None, None, tuple(used))


# ------------------------------------------------------------------------------------------------
# Writer: a bash array of flags to paste into the launch script.

_FLAGS = (  # canonical, flag, whole number?
    ("lr", "--lr", False), ("min_lr", "--min-lr", False), ("train_steps", "--train-iters", True),
    ("decay_steps", "--lr-decay-iters", True), ("warmup_steps", "--lr-warmup-iters", True),
    ("wsd_decay_steps", "--lr-wsd-decay-iters", True),
    ("global_batch_seqs", "--global-batch-size", True), ("micro_batch_seqs", "--micro-batch-size", True),
    ("seq_len", "--seq-length", True), ("weight_decay", "--weight-decay", False),
    ("beta1", "--adam-beta1", False), ("beta2", "--adam-beta2", False), ("eps", "--adam-eps", False),
    ("grad_clip", "--clip-grad", False), ("n_layers", "--num-layers", True),
    ("d_model", "--hidden-size", True), ("ffn_hidden", "--ffn-hidden-size", True),
    ("n_heads", "--num-attention-heads", True), ("vocab_size", "--vocab-size", True),
    ("n_experts", "--num-experts", True), ("top_k", "--moe-router-topk", True),
    ("moe_ffn_hidden", "--moe-ffn-hidden-size", True),
)
_SCHED_OUT = {"constant": "constant", "linear": "linear", "cosine": "cosine",
              "inverse_sqrt": "inverse-square-root", "wsd": "WSD"}
_WSD_OUT = {"exponential": "exponential", "linear": "linear", "cosine": "cosine", "1-sqrt": "minus_sqrt"}
#: What a Megatron snippet can state (the rest is the launcher's or Megatron's fixed behaviour).
WRITES = {k for k, _, _ in _FLAGS} | {"schedule", "wsd_decay_style", "n_kv_heads", "swiglu", "n_shared_experts",
                                       "tied_embeddings", "use_mup", "tokens"}


def dump(values: dict[str, Any]) -> str:
    from hpadvisor.formats._common import complete_steps, header, num_text, unsupported, whole

    v = complete_steps(values)
    lines: list[str] = []
    for key, flag, integer in _FLAGS:
        if v.get(key) is not None:
            lines.append(f"{flag} {whole(v, key, 'Megatron-LM') if integer else num_text(v[key])}")
    if v.get("seq_len") is not None:
        lines.append(f"--max-position-embeddings {whole(v, 'seq_len', 'Megatron-LM')}")
    if v.get("schedule") is not None:
        if v["schedule"] not in _SCHED_OUT:
            raise unsupported("Megatron-LM", "schedule", v["schedule"],
                              "its --lr-decay-style is one of " + ", ".join(_SCHED_OUT))
        lines.append(f"--lr-decay-style {_SCHED_OUT[v['schedule']]}")
    if v.get("wsd_decay_style") is not None:
        if v["wsd_decay_style"] not in _WSD_OUT:
            raise unsupported("Megatron-LM", "wsd_decay_style", v["wsd_decay_style"],
                              "its --lr-wsd-decay-style is one of " + ", ".join(_WSD_OUT))
        lines.append(f"--lr-wsd-decay-style {_WSD_OUT[v['wsd_decay_style']]}")
    if v.get("n_shared_experts"):
        width = v.get("moe_ffn_hidden") or v.get("ffn_hidden")
        if width is None:
            raise InvalidInputError("Megatron-LM states shared experts as their total width "
                                    "(--moe-shared-expert-intermediate-size): give moe_ffn_hidden or ffn_hidden.")
        lines.append(f"--moe-shared-expert-intermediate-size {whole(v, 'n_shared_experts', 'Megatron-LM') * int(width)}")
    if v.get("n_kv_heads") is not None:
        lines += ["--group-query-attention",
                  f"--num-query-groups {whole(v, 'n_kv_heads', 'Megatron-LM')}"]
    if v.get("swiglu"):
        lines.append("--swiglu")
    if v.get("tied_embeddings") is False:
        lines.append("--untie-embeddings-and-output-weights")
    if v.get("use_mup"):
        lines.append("--use-mup")
    written = WRITES & {k for k, x in v.items() if x is not None}
    notes = ""
    if v.get("data_parallel") is not None:
        notes = (f"# data-parallel size {v['data_parallel']} comes from the launcher: world size / "
                 "(tensor x pipeline x context parallel).\n")
    body = "\n".join(f"    {line}" for line in lines)
    return (header("Megatron-LM", values, written | {"data_parallel", "grad_accum"}) + notes
            + f"HPADVISOR_ARGS=(\n{body}\n)\n")


def schedule_rules(plan: SchedulePlan, cfg: TrainerConfig, notes: list[str]) -> None:
    """get_lr returns min_lr past lr_decay_steps before its inverse-square-root branch."""
    if plan.shape == "inverse_sqrt":
        horizon = cfg.steps("decay_steps", plan.total)
        plan.horizon = plan.total if horizon is None else int(horizon)
        if plan.horizon < plan.warmup:
            plan.horizon = plan.total  # a horizon inside the warmup: the decay never starts


def mup_fields(plan: Any) -> MupFields:
    """A transfer plan in Megatron-LM's muP arguments."""
    return MupFields("Megatron-LM muP fields", {
        "use_mup": True,
        "mup_base_hidden_size": plan.base.width,
        "mup_base_head_dim": plan.base.head_dim,
        "mup_embedding_mult": 1.0,
        "mup_output_mult": 1.0,
        "mup_attn_scale_power": 1.0,  # 1/d_head^1 instead of 1/d_head^0.5
        "hidden_size": plan.target.width,
        "num_layers": plan.target.depth,
        "lr": plan.tuned.lr,  # the proxy's lr: the trainer divides hidden-weight lr by the multiplier
        "init_method_std": plan.tuned.init_std,
        "weight_decay": plan.tuned.weight_decay,
        "adam_eps": plan.tuned.adam_eps,
    })


TRAINER = Trainer(
    key="megatron", name="Megatron-LM", order=10, files="YAML or launch script", read=read, dump=dump,
    syntaxes={"shell": 0, "yaml": 1, "json": 2},
    markers=frozenset({"tensor_model_parallel_size", "pipeline_model_parallel_size", "micro_batch_size",
                       "global_batch_size", "lr_warmup_iters", "lr_warmup_fraction", "lr_warmup_samples",
                       "train_samples", "lr_decay_samples",
                       "untie_embeddings_and_output_weights", "num_query_groups", "clip_grad",
                       "adam_beta2", "lr_wsd_decay_style", "swiglu", "use_distributed_optimizer",
                       "language_model", "model_parallel", "ffn_hidden_size"}),
    convention="megatron", schedule_rules=schedule_rules,
    mup=mup_fields, mup_parameterizations=frozenset({"mup"}),
)
