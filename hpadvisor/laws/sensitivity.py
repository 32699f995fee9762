"""What a wrong learning rate or batch size costs: the relative loss increase near the optimum.

No paper gives this figure as a law, so it is CALIBRATED HERE on public data:
the Step Law dense sweeps (Li et al. 2025; 1,911 runs, 17 (N, D) settings, 181 diverged runs
dropped).  Procedure (hpadvisor.fitting.surface, reproduced by tests/test_fit_sensitivity.py):
per setting, the runs within 2% of the best smoothed final loss are fitted with the asymmetric
bowl

    ln L = ln L* + a(x) x^2 + b(z) z^2 + c x z,   x = ln(lr / lr*),  z = ln(B / B*),

(a = lr_lo below the optimum, lr_hi above; b = batch_lo / batch_hi likewise), and each constant is
the median over the 17 settings.  An lr twice too high costs about 0.53% loss, twice too low
0.23%; a batch twice too big 0.29%, half as big 0.32% (each with the other at its optimum).
Valid near the optimum: the runs behind it span about 0.19-2.9x the optimal lr and 0.21-4.2x
the optimal batch (medians over the settings).  ``hpadvisor fit sweep`` measures the same figure
on a team's own sweep and saves it in the fitted law, which then replaces this one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hpadvisor.laws.base import Law, Output, Provenance, positive
from hpadvisor.laws.lr_batch import StepLaw

_LN2 = math.log(2.0)

_COST_OUTPUTS = {
    "loss_cost_lr_2x_high": Output("lr_2x_high", "fraction", "relative loss cost of an lr 2x above the optimum"),
    "loss_cost_lr_2x_low": Output("lr_2x_low", "fraction", "relative loss cost of an lr 2x below the optimum"),
    "loss_cost_batch_2x_high": Output("batch_2x_high", "fraction", "relative loss cost of a batch 2x the optimum"),
    "loss_cost_batch_2x_low": Output("batch_2x_low", "fraction", "relative loss cost of a batch half the optimum"),
}


class _LossCost:
    """relative_loss_cost and the 2x figures, for any law carrying the five bowl constants."""

    kinds: ClassVar[frozenset[str]] = frozenset({"sensitivity"})

    lr_lo: float
    lr_hi: float
    batch_lo: float
    batch_hi: float
    cross: float

    def relative_loss_cost(self, lr_ratio, batch_ratio=1.0):
        """Predicted L / L* - 1 at lr = lr_ratio * lr*, B = batch_ratio * B* (both > 0)."""
        where = f"{getattr(self, 'registry_key', 'sensitivity')}.relative_loss_cost"
        x = np.log(positive(lr_ratio, "lr_ratio", where))
        z = np.log(positive(batch_ratio, "batch_ratio", where))
        a = np.where(x < 0, self.lr_lo, self.lr_hi)
        b = np.where(z < 0, self.batch_lo, self.batch_hi)
        return np.expm1(a * x * x + b * z * z + self.cross * x * z)

    def lr_2x_high(self):
        return math.expm1(self.lr_hi * _LN2**2)

    def lr_2x_low(self):
        return math.expm1(self.lr_lo * _LN2**2)

    def batch_2x_high(self):
        return math.expm1(self.batch_hi * _LN2**2)

    def batch_2x_low(self):
        return math.expm1(self.batch_lo * _LN2**2)


@dataclass(frozen=True)
class LossSensitivity(_LossCost, Law):
    """Relative loss cost of an lr / batch off its optimum (asymmetric bowl in log lr, log B).

    ``relative_loss_cost(lr_ratio, batch_ratio)`` = exp(a x^2 + b z^2 + c x z) - 1 with
    x = ln lr_ratio, z = ln batch_ratio, a = lr_lo (x < 0) or lr_hi, b = batch_lo (z < 0) or
    batch_hi, c = cross; constants in ln-loss per (ln ratio)^2.
    """

    key = "steplaw-sensitivity"
    title = "Loss cost of an lr / batch off the optimum (calibrated on Step Law sweeps)"
    formula = "L/L* - 1 = exp(a x^2 + b z^2 + c x z) - 1 ; x = ln(lr/lr*), z = ln(B/B*)"
    inputs = {}
    outputs = _COST_OUTPUTS

    lr_lo: float = 4.731e-3
    lr_hi: float = 1.0909e-2
    batch_lo: float = 6.585e-3
    batch_hi: float = 6.028e-3
    cross: float = -4.789e-3


STEPLAW_SENSITIVITY = LossSensitivity(
    provenance=Provenance(
        citation="calibrated by hpadvisor on the Step Law dense sweeps (Li et al. 2025, "
        "arXiv:2503.04715; step-law/steplaw data/dense_lr_bs_loss.csv)",
        source="hpadvisor.fitting.surface on the released sweeps: per (N, D) setting, least squares on "
        "ln(smooth loss) of the runs within 2% of the best (diverged runs, loss > 4, dropped); "
        "median of each constant over the 17 settings",
        fitted_range=(("lr_ratio", 0.19, 2.9), ("batch_ratio", 0.21, 4.2)),
        notes="Not a published law: calibrated here. Dense Llama-style models 215M-1.07B "
        "non-embedding params, 4B-100B tokens, seq 2048, cosine to 1e-5. lr 2x high costs 0.53%, "
        "2x low 0.23%; batch 2x 0.29%, half 0.32%. Settings vary: lr 2x high costs 0.3-2.5%.",
        checked_against="Not a published law: the calibration is recomputed from the authors' "
        "released sweeps to 1% (every constant and the fitted ranges).",
    )
)


@dataclass(frozen=True)
class FittedSweep(_LossCost, StepLaw):
    """Step Law's form fitted to a team's own sweep, carrying that sweep's loss sensitivity.

    lr* = lr_coef N^lr_exp_n D^lr_exp_d, B* = bs_coef D^bs_exp_d tokens (N non-embedding), plus
    ``relative_loss_cost(lr_ratio, batch_ratio)`` measured on the same sweep (see LossSensitivity).
    """

    key = "steplaw-fit"
    title = "Step Law form fitted to your sweep (with its loss sensitivity)"
    formula = ("lr* = a N^alpha D^beta ; B* = b D^gamma tokens ; "
               "L/L* - 1 = exp(a x^2 + b z^2 + c x z) - 1")
    outputs = {**StepLaw.outputs, **_COST_OUTPUTS}

    lr_lo: float = STEPLAW_SENSITIVITY.lr_lo
    lr_hi: float = STEPLAW_SENSITIVITY.lr_hi
    batch_lo: float = STEPLAW_SENSITIVITY.batch_lo
    batch_hi: float = STEPLAW_SENSITIVITY.batch_hi
    cross: float = STEPLAW_SENSITIVITY.cross
