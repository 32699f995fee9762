"""Resolution: validated values -> RunSpec, filling defaults and writing down each assumption."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hpadvisor.errors import InvalidInputError
from hpadvisor.spec import hardware as hw
from hpadvisor.spec import units
from hpadvisor.spec.fields import MAX_COMPUTE
from hpadvisor.spec.model import (
    Architecture,
    HardwareSpec,
    ModelSpec,
    OptimizerSpec,
    RunSpec,
    ScheduleSpec,
)

# ------------------------------------------------------------------------------------------------
# Resolution: dotted values -> RunSpec, filling defaults and writing down each assumption.

Allocator = Callable[[float], tuple[float, float, str]]


def build_spec(values: Mapping[str, Any], *, allocate: Allocator | None = None) -> RunSpec:
    """Turn validated values into a :class:`RunSpec`.

    ``allocate(C) -> (N_opt, D_opt, law key)`` is used when only a compute budget is given.
    Each stage below fills its part and writes down every assumption it makes in ``notes``.
    """
    v = dict(values)
    notes: list[str] = []
    counts, arch = _model_counts(v, notes)
    seq_len = v.get("seq_len")
    if seq_len is None:
        seq_len = 2048
        notes.append("seq_len not given: assumed 2048 tokens.")
    tokens, tpp, budget = _data_values(v)
    budget_used = False
    if "params" not in counts and "non_embedding_params" not in counts:
        counts["params"], tokens = _allocate(budget, allocate, notes)
        budget_used = True
    model = _model(counts, arch, notes)
    tokens = _tokens(model, seq_len, tokens, tpp, None if budget_used else budget, notes)
    batch_tokens = _batch(v, seq_len, tokens)
    return RunSpec(
        model=model,
        tokens=float(tokens),
        seq_len=int(seq_len),
        optimizer=_optimizer(v, seq_len),
        schedule=_schedule(v, notes),
        hardware=_hardware(v, notes),
        batch_tokens=batch_tokens,
        compute_budget=budget,
        name=v.get("name", ""),
        assumptions=tuple(notes),
        proxy=_proxy_values(v, seq_len),
        init_std=v.get("model.architecture.init_std"),
    )


def _data_values(v: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(data.tokens, data.tokens_per_param, data.compute): at most one of them given."""
    tokens = v.get("data.tokens")
    tpp = v.get("data.tokens_per_param")
    budget = v.get("data.compute")
    given_data = [k for k, x in (("data.tokens", tokens), ("data.tokens_per_param", tpp),
                                 ("data.compute", budget)) if x is not None]
    if len(given_data) > 1:
        raise InvalidInputError(
            f"give one of data.tokens, data.tokens_per_param, data.compute; got {', '.join(given_data)}."
        )
    return tokens, tpp, budget


def _model_counts(v: Mapping[str, Any], notes: list[str]) -> tuple[dict[str, float], Architecture | None]:
    """Parameter counts from the architecture (if any), overridden by counts stated in the file."""
    arch = None
    arch_keys = {k.split(".")[-1]: val for k, val in v.items()
                 if k.startswith("model.architecture.") and k != "model.architecture.init_std"}
    if arch_keys:
        missing = [k for k in ("d_model", "n_layers", "n_heads", "vocab_size") if k not in arch_keys]
        if missing:
            raise InvalidInputError(
                "model.architecture needs " + ", ".join(missing) + " (or give model.params instead)."
            )
        arch = Architecture(**arch_keys)
        _check_architecture(arch)

    counts: dict[str, float] = {}
    if arch is not None:
        counts = arch.counts()
    given = {k: v[f"model.{k}"] for k in ("params", "non_embedding_params", "active_params")
             if f"model.{k}" in v}
    for key, value in given.items():
        if key in counts and abs(value / counts[key] - 1) > 0.05:
            notes.append(
                f"model.{key} = {units.format_si(value)} overrides the architecture's "
                f"{units.format_si(counts[key])}."
            )
        counts[key] = value
    return counts, arch


