"""A transfer plan: "tuned at width 256, depth 8" -> per-group settings for the target model.

Input: a proxy (base) shape with the values tuned on it, a target shape, a parameterization
(:mod:`hpadvisor.laws.transfer`).  Output: a :class:`TransferPlan` with one row per parameter
group (lr, init std, forward multiplier, weight decay, Adam eps), the residual-branch multiplier,
the attention-logit scale, and what the parameterization does *not* carry over, each with the
advice of the laws that cover it (square-root batch rule, token-horizon rule, AdamW timescale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from hpadvisor.errors import InvalidInputError, did_you_mean
from hpadvisor.laws.transfer import PARAMETERIZATIONS, StandardParam
from hpadvisor.spec import units

GROUPS = ("embedding", "attn_qkv", "attn_out", "mlp_in", "mlp_out", "norm", "bias", "readout")
MATRIX_GROUPS = ("attn_qkv", "attn_out", "mlp_in", "mlp_out")

#: Groups only the recipe has: the final norm sits outside the residual stack (lr never scales with
#: depth), and a readout bias has no width dimension at all (microsoft/mup: lr and decay x1).
RECIPE_ONLY = ("readout_bias", "final_norm")

#: Regular expressions matching common parameter names to groups, tried in this order
#: (biases early: every group has them).  Used by the framework-neutral recipe.
NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("readout_bias", r"(lm_head|unembed|embed_out|readout|output_layer)\.bias$"),
    ("bias", r"\.bias$"),
    ("final_norm", r"(ln_f|final_layer_?norm|norm_f|final_norm|^(model\.)?norm\.)"),
    ("norm", r"(norm|ln_\d|layernorm|\.ln\d?\.)"),
    # input embeddings, token and position (GPT-2's wpe; Megatron's position_embeddings)
    ("embedding", r"(embed_tokens|embed_in|wte|wpe|tok_embeddings|word_embeddings|position_embeddings|"
                  r"\bembedding\b)"),
    ("readout", r"(lm_head|unembed|embed_out|output\.weight$|output_layer\.weight$|readout)"),
    ("attn_qkv", r"(q_proj|k_proj|v_proj|c_attn|qkv|query_key_value|\.wq\.|\.wk\.|\.wv\.)"),
    ("attn_out", r"(o_proj|attn\.c_proj|attention\.dense|out_proj|linear_proj|\.wo\.)"),
    ("mlp_in", r"(up_proj|gate_proj|c_fc|dense_h_to_4h|\.w1\.|\.w3\.|fc1)"),
    ("mlp_out", r"(down_proj|mlp\.c_proj|dense_4h_to_h|\.w2\.|fc2)"),
)


_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}

#: The JSON contract of `transfer --format json` (docs/transfer.md).  The keys listed
#: here are the contract scripts rely on; further keys may be added, never removed or renamed.
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "hpadvisor transfer plan",
    "type": "object",
    "required": ["parameterization", "base", "target", "groups", "residual_multiplier",
                 "attention_scale", "not_transferred"],
    "properties": {
        "parameterization": {"enum": ["sp", "mup", "mup-sgd", "u-mup", "completep", "depth-mup", "width-wd"]},
        "base": {"type": "object", "required": ["width", "depth", "head_dim", "n_heads", "ffn", "lr",
                                                "init_std", "weight_decay", "adam_eps"]},
        "target": {"type": "object", "required": ["width", "depth", "head_dim", "n_heads", "ffn"]},
        "groups": {  # the eight groups, in this order (2020-12: prefixItems, nothing after them)
            "type": "array", "minItems": len(GROUPS), "items": False,
            "prefixItems": [{
                "type": "object",
                "required": ["group", "lr", "init_std", "multiplier", "weight_decay", "adam_eps"],
                "properties": {"group": {"const": g}, "lr": _NUM, "init_std": _NUM_OR_NULL,
                               "multiplier": _NUM, "weight_decay": _NUM, "adam_eps": _NUM},
            } for g in GROUPS],
        },
        "residual_multiplier": _NUM,
        "attention_scale": _NUM,
        "not_transferred": {
            "type": "array",
            "items": {"type": "object", "required": ["setting", "law", "advice"],
                      "properties": {"setting": {"type": "string"}, "law": {"type": ["string", "null"]},
                                     "advice": {"type": "string"}, "lr_factor": _NUM_OR_NULL}},
        },
    },
}


@dataclass(frozen=True)
class Shape:
    """Width (d_model), depth (layers), head size and MLP size of one model."""

    width: int
    depth: int
    head_dim: int
    ffn: int
    n_heads: int
    #: neither n_heads nor head_dim was given (head size 64 assumed, or one head if 64 does not divide)
    head_dim_assumed: bool = False

    @classmethod
    def of(cls, width: Any, depth: Any, *, n_heads: Any = None, head_dim: Any = None,
           ffn: Any = None, what: str = "model") -> Shape:
        w = _whole(width, f"{what} width")
        d = _whole(depth, f"{what} depth")
        assumed = head_dim is None and n_heads is None
        if assumed:
            head_dim = 64 if w % 64 == 0 else w  # a common head size; plan() says so in its notes
        if head_dim is not None:
            hd = _whole(head_dim, f"{what} head_dim")
            if n_heads is None:
                if w % hd:
                    raise InvalidInputError(
                        f"{what}: head dimension {hd} does not divide width {w}; give n_heads or head_dim."
                    )
                nh = w // hd
            else:
                nh = _whole(n_heads, f"{what} n_heads")
        else:
            nh = _whole(n_heads, f"{what} n_heads")
            if w % nh:
                raise InvalidInputError(
                    f"{what}: {nh} heads do not divide width {w}: head dimension {w / nh:g} is not whole."
                )
            hd = w // nh
        f = _whole(ffn, f"{what} ffn") if ffn is not None else 4 * w
        return cls(width=w, depth=d, head_dim=hd, ffn=f, n_heads=nh, head_dim_assumed=assumed)

    def to_dict(self) -> dict[str, int]:
        return {"width": self.width, "depth": self.depth, "head_dim": self.head_dim,
                "n_heads": self.n_heads, "ffn": self.ffn}


@dataclass(frozen=True)
class Tuned:
    """Values tuned on the proxy (base) run."""

    lr: float
    init_std: float = 0.02
    weight_decay: float = 0.1
    adam_eps: float = 1e-8
    batch_tokens: float | None = None
    tokens: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return dict(vars(self))


@dataclass(frozen=True)
class GroupRow:
    group: str
    lr: float
    init_std: float | None
    multiplier: float
    weight_decay: float
    adam_eps: float
    lr_multiplier: float
    init_multiplier: float | None
    weight_decay_multiplier: float
    adam_eps_multiplier: float
    width_multiplier: float

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class TransferPlan:
    parameterization: str
    optimizer: str
    base: Shape
    target: Shape
    tuned: Tuned
    target_batch_tokens: float | None
    target_tokens: float | None
    width_multiplier: float
    depth_multiplier: float
    groups: tuple[GroupRow, ...]
    residual_multiplier: float
    attention_scale: float
    not_transferred: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()
    #: the recipe's extra rows (RECIPE_ONLY), not part of the JSON `groups`
    recipe_rows: tuple[GroupRow, ...] = ()
    citation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def group(self, name: str) -> GroupRow:
        return next(g for g in self.groups + self.recipe_rows if g.group == name)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (docs: README, `hpadvisor transfer --format json`)."""
        return {
            "parameterization": self.parameterization,
            "optimizer": self.optimizer,
            "base": {**self.base.to_dict(), **self.tuned.to_dict()},
            "target": {**self.target.to_dict(), "batch_tokens": self.target_batch_tokens,
                       "tokens": self.target_tokens},
            "width_multiplier": self.width_multiplier,
            "depth_multiplier": self.depth_multiplier,
            "groups": [g.to_dict() for g in self.groups],
            "residual_multiplier": self.residual_multiplier,
            "attention_scale": self.attention_scale,
            "not_transferred": list(self.not_transferred),
            "notes": list(self.notes),
            "source": self.citation,
        }


