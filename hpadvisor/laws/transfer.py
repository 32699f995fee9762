"""Parameterizations for carrying tuned hyperparameters from a small proxy to the target model.

m = fan-in width multiplier of a parameter group (d / d_base for most; ffn / ffn_base for the MLP
output), m_L = depth multiplier (n_layers / n_layers_base).  Every function returns a
multiplier relative to the proxy run under the same parameterization, so at the base shape every
multiplier is 1 (microsoft/mup's invariant: the muP model equals the standard one at the base).

Group kinds (Yang et al. 2022, Tensor Programs V, table 3): *matrix-like* weights have both
dimensions growing with width (attention q/k/v/o, MLP in/out); *vector-like* have one (token
embedding, norm gains, biases, and the readout, whose fan-out is the fixed vocabulary).

Weight-decay convention: the multipliers are for PyTorch's ``weight_decay`` (AdamW decays by
lr x weight_decay per step; SGD's is an L2 term, also applied times lr).  microsoft/mup 1.0.0's
MuAdam and MuSGD, and unit_scaling's independent weight decay, divide weight_decay by whatever
multiplies the lr, so lr x weight_decay -- the decay per step -- stays at the proxy's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hpadvisor.laws.base import Input, Law, Output, Provenance, positive

_M = Input("fan-in width multiplier of the group, d / d_base", "ratio", "width_multiplier")
_ML = Input("depth multiplier, n_layers / n_layers_base", "ratio", "depth_multiplier")
_H = Input("head-dimension multiplier, d_head / d_head_base", "ratio", "head_dim_multiplier")

_OUTPUTS = {
    "hidden_lr_multiplier": Output("matrix_lr", "ratio", "lr of matrix-like (hidden) weights"),
    "hidden_init_multiplier": Output("matrix_init", "ratio", "init std of hidden weights"),
    "residual_multiplier": Output("residual", "ratio", "residual-branch multiplier"),
    "readout_multiplier": Output("readout_mult", "ratio", "forward multiplier of the output logits"),
    "attention_scale_multiplier": Output("attention_scale", "ratio", "attention-logit scale"),
}


def _one(x):
    return np.ones_like(np.asarray(x, dtype=float))


@dataclass(frozen=True)
class StandardParam(Law):
    """SP: nothing is rescaled; the no-transfer baseline (attention logits / sqrt(d_head))."""

    key = "sp"
    title = "Standard parameterization (no transfer)"
    formula = "every multiplier 1; attention scale 1/sqrt(d_head)"
    inputs = {"m": _M, "m_L": _ML, "h": _H}
    outputs = _OUTPUTS

    # -- matrix-like (hidden) weights -----------------------------------------------------------
    def matrix_lr(self, m, m_L):
        return _one(positive(m, "m", f"{self.key}.matrix_lr") * positive(m_L, "m_L", f"{self.key}.matrix_lr"))

    def matrix_init(self, m):
        return _one(positive(m, "m", f"{self.key}.matrix_init"))

    def matrix_wd(self, m, m_L):
        return _one(positive(m, "m", f"{self.key}.matrix_wd") * positive(m_L, "m_L", f"{self.key}.matrix_wd"))

    def matrix_eps(self, m, m_L):
        return _one(positive(m, "m", f"{self.key}.matrix_eps") * positive(m_L, "m_L", f"{self.key}.matrix_eps"))

    def matrix_lr_sgd(self, m_in, m_out):
        return _one(positive(m_in, "m_in", f"{self.key}.matrix_lr_sgd") * positive(m_out, "m_out", f"{self.key}.matrix_lr_sgd"))

    def matrix_wd_sgd(self, m_in, m_out):
        return _one(positive(m_in, "m_in", f"{self.key}.matrix_wd_sgd") * positive(m_out, "m_out", f"{self.key}.matrix_wd_sgd"))

    # -- vector-like ----------------------------------------------------------------------------
    def vector_lr(self, m, m_L):
        """lr of norm gains and biases inside the blocks."""
        return _one(positive(m, "m", f"{self.key}.vector_lr") * positive(m_L, "m_L", f"{self.key}.vector_lr"))

    def embedding_lr(self, m):
        return _one(positive(m, "m", f"{self.key}.embedding_lr"))

    def readout_lr(self, m):
        return _one(positive(m, "m", f"{self.key}.readout_lr"))

    def readout_mult(self, m):
        return _one(positive(m, "m", f"{self.key}.readout_mult"))

    # weight_decay multipliers of the vector-like groups (the matrix ones are matrix_wd)
    def vector_wd(self, m, m_L):
        return _one(positive(m, "m", f"{self.key}.vector_wd") * positive(m_L, "m_L", f"{self.key}.vector_wd"))

    def embedding_wd(self, m):
        return _one(positive(m, "m", f"{self.key}.embedding_wd"))

    def readout_wd(self, m):
        return _one(positive(m, "m", f"{self.key}.readout_wd"))

    # Adam epsilon of the norms and biases inside the blocks, and of the parameters outside the
    # residual stack (embedding, readout, final norm); the hidden matrices' is matrix_eps
    def vector_eps(self, m, m_L):
        return _one(positive(m, "m", f"{self.key}.vector_eps") * positive(m_L, "m_L", f"{self.key}.vector_eps"))

    def outer_eps(self, m):
        return _one(positive(m, "m", f"{self.key}.outer_eps"))

    def unit_init(self) -> bool:
        """True when every weight starts at unit variance (u-muP): init is not carried over."""
        return False

    def hidden_forward(self, m):
        """Forward multiplier of hidden linear layers (u-muP moves init scale here)."""
        return _one(positive(m, "m", f"{self.key}.hidden_forward"))

    def vector_weight_decay_is_zero(self) -> bool:
        return False

    # -- block-level -----------------------------------------------------------------------------
    def residual(self, m_L):
        return _one(positive(m_L, "m_L", f"{self.key}.residual"))

    def attention_scale(self, h):
        # 1/sqrt(d_head): relative to the base, (d_head / d_head_base)^-1/2.
        return positive(h, "h", f"{self.key}.attention_scale") ** -0.5

    def attention_scale_absolute(self, d_head, d_head_base):
        return float(d_head_base) ** -0.5 * float(self.attention_scale(d_head / d_head_base))


SP = StandardParam(
    provenance=Provenance(
        citation="standard parameterization (Vaswani et al. 2017 attention scale): the baseline",
        source="definition",
        notes="Tuned values do not transfer across width under SP: the optimal lr drifts.",
    )
)


@dataclass(frozen=True)
class MuPAdam(StandardParam):
    """muP for Adam (Yang et al. 2022, table 3; microsoft/mup MuAdam, MuReadout).

    Matrix-like: lr / m, init std / sqrt(m) (variance / m), PyTorch weight decay x m (MuAdam).
    Vector-like (embedding, norms, biases, readout weight): lr and init unchanged.
    Readout logits x 1/m (MuReadout: output_mult * x / width_mult); attention logits scaled by
    1/d_head instead of 1/sqrt(d_head) (mup's 8/d_head matches SP at d_head 64).
    """

    key = "mup"
    title = "muP for Adam (Yang et al. 2022)"
    formula = "hidden lr x 1/m, hidden init std x m^-1/2, readout x 1/m, attention 1/d_head"

    def matrix_lr(self, m, m_L):
        positive(m_L, "m_L", f"{self.key}.matrix_lr")
        return 1.0 / positive(m, "m", f"{self.key}.matrix_lr")

    def matrix_init(self, m):
        return positive(m, "m", f"{self.key}.matrix_init") ** -0.5

    def matrix_wd(self, m, m_L):
        return 1.0 / self.matrix_lr(m, m_L)  # keeps lr x weight_decay, as MuAdam does

    def readout_mult(self, m):
        return 1.0 / positive(m, "m", f"{self.key}.readout_mult")

    def attention_scale(self, h):
        # 1/d_head instead of 1/sqrt(d_head), matched to SP at the base head size.
        return 1.0 / positive(h, "h", f"{self.key}.attention_scale")


_MUP_PROVENANCE: dict[str, Any] = dict(
    citation="Yang et al. 2022, Tensor Programs V: Tuning Large Neural Networks via Zero-Shot "
    "Hyperparameter Transfer (arXiv:2203.03466), table 3",
    source="microsoft/mup (MuAdam, MuSGD, MuReadout, set_base_shapes)",
)
_MUP_CHECKED = ("microsoft/mup: on tiny transformers, every parameter's lr and weight decay from {opt} "
                "equal this law's (a test that runs where torch and mup are installed).")
MUP = MuPAdam(provenance=Provenance(**_MUP_PROVENANCE,
                                    notes="Zero-init of the readout and the query weights is recommended.",
                                    checked_against=_MUP_CHECKED.format(opt="MuAdam")))


@dataclass(frozen=True)
class MuPSGD(MuPAdam):
    """muP for SGD (microsoft/mup MuSGD): vector-like lr x m; matrix-like lr x fan_out/fan_in mult.

    MuSGD divides weight_decay by the same factor (vector-like / m, matrix-like x fan_in/fan_out).
    """

    key = "mup-sgd"
    title = "muP for SGD (Yang et al. 2022)"
    formula = "vector-like lr x m; matrix-like lr x m_out/m_in; init and readout as muP"

    def matrix_lr(self, m, m_L):
        # For a square hidden matrix (fan_in and fan_out both x m) the ratio is 1.
        positive(m_L, "m_L", f"{self.key}.matrix_lr")
        return _one(positive(m, "m", f"{self.key}.matrix_lr"))

    def matrix_lr_sgd(self, m_in, m_out):
        return positive(m_out, "m_out", f"{self.key}.matrix_lr_sgd") / positive(
            m_in, "m_in", f"{self.key}.matrix_lr_sgd")

    def matrix_wd(self, m, m_L):
        return _one(positive(m, "m", f"{self.key}.matrix_wd"))

    def matrix_wd_sgd(self, m_in, m_out):
        return 1.0 / self.matrix_lr_sgd(m_in, m_out)

    def vector_lr(self, m, m_L):
        positive(m_L, "m_L", f"{self.key}.vector_lr")
        return positive(m, "m", f"{self.key}.vector_lr") * 1.0

    def vector_wd(self, m, m_L):
        return 1.0 / self.vector_lr(m, m_L)

    def embedding_wd(self, m):
        return 1.0 / self.embedding_lr(m)

    def readout_wd(self, m):
        return 1.0 / self.readout_lr(m)

    def embedding_lr(self, m):
        return positive(m, "m", f"{self.key}.embedding_lr") * 1.0

    def readout_lr(self, m):
        return positive(m, "m", f"{self.key}.readout_lr") * 1.0


MUP_SGD = MuPSGD(provenance=Provenance(**_MUP_PROVENANCE, checked_against=_MUP_CHECKED.format(opt="MuSGD")))


@dataclass(frozen=True)
class UnitMuP(StandardParam):
    """u-muP (Blake et al. 2024; graphcore-research/unit-scaling): unit-variance init, the scales
    move into the forward pass.

    Hidden linear forward x fan_in^-1/2, readout x fan_in^-1.  Adam lr (unit_scaling's
    ``lr_scale_func_adam``): every "weight" x fan_in^-1/2 -- the hidden matrices and the token
    embedding, whose fan-in there is d_model -- times depth^-1/2 inside the residual stack;
    norms and biases inside the stack x depth^-1/2; readout x 1.  Residual branches x depth^-1/2
    (to leading order: unit_scaling's transformer rule also spreads a tunable residual_mult).
    Weight decay is independent of the lr: PyTorch weight_decay / (lr multiplier), every group.
    """

    key = "u-mup"
    title = "u-muP (Blake et al. 2024)"
    formula = "unit init; hidden forward x m^-1/2; hidden lr x m^-1/2 m_L^-1/2; readout x 1/m; residual x m_L^-1/2"

    def matrix_lr(self, m, m_L):
        m = positive(m, "m", f"{self.key}.matrix_lr")
        return m**-0.5 * positive(m_L, "m_L", f"{self.key}.matrix_lr") ** -0.5

    def matrix_wd(self, m, m_L):
        return 1.0 / self.matrix_lr(m, m_L)  # independent weight decay: lr x wd fixed

    def vector_lr(self, m, m_L):
        positive(m, "m", f"{self.key}.vector_lr")
        return positive(m_L, "m_L", f"{self.key}.vector_lr") ** -0.5

    def vector_wd(self, m, m_L):
        return 1.0 / self.vector_lr(m, m_L)

    def embedding_lr(self, m):
        return positive(m, "m", f"{self.key}.embedding_lr") ** -0.5

    def embedding_wd(self, m):
        return 1.0 / self.embedding_lr(m)

    def hidden_forward(self, m):
        return positive(m, "m", f"{self.key}.hidden_forward") ** -0.5

    def readout_mult(self, m):
        return 1.0 / positive(m, "m", f"{self.key}.readout_mult")

    def unit_init(self) -> bool:
        return True

    def residual(self, m_L):
        return positive(m_L, "m_L", f"{self.key}.residual") ** -0.5

    def attention_scale(self, h):
        return 1.0 / positive(h, "h", f"{self.key}.attention_scale")


UMUP = UnitMuP(
    provenance=Provenance(
        citation="Blake et al. 2024, u-muP: The Unit-Scaled Maximal Update Parametrization "
        "(arXiv:2407.17465)",
        source="graphcore-research/unit-scaling (unit_scaling.optim.lr_scale_func_adam, "
        "scaled_parameters with independent_weight_decay)",
        notes="The embedding's lr scales as d^-1/2 in the reference implementation (the paper's "
        "summary lists only the hidden, bias, norm and output rules).",
        checked_against="graphcore-research/unit-scaling: on tiny transformers, every parameter's "
        "lr and weight-decay ratio equals lr_scale_func_adam's (a test that runs where torch and "
        "unit-scaling are installed).",
    )
)


@dataclass(frozen=True)
class CompleteP(MuPAdam):
    """Depth-aware muP: residual branches x m_L^-alpha (Dey et al. 2025; Bordelon et al. 2023).

    alpha = 1 is CompleteP, alpha = 1/2 depth-muP.  On top of muP's width rules:
    hidden-weight lr x m^-1 m_L^(alpha-1); hidden norm and bias lr x m_L^(alpha-1); hidden
    weight decay x m; Adam eps x m^-1 m_L^-alpha for everything inside the blocks and x m^-1 for
    the embedding, readout and final norm (the authors' reference code, EleutherAI/nanoGPT-mup,
    after its January 2025 fix following the paper's equation 40); embedding and final norm lr x 1.
    """

    key = "completep"
    title = "CompleteP (Dey et al. 2025), alpha = 1"
    formula = "residual x m_L^-a; hidden lr x m^-1 m_L^(a-1); hidden eps x m^-1 m_L^-a"

    alpha: float = 1.0

    def matrix_lr(self, m, m_L):
        m = positive(m, "m", f"{self.key}.matrix_lr")
        return m**-1.0 * positive(m_L, "m_L", f"{self.key}.matrix_lr") ** (self.alpha - 1.0)

    def matrix_wd(self, m, m_L):
        positive(m_L, "m_L", f"{self.key}.matrix_wd")
        return positive(m, "m", f"{self.key}.matrix_wd") * 1.0

    def matrix_eps(self, m, m_L):
        m = positive(m, "m", f"{self.key}.matrix_eps")
        return m**-1.0 * positive(m_L, "m_L", f"{self.key}.matrix_eps") ** -self.alpha

    def vector_lr(self, m, m_L):
        positive(m, "m", f"{self.key}.vector_lr")
        return positive(m_L, "m_L", f"{self.key}.vector_lr") ** (self.alpha - 1.0)

    def vector_eps(self, m, m_L):
        return self.matrix_eps(m, m_L)

    def outer_eps(self, m):
        return 1.0 / positive(m, "m", f"{self.key}.outer_eps")

    def residual(self, m_L):
        return positive(m_L, "m_L", f"{self.key}.residual") ** -self.alpha


COMPLETEP = CompleteP(
    provenance=Provenance(
        citation="Dey et al. 2025, Don't be lazy: CompleteP enables compute-efficient deep "
        "transformers (arXiv:2505.01618)",
        source="paper, section 3 (parameterization table); reported 12-34% compute-efficiency gain "
        "over the prior state of the art",
        notes="Adam eps outside the blocks (embedding, readout, final norm) x 1/m as in the authors' "
        "EleutherAI/nanoGPT-mup.",
        checked_against="No run here; the rules as the paper states them, and the field names of "
        "the authors' EleutherAI/nanoGPT-mup for --emit nanogpt-mup.",
    )
)
DEPTH_MUP = CompleteP(
    alpha=0.5,
    name="depth-mup",
    provenance=Provenance(
        citation="Bordelon et al. 2023, Depthwise Hyperparameter Transfer in Residual Networks "
        "(arXiv:2309.16620); Yang et al. 2023, Tensor Programs VI: alpha = 1/2",
        source="Dey et al. 2025 (arXiv:2505.01618): the CompleteP rules with alpha = 1/2",
        checked_against="No published figure; CompleteP's rules at alpha = 1/2.",
    ),
)


@dataclass(frozen=True)
class WidthWeightDecay(MuPAdam):
    """Width weight-decay rule: matrix lr ~ 1/d and weight decay ~ d; vectors lr x 1, decay 0."""

    key = "width-wd"
    title = "Width weight-decay rule (2025)"
    formula = "matrix lr x 1/m, weight decay x m; vector weight decay 0"

    def vector_weight_decay_is_zero(self) -> bool:
        return True


WIDTH_WD = WidthWeightDecay(
    provenance=Provenance(
        citation="Robust Layerwise Scaling Rules by Proper Weight Decay Tuning (2025): matrix "
        "parameters eta ~ d^-1 and lambda ~ d; vector parameters eta = Theta(1), lambda = 0",
        source="the paper's abstract (one reading of the body gives lambda ~ sqrt(d))",
        secondary=True,
        checked_against="No published figure checked.",
    )
)

#: Parameterizations by key (a literal dict, like the law REGISTRY).
PARAMETERIZATIONS: dict[str, StandardParam] = {
    law.registry_key: law for law in (SP, MUP, MUP_SGD, UMUP, COMPLETEP, DEPTH_MUP, WIDTH_WD)
}
