"""Final-loss laws L(N, D) and compute-optimal allocation: Chinchilla (three readings), Kaplan 2020.

Chinchilla's N counts all parameters (Hoffmann et al. plot total parameters); Kaplan's counts
non-embedding parameters.  Both losses are in nats per token on their authors' own data
(MassiveText, WebText2): compare a prediction with your own runs only after a fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpadvisor.laws.base import Input, Law, Output, Provenance, positive

_D = Input("training tokens", "tokens", "tokens")


@dataclass(frozen=True)
class Chinchilla(Law):
    """L(N, D) = E + A / N^alpha + B / D^beta, and the allocation that minimises it at C = 6 N D.

    N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = (C/6)^(alpha/(alpha+beta)) / G,
    G = (alpha A / (beta B))^(1/(alpha+beta))   (Hoffmann et al. 2022, eq. 4 and appendix D.2).
    """

    key = "chinchilla"
    title = "Chinchilla L(N, D)"
    formula = "L = E + A/N^alpha + B/D^beta ; C = 6 N D"
    inputs = {
        "N": Input("total parameters", "params", "params"),
        "D": _D,
        "C": Input("training compute, 6 N D with N total parameters", "FLOPs", "chinchilla_compute"),
    }
    outputs = {
        "final_loss": Output("loss", "nats/token", "final training loss"),
        "compute_optimal_params": Output("optimal_params", "params", "N_opt at the same compute"),
        "compute_optimal_tokens": Output("optimal_tokens", "tokens", "D_opt at the same compute"),
    }

    E: float = 1.69
    A: float = 406.4
    B: float = 410.7
    alpha: float = 0.34
    beta: float = 0.28

    def loss(self, N, D):
        N = positive(N, "N", f"{self.registry_key}.loss")
        D = positive(D, "D", f"{self.registry_key}.loss")
        return self.E + self.A / N**self.alpha + self.B / D**self.beta

    def _G(self) -> float:
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    def optimal_params(self, C):
        C = positive(C, "C", f"{self.registry_key}.optimal_params")
        return self._G() * (C / 6.0) ** (self.beta / (self.alpha + self.beta))

    def optimal_tokens(self, C):
        C = positive(C, "C", f"{self.registry_key}.optimal_tokens")
        return (C / 6.0) ** (self.alpha / (self.alpha + self.beta)) / self._G()

    def range_values(self, symbols):
        values = dict(symbols)
        if "N" in values and "D" in values:
            values.setdefault("C", 6.0 * values["N"] * values["D"])
        return values


_HOFFMANN_RANGE = (("N", 7e7, 1.6e10), ("D", 5e9, 5e11))

CHINCHILLA = Chinchilla(
    provenance=Provenance(
        citation="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models "
        "(arXiv:2203.15556), approach 3, eq. 10 (rounded constants)",
        source="paper",
        fitted_range=_HOFFMANN_RANGE,
        notes="Gives 2.1% mean relative error on Epoch's 245 re-extracted runs.",
        checked_against="Epoch's 245 re-extracted Chinchilla runs (Besiroglu et al. 2024): 2.1% mean "
        "relative error, as Epoch report for Hoffmann's constants (Epoch's own constants: 0.79%). At "
        "Gopher's budget C = 5.76e23 the allocation is N 3.22e10, D 2.98e12 (C = 6ND).",
    )
)

CHINCHILLA_UNROUNDED = Chinchilla(
    E=math.exp(0.5267228),
    A=math.exp(6.0073404),
    B=math.exp(6.0179186),
    alpha=0.33917084,
    beta=0.2849083,
    name="chinchilla-unrounded",
    provenance=Provenance(
        citation="Hoffmann et al. 2022, approach 3, unrounded constants",
        source="epoch-research/analyzing-chinchilla notebook",
        fitted_range=_HOFFMANN_RANGE,
        checked_against="No figure beyond the notebook's printed constants (e^0.5267228, "
        "e^6.0073404, e^6.0179186, 0.33917084, 0.2849083).",
    ),
)

CHINCHILLA_EPOCH = Chinchilla(
    E=1.8172,
    A=482.01,
    B=2085.43,
    alpha=0.3478,
    beta=0.3658,
    name="chinchilla-epoch",
    provenance=Provenance(
        citation="Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt (arXiv:2404.10102)",
        source="epoch-research/analyzing-chinchilla; standard errors E 0.026, A 124.5, B 1293, "
        "alpha 0.015, beta 0.021",
        fitted_range=(("N", 5.73e7, 1.62e10), ("D", 2.45e8, 3.18e11), ("C", 1.4e18, 1.3e22)),
        notes="Huber (delta 1e-3) on log loss, 245 runs; 0.81% mean relative error on them.",
        checked_against="The 245 runs it was fitted on: 0.79% mean relative error (Epoch: 0.81%); "
        "hpadvisor fit final on the same runs recovers every constant within Epoch's standard "
        "errors. At C = 5.76e23: N 7.23e10, D 1.33e12 (18.4 tokens per parameter).",
    ),
)


@dataclass(frozen=True)
class Kaplan(Law):
    """Kaplan et al. 2020, "Scaling Laws for Neural Language Models": lr(N), L(N, D), B_crit(L).

    lr(N) = 0.003239 - 0.0001395 ln N (eq. D.1; reaches 0 near N = 1.2e10, where it is undefined);
    L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D (eq. 1.5);
    B_crit(L) = B_* / L^(1/alpha_B) tokens (eq. 1.4), evaluated at Kaplan's own L(N, D).
    N is non-embedding parameters; L is nats/token on WebText2.
    """

    key = "kaplan"
    title = "Kaplan et al. 2020"
    formula = "lr = 0.003239 - 0.0001395 ln N ; L = [(Nc/N)^(aN/aD) + Dc/D]^aD ; Bcrit = B*/L^(1/aB)"
    inputs = {
        "N": Input("non-embedding parameters", "params", "non_embedding_params"),
        "D": _D,
    }
    outputs = {
        "peak_lr": Output("lr", "", "peak learning rate (eq. D.1)"),
        "final_loss": Output("loss", "nats/token", "final loss, WebText2 (eq. 1.5)"),
        "critical_batch_tokens": Output(
            "critical_batch_tokens", "tokens", "B_crit at Kaplan's own L(N, D) (eq. 1.4)"
        ),
    }

    lr_a: float = 0.003239
    lr_b: float = 0.0001395
    alpha_N: float = 0.076
    alpha_D: float = 0.103
    N_c: float = 6.4e13
    D_c: float = 1.8e13
    B_star: float = 2e8
    alpha_B: float = 0.21

    def lr(self, N):
        N = positive(N, "N", "kaplan.lr")
        value = self.lr_a - self.lr_b * np.log(N)
        # Beyond ~1.2e10 parameters the fit goes to zero and negative: undefined, not an answer.
        return np.where(value > 0, value, np.nan)

    def loss(self, N, D):
        N = positive(N, "N", "kaplan.loss")
        D = positive(D, "D", "kaplan.loss")
        return ((self.N_c / N) ** (self.alpha_N / self.alpha_D) + self.D_c / D) ** self.alpha_D

    def critical_batch_from_loss(self, L):
        return self.B_star / positive(L, "L", "kaplan.critical_batch_from_loss") ** (1.0 / self.alpha_B)

    def critical_batch_tokens(self, N, D):
        return self.critical_batch_from_loss(self.loss(N, D))


KAPLAN = Kaplan(
    provenance=Provenance(
        citation="Kaplan et al. 2020, Scaling Laws for Neural Language Models (arXiv:2001.08361), "
        "eqs. 1.4, 1.5 and D.1",
        source="paper",
        fitted_range=(("N", 7.68e2, 1.5e9), ("D", 2.2e7, 2.3e10)),
        notes="The lr fit breaks down above ~1e10 parameters (it reaches 0 at 1.2e10). "
        "B_star 2e8 tokens (2.1e8 in one reading). Losses are WebText2 nats, not comparable "
        "with Chinchilla's MassiveText losses.",
        checked_against="No worked example in the paper; the equations evaluated by hand: "
        "lr(1e9) = 3.48e-4 (eq. D.1), L(1e9, 2e10) = 2.3739 nats (eq. 1.5), critical batch at "
        "L = 3.0 nats 1.07e6 tokens (eq. 1.4).",
    )
)
