"""Peak dense BF16 tensor throughput of common accelerators (vendor datasheets, no sparsity).

Values are FLOP/s per device.  MFU is applied on top of these; give ``hardware.peak_flops`` to use
another figure (FP8, a clock-limited part, a different datasheet).
"""

from __future__ import annotations

from hpadvisor.errors import InvalidInputError, did_you_mean

#: name -> (peak dense BF16 FLOP/s, source)
ACCELERATORS: dict[str, tuple[float, str]] = {
    "A100": (312e12, "NVIDIA A100 datasheet: BF16 tensor 312 TFLOPS dense (624 with sparsity)"),
    "H100-SXM": (989e12, "NVIDIA H100 datasheet: SXM BF16 tensor 1,979 TFLOPS with sparsity, 989 dense"),
    "H100-PCIE": (756e12, "NVIDIA H100 datasheet: PCIe BF16 tensor 1,513 TFLOPS with sparsity, 756 dense"),
    "H200": (989e12, "NVIDIA H200 datasheet: BF16 tensor 1,979 TFLOPS with sparsity, 989 dense"),
    "B200": (2.25e15, "NVIDIA HGX B200: BF16 tensor 2.25 PFLOPS dense per GPU"),
    "GB200": (2.5e15, "NVIDIA GB200 NVL72: BF16 tensor 2.5 PFLOPS dense per GPU"),
    "L40S": (362e12, "NVIDIA L40S datasheet: BF16 tensor 733 TFLOPS with sparsity, 362 dense"),
    "MI250X": (383e12, "AMD Instinct MI250X: peak BF16 383 TFLOPS"),
    "MI300X": (1307e12, "AMD Instinct MI300X: peak BF16 dense 1,307.4 TFLOPS"),
    "MI325X": (1307e12, "AMD Instinct MI325X: peak BF16 dense 1,307.4 TFLOPS"),
    "TPU-V4": (275e12, "Google Cloud TPU v4: 275 TFLOPS BF16 per chip"),
    "TPU-V5E": (197e12, "Google Cloud TPU v5e: 197 TFLOPS BF16 per chip"),
    "TPU-V5P": (459e12, "Google Cloud TPU v5p: 459 TFLOPS BF16 per chip"),
    "TPU-V6E": (918e12, "Google Cloud TPU v6e (Trillium): 918 TFLOPS BF16 per chip"),
}

_ALIASES = {
    "H100": "H100-SXM",
    "A100-SXM": "A100",
    "A100-80GB": "A100",
    "A100-40GB": "A100",
    "V4": "TPU-V4",
    "V5E": "TPU-V5E",
    "V5P": "TPU-V5P",
    "V6E": "TPU-V6E",
    "TRILLIUM": "TPU-V6E",
}

DEFAULT_ACCELERATOR = "H100-SXM"
DEFAULT_MFU = 0.4


def _norm(name: str) -> str:
    return name.strip().upper().replace("_", "-").replace(" ", "-")


def lookup(name: str) -> tuple[str, float, str]:
    """(canonical name, peak FLOP/s, source) for an accelerator name, case-insensitively."""
    key = _norm(name)
    key = _ALIASES.get(key, key)
    if key not in ACCELERATORS:
        raise InvalidInputError(
            f"unknown accelerator '{name}'.{did_you_mean(key, list(ACCELERATORS) + list(_ALIASES))} "
            "Or give hardware.peak_flops (FLOP/s per device)."
        )
    flops, source = ACCELERATORS[key]
    return key, flops, source
