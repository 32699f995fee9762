"""Optimizer settings that depend on batch and horizon: AdamW weight decay (timescale rule) and
Adam beta2 (constant half-life in tokens, threshold rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpadvisor.laws.base import Input, Law, Output, Provenance, positive, unit_interval

_B = Input("batch size in use", "tokens", "batch_tokens")


@dataclass(frozen=True)
class AdamWTimescale(Law):
    """Wang & Aitchison 2024: AdamW's weights are an EMA with timescale 1 / (eta lambda) steps.

    As a fraction of the run's S = D / B steps, tau = B / (eta lambda D).  Keeping tau fixed gives
    lambda = B / (eta tau D): weight decay grows with batch and falls with lr and tokens.
    """

    key = "adamw-timescale"
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
        source="LAWS.md section 3",
        secondary=True,
    )
)


# Anchors: PROVISIONAL, replaced once the sources are checked (see the commit that sets them).
ADAMW_TIMESCALE = AdamWTimescale(tau=0.2, provenance=Provenance(citation="provisional", source=""))
BETA2_HALFLIFE = Beta2HalfLife(beta2_ref=0.95, batch_ref=4e6,
                               provenance=Provenance(citation="provisional", source=""))
