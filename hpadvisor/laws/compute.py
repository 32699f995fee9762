"""Training compute and time: C in FLOPs three ways, accelerator-hours and wall time at an MFU."""

from __future__ import annotations

from dataclasses import dataclass

from hpadvisor.laws.base import Input, Law, Output, Provenance, positive

_D = Input("training tokens", "tokens", "tokens")


@dataclass(frozen=True)
class TrainingFlops(Law):
    """C = k N D: 6 FLOPs per parameter per token (2 forward, 4 backward), N by convention.

    ``deepseek-flops`` uses M, the FLOPs per token with attention (see hpadvisor.spec); ``6nd``
    Kaplan's non-embedding N; ``6nd-total`` Hoffmann's total N.
    """

    key = "6nd"
    title = "Training FLOPs"
    formula = "C = 6 N D"
    inputs = {
        "N": Input("active non-embedding parameters", "params", "active_non_embedding_params"),
        "D": _D,
    }
    outputs = {"compute_flops": Output("flops", "FLOPs", "training compute")}

    flops_per_param_token: float = 6.0

    def flops(self, N, D):
        where = f"{self.registry_key}.flops"
        return self.flops_per_param_token * positive(N, "N", where) * positive(D, "D", where)


KAPLAN_6ND = TrainingFlops(
    provenance=Provenance(
        citation="Kaplan et al. 2020 (arXiv:2001.08361), section 2.1: C ~ 6 N D, N non-embedding",
        source="paper",
        notes="For MoE, N is the active non-embedding parameters.",
    )
)


@dataclass(frozen=True)
class TotalFlops(TrainingFlops):
    key = "6nd-total"
    title = "Training FLOPs, total parameters"
    inputs = {"N": Input("active total parameters", "params", "active_params"), "D": _D}


CHINCHILLA_6ND = TotalFlops(
    provenance=Provenance(
        citation="Hoffmann et al. 2022 (arXiv:2203.15556): C = 6 N D with N all parameters",
        source="paper",
    )
)


@dataclass(frozen=True)
class FlopsPerToken(Law):
    """C = M D with M = 6 N_active_nonemb + 12 n_layers n_heads d_head seq_len (attention)."""

    key = "deepseek-flops"
    title = "Training FLOPs with attention (DeepSeek M)"
    formula = "C = M D ; M = 72 n_layer d^2 + 12 n_layer d l_seq"
    inputs = {
        "M": Input("training FLOPs per token with attention", "FLOPs/token", "flops_per_token"),
        "D": _D,
    }
    outputs = {"compute_flops": Output("flops", "FLOPs", "training compute")}

    def flops(self, M, D):
        return positive(M, "M", "deepseek-flops.flops") * positive(D, "D", "deepseek-flops.flops")


DEEPSEEK_FLOPS = FlopsPerToken(
    provenance=Provenance(
        citation="DeepSeek-AI 2024, DeepSeek LLM (arXiv:2401.02954), section 3.1: "
        "M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq",
        source="paper; generalised to GQA/SwiGLU/MoE through the exact non-embedding count",
        notes="Without an architecture the attention term is unknown and M = 6 N.",
        checked_against="DeepSeek LLM 7B (30 layers, d_model 4096, sequence 4096): M = 4.228e10 "
        "FLOPs per token from the architecture, the paper's 72 n_layer d^2 + 12 n_layer d l_seq "
        "within 0.2%.",
    )
)


@dataclass(frozen=True)
class AcceleratorTime(Law):
    """Accelerator-hours = C / (peak FLOP/s x MFU) / 3600; wall time divides by the device count."""

    key = "mfu-time"
    title = "Time at a model FLOPs utilisation"
    formula = "hours = C / (peak * MFU) / 3600"
    inputs = {
        "C": Input("training compute", "FLOPs", "compute_flops"),
        "peak": Input("peak FLOP/s per device", "FLOP/s", "peak_flops"),
        "mfu": Input("model FLOPs utilisation", "fraction", "mfu"),
        "n": Input("number of devices", "devices", "accelerator_count"),
    }
    outputs = {
        "accelerator_hours": Output("accelerator_hours", "device-hours", "device time"),
        "wall_clock_hours": Output("wall_clock_hours", "hours", "wall time on all devices"),
    }

    def accelerator_hours(self, C, peak, mfu):
        where = "mfu-time.accelerator_hours"
        rate = positive(peak, "peak", where) * positive(mfu, "mfu", where)
        return positive(C, "C", where) / rate / 3600.0

    def wall_clock_hours(self, C, peak, mfu, n):
        return self.accelerator_hours(C, peak, mfu) / positive(n, "n", "mfu-time.wall_clock_hours")


MFU_TIME = AcceleratorTime(
    provenance=Provenance(
        citation="Chowdhery et al. 2022, PaLM (arXiv:2204.02311), appendix B: model FLOPs utilisation",
        source="definition; peak FLOP/s from vendor datasheets (hpadvisor.spec.hardware)",
    )
)
