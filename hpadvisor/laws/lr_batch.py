"""Optimal peak learning rate and batch size: Step Law, DeepSeek, Porian (OLMo-core form), Bjorck.

They disagree in kind (docs/laws.md): Step Law's lr rises with D, DeepSeek's falls with C,
Porian's depends on N only.  The advisor shows each; it never averages them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpadvisor.laws.base import DataPerParamRange, Input, Law, Output, Provenance, positive

_N_NONEMB = Input("non-embedding parameters", "params", "non_embedding_params")
_D = Input("training tokens", "tokens", "tokens")


@dataclass(frozen=True)
class StepLaw(DataPerParamRange, Law):
    """Li et al. 2025, "Predictable Scale: Part I" (Step Law).

    lr* = a N^alpha D^beta, B* = b D^gamma (B in tokens).  N counts non-embedding parameters,
    n_layer (4 h^2 + 3 h ffn), as in their data; their runs decay cosine to a fixed floor of 1e-5,
    which probably explains the lr rising with D.
    """

    key = "steplaw"
    title = "Step Law (Li et al. 2025)"
    formula = "lr* = 1.79 N^-0.713 D^0.307 ; B* = 0.58 D^0.571 tokens"
    inputs = {"N": _N_NONEMB, "D": _D}
    outputs = {
        "peak_lr": Output("lr", "", "optimal peak learning rate"),
        "batch_tokens": Output("batch_tokens", "tokens", "optimal batch size"),
    }

    lr_coef: float = 1.79
    lr_exp_n: float = -0.713
    lr_exp_d: float = 0.307
    bs_coef: float = 0.58
    bs_exp_d: float = 0.571

    def lr(self, N, D):
        N = positive(N, "N", "steplaw.lr")
        D = positive(D, "D", "steplaw.lr")
        return self.lr_coef * N**self.lr_exp_n * D**self.lr_exp_d

    def batch_tokens(self, D):
        D = positive(D, "D", "steplaw.batch_tokens")
        return self.bs_coef * D**self.bs_exp_d


STEPLAW = StepLaw(
    provenance=Provenance(
        citation="Li et al. 2025, Predictable Scale: Part I (arXiv:2503.04715), eq. for lr* and B*",
        source="paper; step-law/steplaw data/1004_fitted_lr_bs_scaling_model_parameters.csv "
        "(1000 bootstrap fits, mean 1.7973 N^-0.7129 D^0.3075; 0.5807 D^0.5709)",
        fitted_range=(("N", 2.15e8, 1.07e9), ("D", 4e9, 1e11), ("D/N", 18.0, 466.0)),
        notes="Dense Llama-style models, seq len 2048, cosine to min lr 1e-5. "
        "Lands within 0.07-0.094% of the grid-search best loss at N=1B, D=100B.",
        checked_against="The authors' 1000 released bootstrap fits: their mean is these constants "
        "to 1% (lr 1.7973 N^-0.7129 D^0.3075, batch 0.5807 D^0.5709 tokens). On the 17 settings of "
        "their released dense sweeps (1,911 runs), the grid run nearest the law's (lr, batch) is "
        "within median 0.067%, worst 0.31% of each setting's best smoothed loss (the paper: within "
        "0.07-0.094% at N = 1B, D = 100B).",
    )
)


_M = Input("non-embedding FLOPs per token, 72 n_layer d^2 + 12 n_layer d l_seq", "FLOPs/token",
           "deepseek_flops_per_token")


@dataclass(frozen=True)
class DeepSeek(Law):
    """DeepSeek LLM (DeepSeek-AI 2024), hyperparameter scaling in compute C = M D.

    M is non-embedding FLOPs per token including attention (72 n_layer d^2 + 12 n_layer d l_seq).
    Also the compute-optimal model scale M_opt and data D_opt for a budget C.
    """

    key = "deepseek"
    title = "DeepSeek LLM (2024)"
    formula = "lr* = 0.3118 C^-0.1250 ; B* = 0.2920 C^0.3271 tokens ; C = M D"
    inputs = {"M": _M, "D": _D, "C": Input("compute budget in M·D FLOPs", "FLOPs", "deepseek_compute")}
    outputs = {
        "peak_lr": Output("lr", "", "optimal peak learning rate"),
        "batch_tokens": Output("batch_tokens", "tokens", "optimal batch size"),
        "compute_optimal_tokens": Output("optimal_tokens", "tokens", "D_opt = 5.8316 C^0.4757"),
        "compute_optimal_params": Output(
            "optimal_params", "params", "M_opt / 6 (M_opt = 0.1715 C^0.5243 FLOPs/token)"
        ),
    }

    lr_coef: float = 0.3118
    lr_exp: float = -0.1250
    bs_coef: float = 0.2920
    bs_exp: float = 0.3271
    m_coef: float = 0.1715
    m_exp: float = 0.5243
    d_coef: float = 5.8316
    d_exp: float = 0.4757

    def lr(self, M, D):
        C = positive(M, "M", "deepseek.lr") * positive(D, "D", "deepseek.lr")
        return self.lr_coef * C**self.lr_exp

    def batch_tokens(self, M, D):
        C = positive(M, "M", "deepseek.batch_tokens") * positive(D, "D", "deepseek.batch_tokens")
        return self.bs_coef * C**self.bs_exp

    def optimal_flops_per_token(self, C):
        return self.m_coef * positive(C, "C", "deepseek.optimal_flops_per_token") ** self.m_exp

    def optimal_tokens(self, C):
        return self.d_coef * positive(C, "C", "deepseek.optimal_tokens") ** self.d_exp

    def optimal_params(self, C):
        # M counts 6 FLOPs per non-embedding parameter per token (plus attention): N ~ M / 6.
        return self.optimal_flops_per_token(C) / 6.0

    def range_values(self, symbols):
        values = dict(symbols)
        if "M" in values and "D" in values:
            values["C"] = values["M"] * values["D"]
        return values


DEEPSEEK = DeepSeek(
    provenance=Provenance(
        citation="DeepSeek-AI 2024, DeepSeek LLM: Scaling Open-Source Language Models with "
        "Longtermism (arXiv:2401.02954), section 3.1 (hyperparameters) and 3.2 (model/data scale)",
        source="paper; 7B used lr 4.2e-4 / B 9.2M tokens, 67B lr 3.2e-4 / B 19.7M tokens",
        fitted_range=(("C", 1e17, 2e19),),
        notes="Fitted on budgets 1e17-2e19 FLOPs and checked near 1e20 [secondary]. Multi-step "
        "schedule, 2000 warmup steps. compute_optimal_params divides M_opt by 6 (attention ignored).",
        checked_against="The paper's own models: DeepSeek LLM 7B (M = 4.228e10 FLOPs per token, 2T "
        "tokens) gets lr 4.25e-4 and batch 9.20M tokens (the paper trained it with 4.2e-4 and 9.2M); "
        "67B at C = 8.6e23 gets 3.18e-4 and 19.7M (the paper: 3.2e-4 and 19.7M).",
    )
)


@dataclass(frozen=True)
class Porian(Law):
    """Porian et al. 2024 ("Resolving discrepancies in compute-optimal scaling"), OLMo-core form.

    lr* = 0.0047 (N / 108e6)^(-1/3), B* = 2048 * 160 * (N / 108e6)^(2/3) tokens, N non-embedding
    parameters (OLMo-core's ladder uses ``num_non_embedding_params``).
    """

    key = "porian"
    title = "Porian et al. 2024 (OLMo-core ladder form)"
    formula = "lr* = 0.0047 (N/108e6)^(-1/3) ; B* = 327680 (N/108e6)^(2/3) tokens"
    inputs = {"N": _N_NONEMB}
    outputs = {
        "peak_lr": Output("lr", "", "optimal peak learning rate"),
        "batch_tokens": Output("batch_tokens", "tokens", "optimal batch size"),
    }

    lr_coef: float = 0.0047
    n_ref: float = 108e6
    lr_exp: float = -1.0 / 3.0
    bs_coef: float = 2048.0 * 160.0
    bs_exp: float = 2.0 / 3.0

    def lr(self, N):
        return self.lr_coef * (positive(N, "N", "porian.lr") / self.n_ref) ** self.lr_exp

    def batch_tokens(self, N):
        return self.bs_coef * (positive(N, "N", "porian.batch_tokens") / self.n_ref) ** self.bs_exp


PORIAN = Porian(
    provenance=Provenance(
        citation="Porian et al. 2024, Resolving Discrepancies in Compute-Optimal Scaling of "
        "Language Models (arXiv:2406.19146), as implemented in the OLMo-core model ladder",
        source="allenai/OLMo-core src/olmo_core/model_ladder/wsds_chinchilla_run_configurator.py "
        "(commit 03a3e2e) and model_ladder/base.py (08647b2): N = num_non_embedding_params",
        fitted_range=(("N", 5e6, 9e8),),
        notes="OLMo-core halves this lr for its WSD schedule; the OLMo-2 ladder divided it by 4.",
        checked_against="No published worked figure; the formula is OLMo-core's code, which gives lr "
        "0.0047 and 327,680 tokens (160 sequences of 2048) at its reference N = 108M.",
    )
)


@dataclass(frozen=True)
class Bjorck(Law):
    """Bjorck et al. 2024 ("Scaling optimal LR across token horizons"): a ratio rule.

    lr2 = lr1 (D2 / D1)^-0.32.  The joint form's prefactor is unverified, so only the ratio is
    used: it needs a learning rate tuned at a reference token budget.
    """

    key = "bjorck"
    kinds = frozenset({"reference-run"})
    title = "Token-horizon rule (Bjorck et al. 2024)"
    formula = "lr = lr_ref (D / D_ref)^-0.32"
    inputs = {
        "lr_ref": Input("learning rate tuned at the reference horizon", "", "reference_lr"),
        "D_ref": Input("tokens of the reference run", "tokens", "reference_tokens"),
        "D": _D,
    }
    outputs = {"peak_lr": Output("lr", "", "lr carried to the planned token horizon")}

    exponent: float = -0.32

    def lr(self, lr_ref, D_ref, D):
        lr_ref = positive(lr_ref, "lr_ref", "bjorck.lr")
        ratio = positive(D, "D", "bjorck.lr") / positive(D_ref, "D_ref", "bjorck.lr")
        return lr_ref * ratio**self.exponent


BJORCK = Bjorck(
    provenance=Provenance(
        citation="Bjorck et al. 2024, Scaling Optimal LR Across Token Horizons (arXiv:2409.19913)",
        source="paper; used as a ratio rule only",
        notes="Needs optimizer.reference (lr and tokens of a tuned run).",
        checked_against="No published figure: a ratio rule (4x the tokens: lr x 4^-0.32 = 0.64).",
    )
)
