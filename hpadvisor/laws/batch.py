"""Critical batch size and what a batch choice costs: Zhang et al. 2024, McCandlish et al. 2018,
and the square-root learning-rate rule for Adam (Malladi et al. 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

from hpadvisor.laws.base import Input, Law, Output, Provenance, positive

_D = Input("training tokens", "tokens", "tokens")


@dataclass(frozen=True)
class ZhangCBS(Law):
    """Zhang et al. 2024, "How Does Critical Batch Size Scale in Pre-training?".

    Their notebook fits CBS = 93.197 (N / 1e6)^0.4683 sequences of 512 tokens on Chinchilla-scaled
    runs (D = 20 N).  The paper's finding is that CBS grows with data, not model size, so the law
    is read here as a function of D by substituting N = D / 20:
    CBS(D) = 512 * 93.197 * (D / 20 / 1e6)^0.4683 tokens.
    CBS is where steps stop falling linearly with batch: a 20% step overhead over perfect scaling.
    """

    key = "zhang-cbs"
    title = "Critical batch size (Zhang et al. 2024)"
    formula = "B_crit = 512 * 93.197 (D / 2e7)^0.4683 tokens"
    inputs = {"D": _D}
    outputs = {"critical_batch_tokens": Output("critical_batch_tokens", "tokens", "critical batch size")}

    coef_seqs: float = 93.197
    exponent: float = 0.4683
    tokens_per_param: float = 20.0
    seq_len: float = 512.0

    def critical_batch_tokens(self, D):
        D = positive(D, "D", "zhang-cbs.critical_batch_tokens")
        n_equiv = D / self.tokens_per_param
        return self.seq_len * self.coef_seqs * (n_equiv / 1e6) ** self.exponent


ZHANG_CBS = ZhangCBS(
    provenance=Provenance(
        citation="Zhang et al. 2024, How Does Critical Batch Size Scale in Pre-training? "
        "(arXiv:2410.21676, ICLR 2025)",
        source="hlzhang109/critical-batch-size plots/chinchilla.ipynb fit: per model 85M 745, "
        "151M 955, 302M 1394, 604M 1889, 1.2B 2533 sequences of 512",
        fitted_range=(("D", 1.7e9, 2.4e10),),
        notes="Fitted on D = 20 N runs (85M-1.2B), constant lr + weight averaging, C4. Read as a "
        "law in D following the paper's conclusion; data exponent ~0.46 [secondary].",
        checked_against="The authors' notebook: 745 sequences of 512 for the 85M model (D = 1.7B "
        "tokens), within 0.5%. hpadvisor fit batch on their measurements (data/critical_batch_size) "
        "reproduces their 745.3, 955.2, 1393.7, 1888.5, 2533.4 sequences for 85M-1.2B.",
    )
)


@dataclass(frozen=True)
class McCandlish(Law):
    """McCandlish et al. 2018 trade-off: (S/S_min - 1)(E/E_min - 1) = 1, B_crit = E_min / S_min.

    With batch B: E/E_min = 1 + B/B_crit (tokens needed vs the fewest possible) and
    S/S_min = 1 + B_crit/B (steps needed vs the fewest possible).
    """

    key = "mccandlish"
    title = "Batch trade-off (McCandlish et al. 2018)"
    formula = "E/E_min - 1 = B/B_crit ; S/S_min - 1 = B_crit/B"
    inputs = {
        "B": Input("batch size in use", "tokens", "batch_tokens"),
        "B_crit": Input("critical batch size", "tokens", "critical_batch_tokens"),
    }
    outputs = {
        "batch_data_overhead": Output(
            "data_overhead", "fraction", "extra tokens over the minimum, E/E_min - 1"
        ),
        "batch_step_overhead": Output(
            "step_overhead", "fraction", "extra steps over the minimum, S/S_min - 1"
        ),
    }

    def data_overhead(self, B, B_crit):
        return positive(B, "B", "mccandlish.data_overhead") / positive(
            B_crit, "B_crit", "mccandlish.data_overhead"
        )

    def step_overhead(self, B, B_crit):
        return positive(B_crit, "B_crit", "mccandlish.step_overhead") / positive(
            B, "B", "mccandlish.step_overhead"
        )


MCCANDLISH = McCandlish(
    provenance=Provenance(
        citation="McCandlish et al. 2018, An Empirical Model of Large-Batch Training "
        "(arXiv:1812.06162), eq. 2.11-2.12",
        source="paper",
        checked_against="The paper's definition: at B = B_crit training takes twice the minimal "
        "data and twice the minimal steps (E/E_min - 1 = S/S_min - 1 = 1).",
    )
)


@dataclass(frozen=True)
class SqrtBatchLR(Law):
    """Square-root rule for Adam: lr at batch B = lr_ref sqrt(B / B_ref) (Malladi et al. 2022).

    Used when the user fixes a batch other than the recommended one.  It holds below the noise
    scale; above it the optimal Adam lr stops rising ("surge", Li et al. 2024).
    """

    key = "sqrt-batch"
    title = "Square-root lr rule for Adam (Malladi et al. 2022)"
    formula = "lr = lr_ref (B / B_ref)^0.5"
    inputs = {
        "lr_ref": Input("learning rate at the reference batch", "", "reference_lr"),
        "B_ref": Input("reference batch", "tokens", "reference_batch_tokens"),
        "B": Input("batch in use", "tokens", "batch_tokens"),
    }
    outputs = {"peak_lr": Output("lr", "", "lr rescaled to the batch in use")}

    exponent: float = 0.5

    def lr(self, lr_ref, B_ref, B):
        lr_ref = positive(lr_ref, "lr_ref", "sqrt-batch.lr")
        ratio = positive(B, "B", "sqrt-batch.lr") / positive(B_ref, "B_ref", "sqrt-batch.lr")
        return lr_ref * ratio**self.exponent


SQRT_BATCH = SqrtBatchLR(
    provenance=Provenance(
        citation="Malladi et al. 2022, On the SDEs and Scaling Rules for Adaptive Gradient "
        "Algorithms (arXiv:2205.10287)",
        source="paper; random-matrix argument in Granziol et al. 2022",
        checked_against="No published figure: a ratio rule (4x the batch: 2x the lr).",
    )
)