#: Largest proxy-to-target factor (width, depth, batch, tokens) a plan is made for: muP's evidence
#: spans ~1e2-1e3x in width; a factor past 1e6 is a unit error (a 1e300 batch overflowed: exit 3).
MAX_RATIO = 1e6
MAX_TOKEN_RATIO = 1e9


def _whole(x: Any, what: str) -> int:
    value = units.parse_quantity(x, name=what, integer=True)[0]
    return int(value)


def parameterization(key: str, optimizer: str = "adamw") -> StandardParam:
    """The parameterization law for ``key`` (muP for SGD when the optimizer is SGD)."""
    norm = key.strip().lower().replace("_", "-")
    norm = {"mup-adam": "mup", "umup": "u-mup", "depthmup": "depth-mup", "standard": "sp"}.get(norm, norm)
    if norm not in PARAMETERIZATIONS:
        raise InvalidInputError(
            f"unknown parameterization '{key}'.{did_you_mean(norm, PARAMETERIZATIONS)}"
        )
    opt = optimizer.strip().lower()
    if opt not in ("adamw", "adam", "sgd"):
        raise InvalidInputError(f"unknown optimizer '{optimizer}'.{did_you_mean(opt, ['adamw', 'adam', 'sgd'])}")
    if opt == "sgd":
        if norm == "mup":
            norm = "mup-sgd"
        elif norm not in ("sp", "mup-sgd"):
            raise InvalidInputError(f"the {norm} rules are stated for Adam; use `optimizer` adamw or `param` mup.")
    elif norm == "mup-sgd":
        raise InvalidInputError("mup-sgd is muP for SGD; with Adam use `param` mup.")
    return PARAMETERIZATIONS[norm]