def _allocate(budget: float | None, allocate: Allocator | None, notes: list[str]) -> tuple[float, float]:
    """No model size given: (N, D) compute-optimal for the budget alone."""
    if budget is None:
        raise InvalidInputError(
            "no model size: give model.params (e.g. `params` 7B), a model.architecture, "
            "or a compute budget alone (data.compute)."
        )
    if allocate is None:  # pragma: no cover - the advisor always passes one
        raise InvalidInputError("a compute budget alone needs an allocation law.")
    n_opt, d_opt, law = allocate(budget)
    notes.append(
        f"model and data from the compute budget {units.format_sci(budget)} FLOPs: "
        f"compute-optimal N = {units.format_si(n_opt)}, D = {units.format_si(d_opt)} ({law}, C = 6ND)."
    )
    return n_opt, d_opt


def _model(counts: dict[str, float], arch: Architecture | None, notes: list[str]) -> ModelSpec:
    """Every count filled in (total, non-embedding, active), each default written down."""
    if "params" not in counts:
        counts["params"] = counts["non_embedding_params"]
        notes.append("model.params not given: total parameters taken equal to non-embedding ones.")
    if "non_embedding_params" not in counts:
        counts["non_embedding_params"] = counts["params"]
        notes.append(
            "no architecture or model.non_embedding_params: non-embedding parameters taken equal "
            "to the total (Step Law and Kaplan want non-embedding; give an architecture to fix this)."
        )
    if counts["non_embedding_params"] > counts["params"]:
        raise InvalidInputError(
            f"model.non_embedding_params ({units.format_si(counts['non_embedding_params'])}) exceeds "
            f"model.params ({units.format_si(counts['params'])}): the total must include it."
        )
    if "active_params" not in counts:
        counts["active_params"] = counts["params"]
    if counts["active_params"] > counts["params"]:
        raise InvalidInputError(
            f"model.active_params ({units.format_si(counts['active_params'])}) exceeds model.params "
            f"({units.format_si(counts['params'])})."
        )
    if "active_non_embedding_params" not in counts:
        embedding = counts["params"] - counts["non_embedding_params"]
        counts["active_non_embedding_params"] = max(counts["active_params"] - embedding, 1.0)
    return ModelSpec(
        params=counts["params"],
        non_embedding_params=counts["non_embedding_params"],
        active_params=counts["active_params"],
        active_non_embedding_params=counts["active_non_embedding_params"],
        architecture=arch,
    )


def _tokens(model: ModelSpec, seq_len: int, tokens: float | None, tpp: float | None,
            budget: float | None, notes: list[str]) -> float:
    """The run's tokens: stated, from tokens per parameter, or from an unused compute budget."""
    if tpp is not None:
        tokens = tpp * model.params
    provisional = RunSpec(model=model, tokens=1.0, seq_len=seq_len)
    if tokens is None and budget is not None:
        tokens = budget / provisional.flops_per_token
        notes.append(
            f"data.tokens from the compute budget: C / M = {units.format_si(tokens)} tokens "
            f"(M = {units.format_sci(provisional.flops_per_token)} FLOPs/token)."
        )
    if tokens is None:
        raise InvalidInputError(
            "no data size: give data.tokens (e.g. `tokens` 2T), data.tokens_per_param or data.compute."
        )
    if tokens < seq_len:
        raise InvalidInputError(
            f"data.tokens ({units.format_si(tokens)}) is fewer than one sequence of {seq_len} tokens."
        )
    if not provisional.flops_per_token * tokens <= MAX_COMPUTE:
        raise InvalidInputError(
            f"model.params ({units.format_si(model.params)}) x data.tokens ({units.format_si(tokens)}) "
            f"is {provisional.flops_per_token * tokens:.3g} FLOPs, beyond the "
            f"{MAX_COMPUTE:.0e} hpadvisor computes with (the largest runs so far are near 1e26): check the units."
        )
    return tokens


def _batch(v: Mapping[str, Any], seq_len: int, tokens: float) -> float | None:
    batch_tokens = _batch_tokens(v.get("batch"), seq_len)
    if batch_tokens is not None and batch_tokens < seq_len:
        raise InvalidInputError(
            f"batch ({units.format_si(batch_tokens)} tokens) is less than one sequence of {seq_len} tokens."
        )
    if batch_tokens is not None and batch_tokens > tokens:
        raise InvalidInputError(
            f"batch ({units.format_si(batch_tokens)} tokens) is larger than the whole run "
            f"({units.format_si(tokens)} tokens)."
        )
    return batch_tokens


