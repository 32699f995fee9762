"""Law forms that only fits produce: the parameter-count variants and the fitted batch law.

A law's ``inputs`` table says which run variable feeds N.  A fit on total parameters must not be
fed non-embedding parameters (up to 10x wrong at small N), so each form exists in both readings and
the law file's ``law:`` key records which one was fitted:

    steplaw-fit (N non-embedding)      steplaw-fit-total (N total)
    chinchilla  (N total)              chinchilla-nonemb (N non-embedding)
    cbs-fit     (N total)              cbs-fit-nonemb (N non-embedding)
    kaplan-fit  (N non-embedding)      kaplan-fit-total (N total)

``kaplan-fit`` gives the final loss only: ``fit final --law kaplan`` fits L(N, D), not Kaplan's lr
or critical-batch constants, which a law file of the published form would carry unfitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpadvisor.laws.base import Input, Law, Output, positive
from hpadvisor.laws.loss import Chinchilla, Kaplan
from hpadvisor.laws.sensitivity import FittedSweep

_N_TOTAL = Input("total parameters", "params", "params")
_N_NONEMB = Input("non-embedding parameters", "params", "non_embedding_params")
_D = Input("training tokens", "tokens", "tokens")


@dataclass(frozen=True)
class FittedSweepTotal(FittedSweep):
    """FittedSweep fitted with N = total parameters."""

    key = "steplaw-fit-total"
    title = "Step Law form fitted to your sweep (N = total parameters)"
    inputs = {"N": _N_TOTAL, "D": _D}


@dataclass(frozen=True)
class ChinchillaNonEmb(Chinchilla):
    """Chinchilla's form fitted with N = non-embedding parameters."""

    key = "chinchilla-nonemb"
    title = "Chinchilla L(N, D), N = non-embedding parameters"
    inputs = {**Chinchilla.inputs, "N": _N_NONEMB}


@dataclass(frozen=True)
class KaplanLossFit(Kaplan):
    """Kaplan's L(N, D) fitted to a team's final losses, N = non-embedding parameters: the loss only."""

    key = "kaplan-fit"
    title = "Kaplan L(N, D) fitted to your runs (N = non-embedding parameters)"
    formula = "L = [(Nc/N)^(aN/aD) + Dc/D]^aD"
    outputs = {"final_loss": Output("loss", "nats/token", "final loss (Kaplan's form, fitted)")}


@dataclass(frozen=True)
class KaplanLossFitTotal(KaplanLossFit):
    """KaplanLossFit fitted with N = total parameters."""

    key = "kaplan-fit-total"
    title = "Kaplan L(N, D) fitted to your runs (N = total parameters)"
    inputs = {"N": _N_TOTAL, "D": _D}


@dataclass(frozen=True)
class CriticalBatchFit(Law):
    """Critical batch size fitted from steps-to-target-loss studies (hpadvisor fit batch).

    Per model, steps(B) = S_min (1 + B_noise / B) (McCandlish et al. 2018); the critical batch is
    where steps exceed perfect linear scaling from a reference batch B_ref by ``overhead`` (Zhang
    et al. 2024: 20% over linear scaling from 256 sequences), which on that curve is
    B_crit = overhead x B_noise + (1 + overhead) x B_ref; the law file's fit block records B_ref.
    Across models,
    B_crit = coef (D / 1e9)^d_exp (N / 1e9)^n_exp tokens (n_exp = 0 when N and D were not varied
    independently: Zhang et al. find it grows with data, not model size).
    """

    key = "cbs-fit"
    title = "Critical batch size fitted to your batch study"
    formula = "B_crit = coef (D/1e9)^d_exp (N/1e9)^n_exp tokens"
    inputs = {"N": _N_TOTAL, "D": _D}
    outputs = {"critical_batch_tokens": Output("critical_batch_tokens", "tokens", "critical batch size")}

    coef: float = 1.0e6
    d_exp: float = 0.5
    n_exp: float = 0.0
    overhead: float = 0.2

    def critical_batch_tokens(self, N, D):
        N = positive(N, "N", f"{self.registry_key}.critical_batch_tokens")
        D = positive(D, "D", f"{self.registry_key}.critical_batch_tokens")
        return self.coef * (D / 1e9) ** self.d_exp * (N / 1e9) ** self.n_exp

    def range_values(self, symbols):
        values = dict(symbols)
        if "N" in values and "D" in values:
            values["D/N"] = values["D"] / values["N"]
        return values


@dataclass(frozen=True)
class CriticalBatchFitNonEmb(CriticalBatchFit):
    key = "cbs-fit-nonemb"
    title = "Critical batch size fitted to your batch study (N = non-embedding parameters)"
    inputs = {"N": _N_NONEMB, "D": _D}


FORMS = (FittedSweep, FittedSweepTotal, ChinchillaNonEmb, CriticalBatchFit, CriticalBatchFitNonEmb,
         KaplanLossFit, KaplanLossFitTotal)

#: (form for non-embedding N, form for total N) per kind of fit.
BY_PARAM_COUNT = {
    "sweep": {"non-embedding": FittedSweep, "total": FittedSweepTotal},
    "chinchilla": {"non-embedding": ChinchillaNonEmb, "total": Chinchilla},
    "batch": {"non-embedding": CriticalBatchFitNonEmb, "total": CriticalBatchFit},
    "kaplan": {"non-embedding": KaplanLossFit, "total": KaplanLossFitTotal},
}