@dataclass(frozen=True)
class _Multipliers:
    """Target over proxy: width (d_model), depth, MLP size and attention size (heads x head size)."""

    width: float
    depth: float
    ffn: float
    attn: float


def _check_tuned(tuned: Tuned) -> None:
    from hpadvisor.laws.base import positive

    for name, value in (("lr", tuned.lr), ("init_std", tuned.init_std), ("adam_eps", tuned.adam_eps)):
        positive(value, name, "transfer")
    if not (math.isfinite(tuned.weight_decay) and tuned.weight_decay >= 0):
        raise InvalidInputError(f"weight_decay must be >= 0. Got {tuned.weight_decay!r}.")


def _multipliers(base: Shape, target: Shape, tuned: Tuned, target_batch_tokens: float | None,
                 target_tokens: float | None) -> _Multipliers:
    """The shape multipliers; refused when a factor (shape, batch, tokens) is beyond what any
    transfer rule was meant for."""
    m = _Multipliers(width=target.width / base.width, depth=target.depth / base.depth, ffn=target.ffn / base.ffn,
                     attn=(target.n_heads * target.head_dim) / (base.n_heads * base.head_dim))
    ratios = [("width", m.width, MAX_RATIO), ("depth", m.depth, MAX_RATIO), ("MLP size", m.ffn, MAX_RATIO),
              ("attention size", m.attn, MAX_RATIO)]
    for what, value in (("batch", target_batch_tokens), ("batch", tuned.batch_tokens),
                        ("token count", target_tokens), ("token count", tuned.tokens)):
        if value is not None and not (math.isfinite(value) and value >= 1):
            raise InvalidInputError(f"a {what} of {value:.3g} tokens: it is at least one token.")
    if target_batch_tokens is not None and tuned.batch_tokens is not None:
        ratios.append(("batch", target_batch_tokens / tuned.batch_tokens, MAX_RATIO))
    if target_tokens is not None and tuned.tokens is not None:  # a 10M-token proxy for a 15T-token run is 1.5e6x
        ratios.append(("token count", target_tokens / tuned.tokens, MAX_TOKEN_RATIO))
    for what, r, limit in ratios:
        if not (1 / limit <= r <= limit):
            raise InvalidInputError(f"the target's {what} is {r:.3g}x the proxy's: beyond the {limit:.0e}x "
                                    "either way any transfer rule was meant for; check the units.")
    return m


def _shape_notes(law: StandardParam, base: Shape, target: Shape, m: _Multipliers) -> list[str]:
    notes: list[str] = []
    for what, shape in (("proxy", base), ("target", target)):
        if shape.head_dim_assumed:
            notes.append(f"{what}: no n_heads or head_dim given; assumed head size {shape.head_dim}.")
    if m.width < 1 or m.depth < 1:
        notes.append(
            f"the target is smaller than the proxy (width x{m.width:.3g}, depth x{m.depth:.3g}): the rules are "
            "derived for growing models; transferring down is allowed but less tested."
        )
    if law.registry_key in ("sp",) and (m.width != 1 or m.depth != 1):
        notes.append("SP does not transfer: the proxy's lr is not optimal at another width; "
                     "use mup, u-mup or completep to carry it.")
    return notes