def _optimizer(v: Mapping[str, Any], seq_len: int) -> OptimizerSpec:
    opt = OptimizerSpec(
        name=v.get("optimizer.name", "adamw"),
        lr=v.get("optimizer.lr"),
        beta1=v.get("optimizer.beta1", 0.9),
        beta2=v.get("optimizer.beta2"),
        eps=v.get("optimizer.eps"),
        weight_decay=v.get("optimizer.weight_decay"),
        reference_lr=v.get("optimizer.reference.lr"),
        reference_tokens=v.get("optimizer.reference.tokens"),
        reference_batch_tokens=_batch_tokens(v.get("optimizer.reference.batch"), seq_len),
    )
    if (opt.reference_tokens is None) != (opt.reference_lr is None) and opt.reference_batch_tokens is None:
        raise InvalidInputError(
            "optimizer.reference needs both lr and tokens (and optionally batch)."
        )
    return opt


def _schedule(v: Mapping[str, Any], notes: list[str]) -> ScheduleSpec:
    sched_kw: dict[str, Any] = {"shape": v.get("schedule.shape", "cosine")}
    warm = v.get("schedule.warmup")
    if warm is not None:
        kind, amount = warm
        sched_kw[{"steps": "warmup_steps", "tokens": "warmup_tokens", "fraction": "warmup_fraction"}[kind]] = amount
    for key in ("decay_fraction", "min_lr", "min_lr_ratio", "decay_shape", "cooldowns", "trainer"):
        if f"schedule.{key}" in v:
            sched_kw[key] = v[f"schedule.{key}"]
    if "min_lr" in sched_kw and "min_lr_ratio" in sched_kw:
        raise InvalidInputError("give schedule.min_lr or schedule.min_lr_ratio, not both.")
    for key in ("decay_fraction", "decay_shape", "cooldowns"):
        if sched_kw.get(key) is not None and sched_kw["shape"] != "wsd":
            notes.append(f"schedule.{key} applies to wsd; the {sched_kw['shape']} schedule ignores it.")
    return ScheduleSpec(**sched_kw)


def _hardware(v: Mapping[str, Any], notes: list[str]) -> HardwareSpec:
    name = v.get("hardware.accelerator")
    if "hardware.peak_flops" in v:
        acc, peak, src = name or "custom", v["hardware.peak_flops"], "hardware.peak_flops"
    else:
        if name is None:
            name = hw.DEFAULT_ACCELERATOR
            notes.append(f"hardware not given: assumed {name} (BF16 dense peak).")
        acc, peak, src = hw.lookup(name)
    mfu = v.get("hardware.mfu")
    if mfu is None:
        mfu = hw.DEFAULT_MFU
        notes.append(f"hardware.mfu not given: assumed {mfu}.")
    if mfu <= 0:
        raise InvalidInputError("hardware.mfu must be > 0 (e.g. 0.4).")
    return HardwareSpec(accelerator=acc, peak_flops=peak, mfu=mfu, count=v.get("hardware.count"), source=src)


def _proxy_values(v: Mapping[str, Any], seq_len: int) -> dict[str, Any] | None:
    proxy = {k.split(".", 1)[1]: val for k, val in v.items() if k.startswith("proxy.")}
    if not proxy:
        return None
    if "batch" in proxy:
        proxy["batch"] = _batch_tokens(proxy["batch"], seq_len)
    return proxy


def _batch_tokens(batch: tuple[float, str] | None, seq_len: int) -> float | None:
    if batch is None:
        return None
    number, unit = batch
    return number * seq_len if unit == "sequences" else number


def _check_architecture(arch: Architecture) -> None:
    if arch.head_dim is None and arch.d_model % arch.n_heads:
        raise InvalidInputError(
            f"model.architecture: n_heads ({arch.n_heads}) does not divide d_model ({arch.d_model}); "
            "give head_dim."
        )
    if arch.n_kv_heads is not None and (arch.n_kv_heads > arch.n_heads or arch.n_heads % arch.n_kv_heads):
        raise InvalidInputError(
            f"model.architecture: n_kv_heads ({arch.n_kv_heads}) must divide n_heads ({arch.n_heads})."
        )
    if (arch.n_experts is None) != (arch.top_k is None):
        raise InvalidInputError("model.architecture: MoE needs both n_experts and top_k.")
    if arch.n_experts is not None and arch.top_k is not None and arch.top_k > arch.n_experts:
        raise InvalidInputError(
            f"model.architecture: top_k ({arch.top_k}) exceeds n_experts ({arch.n_experts})."
        )


