"""Law forms that only fits produce: the parameter-count variants and the fitted batch law.

A law's ``inputs`` table says which run variable feeds N.  A fit on total parameters must not be
fed non-embedding parameters (up to 10x wrong at small N), so each form exists in both readings and
the law file's ``law:`` key records which one was fitted:

    steplaw-fit (N non-embedding)      steplaw-fit-total (N total)
    chinchilla  (N total)              chinchilla-nonemb (N non-embedding)
    cbs-fit     (N total)              cbs-fit-nonemb (N non-embedding)
    kaplan-fit  (N non-embedding)      kaplan-fit-total (N total)
    chinchilla-ndexp (N total)         chinchilla-ndexp-nonemb (N non-embedding)

``kaplan-fit`` gives the final loss only: ``fit final --law kaplan`` fits L(N, D), not Kaplan's lr
or critical-batch constants, which a law file of the published form would carry unfitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpadvisor.laws.base import DataPerParamRange, Input, Law, Output, positive
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
class CriticalBatchFit(DataPerParamRange, Law):
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


@dataclass(frozen=True)
class CriticalBatchFitNonEmb(CriticalBatchFit):
    key = "cbs-fit-nonemb"
    title = "Critical batch size fitted to your batch study (N = non-embedding parameters)"
    inputs = {"N": _N_NONEMB, "D": _D}


#: N at which the N-dependent data exponent equals beta (a normalisation: conditioning only).
NDEXP_N0 = 1e9
#: The compute-optimal N is searched over this grid of ln N (1e4 to 1e14 parameters).
_LN_N_GRID = np.linspace(np.log(1e4), np.log(1e14), 2001)


@dataclass(frozen=True)
class ChinchillaNDExp(Law):
    """Chinchilla's form with an N-dependent data exponent, fitted to a team's final losses.

    L = E + A / N^alpha + B / D^(beta (N / 1e9)^beta_exp_n).  beta_exp_n = 0 is Chinchilla's form; beta_exp_n != 0
    lets the data term fall faster (beta_exp_n > 0) or slower with D in larger models.  The constants:
    E the irreducible loss (nats/token), A and B the model- and data-size terms' scales, alpha and
    beta their exponents (beta at N = 1e9), beta_exp_n how the data exponent changes with N.

    Source: hpadvisor's L(N, D) extrapolation benchmark (benchmarks/lnd_extrapolate.md),
    where it was the one candidate whose held-out error averaged over four labs' ladders (Epoch's
    Chinchilla points, Porian et al., Gemstones, (Mis)Fitting) was lowest (1.89% against Chinchilla's
    3.28%).  The idea of a data exponent that depends on N is Farseer's (Li et al. 2025,
    arXiv:2506.10972, whose L = E + U(N) + B(N) D^-A(N) lets both the data term's scale and its
    exponent depend on N); this one-constant version is hpadvisor's, not a published law, and has no
    published constants: it exists only as a fit.  ``fit final`` chooses it over Chinchilla only when
    the user's own extrapolation split shows it clearly better (fitting.final).
    """

    key = "chinchilla-ndexp"
    title = "Chinchilla L(N, D) with an N-dependent data exponent, fitted to your runs (N = total parameters)"
    formula = "L = E + A/N^alpha + B/D^(beta (N/1e9)^beta_exp_n) ; C = 6 N D"
    inputs = Chinchilla.inputs  # N (total), D, and C = 6 N D, as Chinchilla's
    outputs = {
        "final_loss": Output("loss", "nats/token", "final loss (fitted)"),
        "compute_optimal_params": Output("optimal_params", "params", "N_opt at the same compute (numerical)"),
        "compute_optimal_tokens": Output("optimal_tokens", "tokens", "D_opt at the same compute (numerical)"),
    }

    E: float = 1.8
    A: float = 400.0
    B: float = 400.0
    alpha: float = 0.34
    beta: float = 0.28
    beta_exp_n: float = 0.0

    def loss(self, N, D):
        N = positive(N, "N", f"{self.registry_key}.loss")
        D = positive(D, "D", f"{self.registry_key}.loss")
        with np.errstate(over="ignore"):
            return self._loss(N, D)

    def _loss(self, N, D):
        """The formula, on checked N and D."""
        return self.E + self.A / N**self.alpha + self.B / D ** (self.beta * (N / NDEXP_N0) ** self.beta_exp_n)

    def optimal_params(self, C):
        """argmin over N of L(N, C / 6N), on a grid of ln N refined by a parabola."""
        C = positive(C, "C", f"{self.registry_key}.optimal_params")
        flat = np.atleast_1d(C).ravel()
        out = np.array([self._argmin_n(float(c)) for c in flat])
        return out.reshape(np.shape(C)) if np.ndim(C) else out[0]

    def optimal_tokens(self, C):
        C = positive(C, "C", f"{self.registry_key}.optimal_tokens")
        return C / (6.0 * self.optimal_params(C))

    def _argmin_n(self, C: float) -> float:
        N = np.exp(_LN_N_GRID)
        with np.errstate(all="ignore"):
            L = self._loss(N, C / (6 * N))
        L = np.where(np.isfinite(L), L, np.inf)
        i = int(np.argmin(L))
        if 0 < i < L.size - 1:
            y0, y1, y2 = L[i - 1:i + 2]
            den = y0 - 2 * y1 + y2
            if den > 0:
                step = _LN_N_GRID[1] - _LN_N_GRID[0]
                return float(np.exp(_LN_N_GRID[i] - 0.5 * step * (y2 - y0) / den))
        return float(N[i])

    range_values = Chinchilla.range_values  # C = 6 N D from N and D, as Chinchilla's


@dataclass(frozen=True)
class ChinchillaNDExpNonEmb(ChinchillaNDExp):
    """ChinchillaNDExp fitted with N = non-embedding parameters."""

    key = "chinchilla-ndexp-nonemb"
    title = "Chinchilla L(N, D) with an N-dependent data exponent, fitted to your runs (N = non-embedding parameters)"
    inputs = {**ChinchillaNDExp.inputs, "N": _N_NONEMB}


FORMS = (FittedSweep, FittedSweepTotal, ChinchillaNonEmb, CriticalBatchFit, CriticalBatchFitNonEmb,
         KaplanLossFit, KaplanLossFitTotal, ChinchillaNDExp, ChinchillaNDExpNonEmb)

#: (form for non-embedding N, form for total N) per kind of fit.
BY_PARAM_COUNT = {
    "sweep": {"non-embedding": FittedSweep, "total": FittedSweepTotal},
    "chinchilla": {"non-embedding": ChinchillaNonEmb, "total": Chinchilla},
    "batch": {"non-embedding": CriticalBatchFitNonEmb, "total": CriticalBatchFit},
    "kaplan": {"non-embedding": KaplanLossFit, "total": KaplanLossFitTotal},
    "chinchilla-ndexp": {"non-embedding": ChinchillaNDExpNonEmb, "total": ChinchillaNDExp},
}