def _group_row(law: StandardParam, group: str, tuned: Tuned, m: float, fan_out: float | None,
               m_l: float) -> GroupRow:
    """One group's row: ``m`` its fan-in width multiplier, ``fan_out`` its fan-out one (matrices)."""
    if group in MATRIX_GROUPS:
        if law.registry_key == "mup-sgd":
            lr_m = float(law.matrix_lr_sgd(m, fan_out))
            wd_m = float(law.matrix_wd_sgd(m, fan_out))
        else:
            lr_m, wd_m = float(law.matrix_lr(m, m_l)), float(law.matrix_wd(m, m_l))
        init_m: float | None = float(law.matrix_init(m))
        fwd = float(law.hidden_forward(m))
        eps_m = float(law.matrix_eps(m, m_l))
    elif group == "embedding":
        lr_m, wd_m = float(law.embedding_lr(m)), float(law.embedding_wd(m))
        init_m, fwd, eps_m = 1.0, 1.0, float(law.outer_eps(m))
    elif group == "readout":
        lr_m, wd_m = float(law.readout_lr(m)), float(law.readout_wd(m))
        init_m, fwd, eps_m = 1.0, float(law.readout_mult(m)), float(law.outer_eps(m))
    else:  # norm gains and biases inside the blocks
        lr_m, wd_m = float(law.vector_lr(m, m_l)), float(law.vector_wd(m, m_l))
        init_m, fwd, eps_m = None, 1.0, float(law.vector_eps(m, m_l))
    init_std: float | None
    if law.unit_init() and init_m is not None:
        init_std, init_m = 1.0, 1.0  # u-muP: unit variance everywhere; scale lives in `multiplier`
    else:
        init_std = None if init_m is None else tuned.init_std * init_m
    wd = tuned.weight_decay * wd_m
    if law.vector_weight_decay_is_zero() and group not in MATRIX_GROUPS:
        wd = 0.0
    return GroupRow(
        group=group, lr=tuned.lr * lr_m, init_std=init_std, multiplier=fwd, weight_decay=wd,
        adam_eps=tuned.adam_eps * eps_m, lr_multiplier=lr_m, init_multiplier=init_m,
        weight_decay_multiplier=wd_m, adam_eps_multiplier=eps_m, width_multiplier=m,
    )


def _recipe_rows(law: StandardParam, tuned: Tuned, m_d: float) -> list[GroupRow]:
    """The recipe's extra rows (RECIPE_ONLY): a readout bias (x1) and the final norm (width only)."""
    final_lr, final_wd = float(law.vector_lr(m_d, 1.0)), float(law.vector_wd(m_d, 1.0))
    extra = []
    final_eps = float(law.outer_eps(m_d))
    zero_vector_wd = law.vector_weight_decay_is_zero()
    for group, lr_m, wd_m, eps_m in (("readout_bias", 1.0, 1.0, 1.0), ("final_norm", final_lr, final_wd, final_eps)):
        extra.append(GroupRow(
            group=group, lr=tuned.lr * lr_m, init_std=None, multiplier=1.0,
            weight_decay=0.0 if zero_vector_wd else tuned.weight_decay * wd_m, adam_eps=tuned.adam_eps * eps_m,
            lr_multiplier=lr_m, init_multiplier=None, weight_decay_multiplier=wd_m, adam_eps_multiplier=eps_m,
            width_multiplier=m_d if group == "final_norm" else 1.0,
        ))
    return extra


def _rule_notes(law: StandardParam, rows: list[GroupRow], m: _Multipliers) -> list[str]:
    """What the rows do not say: fixed MLP or attention sizes, zero init, unit init, the final norm,
    PyTorch's weight decay, width-wd's zero decay."""
    notes = []
    if (m.ffn == 1) != (m.width == 1) or (m.attn == 1) != (m.width == 1):
        notes.append("the MLP or attention size stays fixed while the width changes: muP then treats those "
                     "matrices as vector-like (one growing dimension), which these per-group rows do not; "
                     "scale them with the width, as proxies usually do.")
    if law.registry_key in ("mup", "mup-sgd", "completep", "depth-mup", "width-wd"):
        notes.append("muP recommends zero-initialising the readout and the query weights.")
    if law.unit_init():
        notes.append("u-muP: every weight starts at unit variance; the width scaling is in `multiplier`.")
    if law.registry_key in ("completep", "depth-mup"):
        notes.append("the final norm keeps lr x1 (only norms inside the blocks scale with depth).")
    if any(r.weight_decay_multiplier != 1 for r in rows):
        if law.registry_key in ("completep", "depth-mup"):
            notes.append("weight_decay is PyTorch's (each step decays by lr x weight_decay); the hidden "
                         "weights' weight_decay scales with the width (x m), so lr x weight_decay changes "
                         "by the depth factor m_L^(alpha-1).")
        else:
            notes.append("weight_decay is PyTorch's (each step decays by lr x weight_decay): where a rule "
                         "scales the lr it divides weight_decay by the same factor, so the decay per step "
                         "stays at the proxy's (microsoft/mup MuAdam/MuSGD, unit_scaling).")
    if law.vector_weight_decay_is_zero():
        notes.append("width-wd: vector-like parameters (embedding, norms, biases, readout) get weight decay 0.")
    return notes


