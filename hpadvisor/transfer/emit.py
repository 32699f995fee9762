"""A transfer plan in trainers' own words: Megatron-LM, GPT-NeoX, Cerebras, nanoGPT-mup field
names (docs/formats.md), and a framework-neutral parameter-group recipe.

Trainers with muP support compute the per-group multipliers themselves from the base shape, so
their snippets set the base shape, the switches, and the *proxy's* (base) learning rate; the
recipe instead lists every group's final values for code that builds its own optimizer groups.
"""

from __future__ import annotations

import math
from typing import Any

from hpadvisor.errors import InvalidInputError, did_you_mean
from hpadvisor.transfer.plan import NAME_PATTERNS, TransferPlan

EMITTERS = ("yaml", "json", "recipe", "megatron", "neox", "cerebras", "nanogpt-mup")

#: Which parameterizations each trainer's muP fields can express.
SUPPORTED = {
    "megatron": {"mup"},
    "neox": {"mup"},
    "cerebras": {"mup"},
    "nanogpt-mup": {"mup", "completep", "depth-mup"},
}


def _yaml(data: Any) -> str:
    from hpadvisor.io import yamlio

    return yamlio.dumps(data)


def _header(plan: TransferPlan, trainer: str) -> str:
    return (f"# hpadvisor transfer: {plan.parameterization} from width {plan.base.width} / depth "
            f"{plan.base.depth} to width {plan.target.width} / depth {plan.target.depth} ({trainer}).\n"
            f"# width multiplier {plan.width_multiplier:g}, depth multiplier {plan.depth_multiplier:g}. "
            f"Source: {plan.citation}\n")


def recipe(plan: TransferPlan) -> dict[str, Any]:
    """Name pattern -> final lr, init std, weight decay, eps and forward multiplier per group."""
    rows = []
    for group, pattern in NAME_PATTERNS:
        g = plan.group(group)
        rows.append({"group": group, "pattern": pattern, "lr": g.lr, "init_std": g.init_std,
                     "weight_decay": g.weight_decay, "eps": g.adam_eps, "forward_multiplier": g.multiplier})
    return {
        "parameterization": plan.parameterization,
        "match": "first pattern that matches the parameter's name (re.search), in this order",
        "groups": rows,
        "residual_multiplier": plan.residual_multiplier,
        "attention_scale": plan.attention_scale,
    }


def emit(plan: TransferPlan, fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt not in EMITTERS:
        raise InvalidInputError(f"unknown `fmt` '{fmt}'.{did_you_mean(fmt, EMITTERS)}")
    if fmt == "json":
        import json

        return json.dumps(plan.to_dict(), indent=2) + "\n"
    if fmt == "yaml":
        return _yaml(plan.to_dict())
    if fmt == "recipe":
        return _header(plan, "parameter-group recipe") + _yaml(recipe(plan))
    if plan.parameterization not in SUPPORTED[fmt]:
        raise InvalidInputError(
            f"{fmt} has no fields for {plan.parameterization} (it supports "
            f"{', '.join(sorted(SUPPORTED[fmt]))}); use `fmt` recipe for per-group values."
        )
    depth_rule = plan.parameterization in ("completep", "depth-mup")
    alpha = {"completep": 1.0, "depth-mup": 0.5}.get(plan.parameterization)
    if fmt == "megatron":
        data = {
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
        }
        return _header(plan, "Megatron-LM muP fields") + _yaml(data)
    if fmt == "neox":
        # NeoX takes `-` or `_` in keys; docs/formats.md spells them with `_`.  mup_width_scale is
        # the width factor of mup's *delta* model (default 2), not the proxy-to-target multiplier.
        data = {
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
        }
        return (_header(plan, "GPT-NeoX") +
                "# GPT-NeoX applies muP through microsoft/mup: first run once with hidden_size "
                f"{plan.base.width} and save_base_shapes: true to write base_shapes_file.\n" + _yaml(data))
    if fmt == "cerebras":
        data = {
            "model": {
                "hidden_size": plan.target.width,
                "num_hidden_layers": plan.target.depth,
                "filter_size": plan.target.ffn,
                "mup_base_hidden_size": plan.base.width,
                "mup_base_filter_size": plan.base.ffn,
                "embeddings_scale": 1.0,
                "output_logits_alpha": 1.0,
                "scale_qk_dot_by_d": True,
                "scale_output_logits_by_d": True,
                "initializer_range": plan.tuned.init_std,
            },
            "optimizer": {"learning_rate": plan.tuned.lr, "weight_decay": plan.tuned.weight_decay},
        }
        return (_header(plan, "Cerebras Model Zoo") + _eps_note(plan, "its optimizer's eps field is not written here")
                + _yaml(data))
    # nanoGPT-mup (EleutherAI, the CompleteP authors' code): a Python override file of `key = value`
    # lines.  Its configure_optimizers applies the per-group factors itself; note that its muP
    # branch also divides every group's Adam eps by mup_width_multiplier (microsoft/mup does not)
    # and gives norms and biases weight decay 0.
    lines = [
        "mup_enabled = True",
        f"mup_width_multiplier = {plan.width_multiplier!r}",
        "mup_input_alpha = 1.0",
        "mup_output_alpha = 1.0",
        f"n_embd = {plan.target.width}",
        f"n_layer = {plan.target.depth}",
        f"n_head = {plan.target.n_heads}",
        f"learning_rate = {plan.tuned.lr!r}  # the proxy's lr: the trainer scales it per group",
        f"init_std = {plan.tuned.init_std!r}",
        f"weight_decay = {plan.tuned.weight_decay!r}",
    ]
    if depth_rule:
        lines += ["depth_alpha_enabled = True", f"depth_multiplier = {plan.depth_multiplier!r}",
                  f"depth_alpha_exp = {alpha!r}"]
    note = ("# nanoGPT-mup gives norms and biases weight decay 0" +
            ("; its muP branch also divides every group's Adam eps by mup_width_multiplier, and keeps the\n"
             "# hidden weights' weight_decay while it divides their lr by the multiplier (so lr x weight_decay\n"
             "# falls by it; this plan's muP rows multiply weight_decay by it instead, as microsoft/mup's MuAdam).\n"
             if not depth_rule else ".\n"))
    note += _eps_note(plan, "nanoGPT-mup's AdamW takes no eps setting; torch's default is 1e-8")
    return _header(plan, "nanoGPT-mup override file") + note + "\n".join(lines) + "\n"


def _eps_note(plan: TransferPlan, why: str) -> str:
    """A comment when the proxy's Adam eps is not the trainer's default and the snippet cannot set it."""
    if math.isclose(plan.tuned.adam_eps, 1e-8, rel_tol=1e-9):
        return ""
    return f"# Adam eps: the proxy's {plan.tuned.adam_eps:g} is not written ({why}): set it yourself.\n"
