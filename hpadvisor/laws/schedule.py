"""Schedule rules: warmup length, final learning rate, WSD cooldown fraction.

These are conventions with a published source rather than fitted laws; the advisor shows the
rule it used and what the others would give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpadvisor.laws.base import Input, Law, Output, Provenance, positive

_PEAK = Input("recommended peak learning rate", "", "peak_lr")
_B = Input("batch size in use", "tokens", "batch_tokens")


@dataclass(frozen=True)
class WarmupTokens(Law):
    """OLMo-core's rule: warm up over about as many tokens as the model has parameters."""

    key = "olmo-warmup"
    title = "Warmup tokens = N (OLMo-core)"
    formula = "warmup_steps = ratio * N / B"
    inputs = {"N": Input("non-embedding parameters", "params", "non_embedding_params"), "B": _B}
    outputs = {"warmup_steps": Output("warmup_steps", "steps", "linear warmup length")}

    tokens_per_param: float = 1.0

    def warmup_steps(self, N, B):
        N = positive(N, "N", "olmo-warmup.warmup_steps")
        B = positive(B, "B", "olmo-warmup.warmup_steps")
        return np.ceil(self.tokens_per_param * N / B)


OLMO_WARMUP = WarmupTokens(
    provenance=Provenance(
        citation="OLMo-core model ladder (allenai/OLMo-core): warmup tokens = non-embedding parameters",
        source="allenai/OLMo-core src/olmo_core/model_ladder/wsds_chinchilla_run_configurator.py "
        "(commit 03a3e2e): warmup = num_params (non-embedding)",
    )
)


@dataclass(frozen=True)
class WarmupSteps(Law):
    """A fixed number of warmup steps, as DeepSeek LLM and Step Law use (2000)."""

    key = "fixed-warmup"
    title = "Fixed warmup steps"
    formula = "warmup_steps = constant"
    inputs = {}
    outputs = {"warmup_steps": Output("warmup_steps", "steps", "linear warmup length")}

    steps: float = 2000.0

    def warmup_steps(self):
        return np.float64(self.steps)


DEEPSEEK_WARMUP = WarmupSteps(
    name="deepseek-warmup",
    provenance=Provenance(
        citation="DeepSeek-AI 2024, DeepSeek LLM (arXiv:2401.02954), section 2.3: 2000 warmup steps",
        source="paper",
    ),
)


@dataclass(frozen=True)
class FinalLR(Law):
    """Final learning rate as a fraction of the peak (0 = decay to zero), or an absolute floor."""

    key = "final-lr"
    title = "Final learning rate"
    formula = "min_lr = ratio * peak_lr (+ floor)"
    inputs = {"peak": _PEAK}
    outputs = {"min_lr": Output("min_lr", "", "final learning rate of the schedule")}

    ratio: float = 0.1
    floor: float = 0.0

    def min_lr(self, peak):
        peak = positive(peak, "peak", f"{self.registry_key}.min_lr")
        return self.ratio * peak + self.floor


COSINE_10X = FinalLR(
    ratio=0.1,
    name="cosine-10x",
    provenance=Provenance(
        citation="Hoffmann et al. 2022 (arXiv:2203.15556), section 3: cosine decayed 10x; "
        "OLMo and nanoGPT use min_lr = peak / 10",
        source="paper",
    ),
)
D2Z = FinalLR(
    ratio=0.0,
    name="d2z",
    provenance=Provenance(
        citation="Bergsma et al. 2025, Straight to Zero: Why Linearly Decaying the Learning Rate "
        "to Zero Works Best for LLMs (arXiv:2502.15938)",
        source="paper: ~0.77% lower loss than cosine to 10% at 610M, 20 tokens per parameter",
    ),
)
STEPLAW_FLOOR = FinalLR(
    ratio=0.0,
    floor=1e-5,
    name="steplaw-floor",
    provenance=Provenance(
        citation="Li et al. 2025, Predictable Scale: Part I: cosine to a fixed min lr of 1e-5",
        source="step-law/steplaw run names (mlr1e-5)",
    ),
)
DEEPSEEK_STEPS = FinalLR(
    ratio=0.1,
    name="deepseek-multistep",
    provenance=Provenance(
        citation="DeepSeek-AI 2024, DeepSeek LLM: multi-step schedule, 31.6% of peak after 80% "
        "of tokens, 10% after 90%",
        source="paper",
    ),
)
CONSTANT_LR = FinalLR(
    ratio=1.0,
    name="constant",
    provenance=Provenance(citation="constant schedule: no decay", source="definition"),
)


@dataclass(frozen=True)
class CooldownFraction(Law):
    """Hägele et al. 2024: WSD with a cooldown over the last ~20% matches or beats cosine."""

    key = "hagele-wsd"
    title = "WSD cooldown fraction (Hägele et al. 2024)"
    formula = "decay_fraction = 0.2, cooldown to 0 (1-sqrt shape best)"
    inputs = {}
    outputs = {"decay_fraction": Output("decay_fraction", "fraction", "share of the run in cooldown")}

    fraction: float = 0.2

    def decay_fraction(self):
        return np.float64(self.fraction)


HAGELE_WSD = CooldownFraction(
    provenance=Provenance(
        citation="Hägele et al. 2024, Scaling Laws and Compute-Optimal Training Beyond Fixed "
        "Training Durations (arXiv:2405.18392)",
        source="paper: the gain plateaus near a 20% cooldown; 10-20% beats cosine to 10%",
    )
)
