"""Optimizer settings that depend on batch and horizon: AdamW weight decay (the Power Lines timescale
law, the constant-timescale rule, the common 0.1) and Adam beta2 (constant half-life in tokens,
threshold rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpadvisor.laws.base import DataPerParamRange, Input, Law, Output, Provenance, positive, unit_interval

_B = Input("batch size in use", "tokens", "batch_tokens")


@dataclass(frozen=True)
class AdamWTimescale(Law):
    """Wang & Aitchison 2024: AdamW's weights are an EMA with timescale 1 / (eta lambda) steps.

    As a fraction of the run's S = D / B steps, tau = B / (eta lambda D).  Keeping tau fixed gives
    lambda = B / (eta tau D): weight decay grows with batch and falls with lr and tokens.
    """

    key = "adamw-timescale"
    kinds = frozenset({"timescale"})
    title = "AdamW EMA timescale (Wang & Aitchison 2024)"
    formula = "lambda = B / (eta tau D)"
    inputs = {
        "B": _B,
        "eta": Input("peak learning rate", "", "peak_lr"),
        "D": Input("training tokens", "tokens", "tokens"),
    }
    outputs = {"weight_decay": Output("weight_decay", "", "decoupled weight decay (AdamW lambda)")}

    tau: float = 0.0  # set per instance; see the registry entry for its source

    def weight_decay(self, B, eta, D):
        where = f"{self.registry_key}.weight_decay"
        B, eta, D = positive(B, "B", where), positive(eta, "eta", where), positive(D, "D", where)
        return B / (eta * self.tau * D)

    def timescale(self, B, eta, lam, D):
        """tau for given settings (the fraction of the run the weight EMA averages over)."""
        where = f"{self.registry_key}.timescale"
        return positive(B, "B", where) / (
            positive(eta, "eta", where) * positive(lam, "lam", where) * positive(D, "D", where)
        )


@dataclass(frozen=True)
class Beta2HalfLife(Law):
    """Keep Adam's second-moment half-life fixed in tokens: beta2 = beta2_ref^(B / B_ref).

    Derived from Marek et al. 2025 ("Small Batch Size Training for Language Models"): the
    half-life of the beta2 EMA, in tokens, should not change with the batch.
    """

    key = "beta2-halflife"
    title = "Batch-aware Adam beta2 (Marek et al. 2025)"
    formula = "beta2 = beta2_ref^(B / B_ref)"
    inputs = {"B": _B}
    outputs = {"adam_beta2": Output("beta2", "", "Adam beta2 at the batch in use")}

    beta2_ref: float = 0.95
    batch_ref: float = 1.0

    def beta2(self, B):
        B = positive(B, "B", f"{self.registry_key}.beta2")
        unit_interval(self.beta2_ref, "beta2_ref", f"{self.registry_key}.beta2")
        return self.beta2_ref ** (B / self.batch_ref)

    def half_life_tokens(self) -> float:
        """Tokens over which the second-moment EMA halves: B_ref ln 0.5 / ln beta2_ref."""
        return float(self.batch_ref * np.log(0.5) / np.log(self.beta2_ref))


@dataclass(frozen=True)
class Beta2Threshold(Law):
    """OLMo-core: beta2 = 0.95 for batches of at least 524,288 tokens, else 0.99."""

    key = "olmo-beta2"
    title = "Adam beta2 threshold (OLMo-core)"
    formula = "beta2 = 0.95 if B >= 524288 tokens else 0.99"
    inputs = {"B": _B}
    outputs = {"adam_beta2": Output("beta2", "", "Adam beta2 at the batch in use")}

    threshold: float = 524288.0
    large: float = 0.95
    small: float = 0.99

    def beta2(self, B):
        B = positive(B, "B", "olmo-beta2.beta2")
        return np.where(B >= self.threshold, self.large, self.small)


OLMO_BETA2 = Beta2Threshold(
    provenance=Provenance(
        citation="OLMo-core (allenai/OLMo-core) model ladder: beta2 0.95 at >= 524,288 tokens per "
        "batch, else 0.99",
        source="allenai/OLMo-core src/olmo_core/model_ladder/wsds_chinchilla_run_configurator.py "
        "(commit 03a3e2e)",
    )
)


# The anchor of the constant-timescale rule.  Wang & Aitchison (2024) publish no value of tau; they
# state that Llama 1 and 2's settings agree with their guidelines, so the rule is anchored
# at Llama 2 7B's published settings (Touvron et al. 2023, section 2.2 and table 1): batch 4M
# tokens, peak lr 3e-4, weight decay 0.1, 2T tokens -> tau = 4e6 / (3e-4 * 0.1 * 2e12) = 0.0667,
# at 2e12 / 6.74e9 = 297 tokens per parameter.
LLAMA2_BATCH, LLAMA2_LR, LLAMA2_WD, LLAMA2_TOKENS, LLAMA2_PARAMS = 4e6, 3e-4, 0.1, 2e12, 6.74e9
LLAMA2_TAU = LLAMA2_BATCH / (LLAMA2_LR * LLAMA2_WD * LLAMA2_TOKENS)
_ANCHOR_NOTE = (
    "tau anchored at Llama 2 7B (Touvron et al. 2023: B 4M tokens, lr 3e-4, wd 0.1, 2T tokens, "
    "6.74B params): tau = 0.0667 at 297 tokens per parameter, held at every tokens per parameter. "
    "Wang & Aitchison publish no value of tau, so this anchor is a calibration on a published "
    "configuration."
)

ADAMW_TIMESCALE = AdamWTimescale(
    tau=LLAMA2_TAU,
    provenance=Provenance(
        citation="Wang & Aitchison 2024, How to set AdamW's weight decay as you scale model and "
        "dataset size (arXiv:2405.13698): keep the EMA timescale tau = B/(eta lambda D) fixed",
        source="paper (rule); anchor: Touvron et al. 2023, Llama 2 (arXiv:2307.09288)",
        notes=_ANCHOR_NOTE,
        checked_against="Only its anchor: at Llama 2 7B's settings (4M-token batch, lr 3e-4, 2T "
        "tokens) it returns Llama 2's weight decay 0.1; the paper gives no prefactor to check.",
    ),
)


@dataclass(frozen=True)
class PowerLinesTimescale(DataPerParamRange, Law):
    """Bergsma et al. 2025 ("Power Lines"): the optimal AdamW timescale, as a fraction of the run,
    falls as a power law in tokens per parameter: tau_opt = c (D/N)^m; then lambda = B / (eta
    tau_opt D).

    The timescale is Wang & Aitchison's: AdamW's weights are an EMA over 1 / (eta lambda) steps,
    which is tau = B / (eta lambda D) of a run of D / B steps (B and D in the same unit).
    """

    key = "powerlines-wd"
    kinds = frozenset({"timescale"})
    title = "Weight decay from the Power Lines timescale law (Bergsma et al. 2025)"
    formula = "lambda = B / (eta tau_opt D), tau_opt = c (D/N)^m"
    inputs = {
        "B": _B,
        "eta": Input("peak learning rate", "", "peak_lr"),
        "D": Input("training tokens", "tokens", "tokens"),
        "N": Input("total parameters", "params", "params"),
    }
    outputs = {"weight_decay": Output("weight_decay", "", "decoupled weight decay (AdamW lambda)")}

    c: float = 1.084
    m: float = -0.527

    def tau_opt(self, D, N):
        """The optimal timescale (a fraction of the run) at D / N tokens per parameter."""
        where = f"{self.registry_key}.tau_opt"
        return self.c * (positive(D, "D", where) / positive(N, "N", where)) ** self.m

    def weight_decay(self, B, eta, D, N):
        where = f"{self.registry_key}.weight_decay"
        B, eta = positive(B, "B", where), positive(eta, "eta", where)
        return B / (eta * self.tau_opt(D, N) * positive(D, "D", where))

    def timescale(self, B, eta, lam, D):
        """tau for given settings (the fraction of the run the weight EMA averages over)."""
        where = f"{self.registry_key}.timescale"
        return positive(B, "B", where) / (
            positive(eta, "eta", where) * positive(lam, "lam", where) * positive(D, "D", where)
        )


POWERLINES_WD = PowerLinesTimescale(
    provenance=Provenance(
        citation="Bergsma et al. 2025, Power Lines: Scaling Laws for Weight Decay and Batch Size "
        "in LLM Pre-training (arXiv:2505.13738): the optimal timescale tau = B/(eta lambda D) is a "
        "power law in tokens per parameter, tau_opt = 1.084 (D/N)^-0.527",
        source="the paper's fit of tau_opt against D/N (c 1.084, m -0.527, R^2 0.975) [secondary]: "
        "read from another account of the paper (a public training script quoting it), not from "
        "the paper itself",
        fitted_range=(("N", 1.11e8, 3.3e9),),
        secondary=True,
        notes="Fitted on about 400 runs of 111M-3.3B-parameter models [secondary]; the range of "
        "tokens per parameter behind the fit is not recorded here, so only N is flagged. The "
        "paper's models use muP: at Llama 2 7B's standard-parameterisation settings (4M-token "
        "batch, lr 3e-4, 2T tokens, 6.74B params, 297 tokens per parameter) the fit gives "
        "tau_opt 0.0540 against Llama 2's 0.0667, weight decay 0.124 against its 0.1 (1.24x), "
        "so its eta reads as the ordinary peak lr. The constant-timescale rule (adamw-timescale) "
        "is anchored at that Llama 2 configuration instead.",
        checked_against="Not against the paper's text (not available here): the constants are "
        "quoted from another account; at Llama 2 7B's published settings the law gives weight "
        "decay 0.124, Llama 2 used 0.1.",
    ),
)


@dataclass(frozen=True)
class ConstantWeightDecay(Law):
    """The common default: decoupled weight decay 0.1, whatever the batch, lr or horizon."""

    key = "default-wd"
    title = "Weight decay 0.1 (common practice)"
    formula = "lambda = 0.1"
    inputs = {}
    outputs = {"weight_decay": Output("weight_decay", "", "decoupled weight decay (AdamW lambda)")}

    value: float = 0.1

    def weight_decay(self):
        return np.float64(self.value)


DEFAULT_WD = ConstantWeightDecay(
    provenance=Provenance(
        citation="common default: Llama 2 (Touvron et al. 2023), DeepSeek LLM (2024), OLMo 2 use 0.1",
        source="papers' hyperparameter tables",
        checked_against="The hyperparameter tables of Llama 2, DeepSeek LLM and OLMo 2 (0.1).",
    )
)

# Marin's isoflop sweeps: beta2 = 0.98^(B/128) with B in sequences of 4096 tokens, citing
# Marek et al. 2025 (arXiv:2507.07101): the half-life rule anchored at 0.98 for 524,288 tokens.
BETA2_HALFLIFE = Beta2HalfLife(
    beta2_ref=0.98,
    batch_ref=128 * 4096,
    provenance=Provenance(
        citation="Marek et al. 2025, Small Batch Size Training for Language Models "
        "(arXiv:2507.07101): keep beta2's half-life fixed in tokens",
        source="anchor from marin-community/marin lib/marin/src/marin/scaling_laws/recipe.py "
        "(commit 0ba9d86, ScalingRecipe.compute_beta2): beta2 = 0.98 ** (batch_size / 128), batch in "
        "sequences of 4096 tokens (some Marin experiments clamp it at 0.95 from below)",
        notes="Half-life 17.97M tokens. The anchor comes from Marin's small isoflop sweeps "
        "(budgets 1e18-1e20 FLOPs); at multi-million-token batches it gives beta2 well below "
        "the common 0.95.",
        checked_against="Marin's compute_beta2: 0.98 at 128 sequences of 4096 tokens and 0.98^8 at "
        "1024 (exact); the half-life rule moves 0.95 at batch 512 to 0.99361 at batch 64.",
    ),
)