def plan(
    param: str,
    base: Shape,
    target: Shape,
    tuned: Tuned,
    *,
    optimizer: str = "adamw",
    target_batch_tokens: float | None = None,
    target_tokens: float | None = None,
) -> TransferPlan:
    """Per-group settings for ``target`` from values tuned at ``base``."""
    law = parameterization(param, optimizer)
    _check_tuned(tuned)
    m = _multipliers(base, target, tuned, target_batch_tokens, target_tokens)
    notes = _shape_notes(law, base, target, m)
    fan_in = {"embedding": m.width, "attn_qkv": m.width, "attn_out": m.attn, "mlp_in": m.width,
              "mlp_out": m.ffn, "norm": m.width, "bias": m.width, "readout": m.width}
    fan_out = {"attn_qkv": m.attn, "attn_out": m.width, "mlp_in": m.ffn, "mlp_out": m.width}
    rows = [_group_row(law, group, tuned, fan_in[group], fan_out.get(group), m.depth) for group in GROUPS]
    extra = _recipe_rows(law, tuned, m.width)
    notes += _rule_notes(law, rows, m)
    return TransferPlan(
        parameterization=law.registry_key,
        optimizer=optimizer.lower(),
        base=base,
        target=target,
        tuned=tuned,
        target_batch_tokens=target_batch_tokens,
        target_tokens=target_tokens,
        width_multiplier=m.width,
        depth_multiplier=m.depth,
        groups=tuple(rows),
        residual_multiplier=float(law.residual(m.depth)),
        attention_scale=law.attention_scale_absolute(target.head_dim, base.head_dim),
        not_transferred=tuple(_not_transferred(law, tuned, target_batch_tokens, target_tokens)),
        notes=tuple(notes),
        recipe_rows=tuple(extra),
        citation=law.provenance.citation,
    )


def _not_transferred(law: StandardParam, tuned: Tuned, batch: float | None,
                     tokens: float | None) -> list[dict[str, Any]]:
    """What the parameterization leaves alone, with the other laws' advice where it applies."""
    from hpadvisor.laws.batch import SQRT_BATCH
    from hpadvisor.laws.lr_batch import BJORCK

    out: list[dict[str, Any]] = []
    lr_factor = 1.0
    # (setting, its law, what changes, proxy's value, target's, unit shown, the rule's name, citation)
    for setting, rule, what, proxy, value, unit, name, cite in (
        ("batch size", SQRT_BATCH, "batch", tuned.batch_tokens, batch, " tokens", "the square-root lr rule",
         "sqrt-batch, Malladi et al. 2022"),
        ("token horizon", BJORCK, "tokens", tuned.tokens, tokens, "", "the token-horizon rule",
         "token-horizon rule, Bjorck et al. 2024: (D/D_ref)^-0.32"),
    ):
        k: float | None = None
        if value is None or proxy is None:
            advice = f"give the proxy's and the target's {what} to get {name}'s factor"
        else:
            k = float(rule.lr(1.0, proxy, value))
            lr_factor *= k
            advice = (f"{what} {units.format_si(proxy)} -> {units.format_si(value)}{unit}: "
                      f"multiply every lr by {k:.4g} ({cite})")
        out.append({"setting": setting, "law": rule.key, "lr_factor": k, "advice": advice})
    wd_advice = ("across width the rows keep the parameterization's rule; across batch size and tokens it "
                 "does not transfer (Cerebras muP docs): keep the AdamW timescale tau = B/(eta lambda D) "
                 "(Wang & Aitchison 2024)")
    wd_factor = None
    if batch is not None and tuned.batch_tokens is not None and tokens is not None and tuned.tokens is not None:
        # tau fixed: lambda_t / lambda_b = (B_t/B_b) (eta_b/eta_t) (D_b/D_t), eta from the lr factors
        # above; it multiplies every group's weight_decay on top of the width rule.
        wd_factor = (batch / tuned.batch_tokens) / lr_factor * (tuned.tokens / tokens)
        wd_advice += (f": with the lr factors above, multiply every group's weight_decay by "
                      f"{wd_factor:.3g}")
    out.append({"setting": "weight decay", "law": "adamw-timescale", "lr_factor": None,
                "weight_decay_factor": wd_factor, "advice": wd_advice})
    out.append({"setting": "dropout", "law": None, "lr_factor": None,
                "advice": "does not transfer (Cerebras muP docs); pretraining usually uses 0"})
    out.append({"setting": "warmup and schedule length", "law": "olmo-warmup", "lr_factor": None,
                "advice": "the schedule's shape transfers, its length does not: see `hpadvisor recommend`"})
    return out


