"""A transfer plan in trainers' own words: the muP fields of every registered trainer that has them
(``Trainer.mup``: Megatron-LM, GPT-NeoX...), Cerebras' and nanoGPT-mup's field names
(docs/formats.md), and a framework-neutral parameter-group recipe.

Trainers with muP support compute the per-group multipliers themselves from the base shape, so
their snippets set the base shape, the switches, and the *proxy's* (base) learning rate; the
recipe instead lists every group's final values for code that builds its own optimizer groups.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hpadvisor.errors import InvalidInputError, did_you_mean
from hpadvisor.formats.registry import TRAINERS

if TYPE_CHECKING:  # the plan's module (numpy) is imported where a plan is written: the CLI's help reads EMITTERS
    from hpadvisor.transfer.plan import TransferPlan

#: Targets that are not registered trainers (no config of theirs is read): their fields are written here.
_OWN = {"cerebras": frozenset({"mup"}), "nanogpt-mup": frozenset({"mup", "completep", "depth-mup"})}

#: Which parameterizations each target's muP fields can express: the trainers' (``Trainer.mup_parameterizations``)
#: in listing order, then the targets written here.
SUPPORTED: dict[str, frozenset[str]] = {
    **{key: t.mup_parameterizations for key, t in TRAINERS.items() if t.mup is not None}, **_OWN}

EMITTERS = ("yaml", "json", "recipe", *SUPPORTED)


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
    from hpadvisor.transfer.plan import NAME_PATTERNS

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
    trainer = TRAINERS.get(fmt)
    if trainer is not None and trainer.mup is not None:  # a registered trainer's own muP fields
        fields = trainer.mup(plan)
        return _header(plan, fields.title) + fields.note + _yaml(fields.fields)
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