def plan_from_values(base: dict[str, Any], target: dict[str, Any], *, param: str = "mup",
                     optimizer: str = "adamw") -> TransferPlan:
    """A plan from plain values: keys width, depth, n_heads, head_dim, ffn (both), and for the
    base lr, init_std, weight_decay, eps, batch_tokens, tokens; for the target batch_tokens, tokens.
    """
    for side, vals in (("proxy", base), ("target", target)):
        missing = [k for k in ("width", "depth") if vals.get(k) is None]
        if missing:
            raise InvalidInputError(
                f"{side}: give its {' and '.join(missing)} (d_model and n_layers, or "
                f"`{'base' if side == 'proxy' else 'target'}['{missing[0]}']`)."
            )
    if base.get("lr") is None:
        raise InvalidInputError("give the learning rate tuned on the proxy (`base['lr']`, or proxy.lr).")
    # An MLP size given on one side only keeps its ratio to the width on the other (the usual
    # proxy set-up); neither given: 4 d_model on both, so the MLP scales with the width.
    b_ffn, t_ffn = base.get("ffn"), target.get("ffn")
    b = Shape.of(base["width"], base["depth"], n_heads=base.get("n_heads"), head_dim=base.get("head_dim"),
                 ffn=b_ffn, what="proxy")
    t = Shape.of(target["width"], target["depth"], n_heads=target.get("n_heads"),
                 head_dim=target.get("head_dim"), ffn=t_ffn, what="target")
    if b_ffn is None and t_ffn is not None:
        b = replace(b, ffn=max(1, round(t.ffn / t.width * b.width)))
    elif t_ffn is None and b_ffn is not None:
        t = replace(t, ffn=max(1, round(b.ffn / b.width * t.width)))

    def real(name: str, v: Any, default: float) -> float:
        if v is None:
            return default
        if not isinstance(v, bool):
            try:
                return float(v)
            except (TypeError, ValueError):
                pass
        raise InvalidInputError(f"proxy {name} = {v!r} is not a number.")

    tuned = Tuned(
        lr=real("lr", base["lr"], 0.0),
        init_std=real("init_std", base.get("init_std") or None, 0.02),
        weight_decay=real("weight_decay", base.get("weight_decay"), 0.1),
        adam_eps=real("eps", base.get("eps") or None, 1e-8),
        batch_tokens=base.get("batch_tokens"),
        tokens=base.get("tokens"),
    )
    return plan(param, b, t, tuned, optimizer=optimizer, target_batch_tokens=target.get("batch_tokens"),
                target_tokens=target.get("tokens"))


def plan_from_spec(spec: Any) -> TransferPlan | None:
    """The transfer section of `recommend`: the run file's `proxy` to its architecture."""
    proxy = spec.proxy
    if not proxy:
        return None
    arch = spec.model.architecture
    if arch is None:
        raise InvalidInputError("a `proxy` section needs the target's model.architecture (width and depth).")
    base = {"width": proxy.get("d_model"), "depth": proxy.get("n_layers"), "n_heads": proxy.get("n_heads"),
            "head_dim": proxy.get("head_dim"), "ffn": proxy.get("ffn_hidden"), "lr": proxy.get("lr"),
            "init_std": proxy.get("init_std"), "weight_decay": proxy.get("weight_decay"),
            "eps": proxy.get("eps"), "batch_tokens": proxy.get("batch"), "tokens": proxy.get("tokens")}
    target = {"width": arch.d_model, "depth": arch.n_layers, "n_heads": arch.n_heads,
              "head_dim": arch.d_head, "ffn": arch.ffn_hidden, "batch_tokens": spec.batch_tokens,
              "tokens": spec.tokens}
    return plan_from_values(base, target, param=proxy.get("parameterization", "mup"),
                            optimizer=spec.optimizer.name)
