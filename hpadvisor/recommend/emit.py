"""The advice as a trainer's own config snippet (`recommend --emit`): canonical values in base units,
written in the trainer's field names, with a note for every value the trainer cannot take as given."""

from __future__ import annotations

import math
from typing import Any

from hpadvisor.formats.base import ARCH_KEYS
from hpadvisor.formats.registry import TRAINERS


def canonical_values(advice: Any) -> dict[str, Any]:
    """The advice as canonical trainer settings (``hpadvisor.formats`` names, base units)."""
    spec = advice.spec
    recs = {r.name: r for r in advice.recommendations if r.value is not None}
    out: dict[str, Any] = {"seq_len": spec.seq_len}
    if "peak_lr" in recs:
        out["lr"] = float(f"{recs['peak_lr'].value:.3g}")
        if "min_lr" in recs:
            out["min_lr"] = float(f"{recs['min_lr'].value / recs['peak_lr'].value * out['lr']:.3g}")
    seqs = (round(spec.batch_tokens / spec.seq_len) if spec.batch_tokens is not None
            else int(recs["batch_sequences"].value) if "batch_sequences" in recs else None)
    if seqs:
        # Trainers that state the batch per device need a split.  The device layout (tensor and
        # pipeline parallelism) is not in the run spec, so the split is written for one
        # data-parallel rank: the largest micro batch up to 8 that divides the batch (tune it for
        # memory), the rest as accumulation; divide the accumulation by the real data-parallel
        # size.  The advised global batch is kept exactly (132 seqs: micro 6 x 22, not 8 x 16 = 128).
        dp = 1
        micro = next(m for m in range(min(8, int(seqs)), 0, -1) if int(seqs) % m == 0)
        per = micro * dp
        out.update(global_batch_seqs=int(seqs), micro_batch_seqs=micro, grad_accum=int(seqs // per),
                   data_parallel=dp)
        steps = math.ceil(spec.tokens / (seqs * spec.seq_len))
        out["train_steps"] = steps
        out["decay_steps"] = steps
        if "warmup_steps" in recs:
            out["warmup_steps"] = int(min(recs["warmup_steps"].value, steps - 1))
    shape = spec.schedule.shape
    if shape in ("cosine", "linear", "wsd", "constant", "inverse_sqrt", "multistep"):
        out["schedule"] = shape
    if shape == "wsd" and "decay_fraction" in recs and "train_steps" in out:
        out["wsd_decay_steps"] = max(1, round(recs["decay_fraction"].value * out["train_steps"]))
    if shape == "wsd" and (spec.schedule.cooldowns or 1) > 1:  # WSD-S: a run file writes it, trainers cannot
        out["cooldowns"] = int(spec.schedule.cooldowns)
    if shape == "wsd":  # always written: trainers' own defaults differ (Megatron exponential, HF cosine)
        from hpadvisor.spec import DECAY_ALIASES

        style = spec.schedule.decay_shape or "linear"
        out["wsd_decay_style"] = DECAY_ALIASES.get(style, style)
    if "weight_decay" in recs:
        out["weight_decay"] = float(f"{recs['weight_decay'].value:.3g}")
        out["wd_on_norms"] = False
        out["wd_on_embeddings"] = False
    out["beta1"] = spec.optimizer.beta1
    if "adam_beta2" in recs:
        out["beta2"] = float(f"{recs['adam_beta2'].value:.4g}")
    arch = spec.model.architecture
    if arch is None:  # the size alone (a run file writes it; trainers name it as left out)
        out["params"] = spec.model.params
    if arch is not None:
        for key in ARCH_KEYS:
            x = getattr(arch, key, None)
            if x is not None and not (key == "n_shared_experts" and not x):  # 0: nothing to write
                out[key] = x
        out["ffn_hidden"] = arch.ffn
    return out


def emit_notes(advice: Any, trainer: str, out: dict[str, Any] | None = None) -> list[str]:
    """What a user must know about ``recommend --emit``'s snippet: the run file's own values the
    advice replaces in it, and what of the run file it does not carry.  ``out``: the advice's
    canonical values when already built."""
    from hpadvisor.recommend.advisor import planned_warmup_steps

    spec = advice.spec
    out = canonical_values(advice) if out is None else out
    notes = []
    replaced = []
    steps = out.get("train_steps")
    planned = {
        "lr": spec.optimizer.lr,
        "weight_decay": spec.optimizer.weight_decay,
        "beta2": spec.optimizer.beta2,
        "warmup_steps": (planned_warmup_steps(spec, out["global_batch_seqs"] * spec.seq_len, steps)
                         if steps else None),  # without a batch the snippet states no warmup
        "min_lr": (spec.schedule.min_lr if spec.schedule.min_lr is not None else
                   spec.schedule.min_lr_ratio * (spec.optimizer.lr or out["lr"])
                   if spec.schedule.min_lr_ratio is not None and "lr" in out else None),
    }
    for key, mine in planned.items():
        theirs = out.get(key)
        if mine is not None and theirs is not None and not math.isclose(float(mine), float(theirs), rel_tol=0.01,
                                                                        abs_tol=1e-12):
            replaced.append(f"{key} {mine:.4g} -> {theirs:.4g}")
    if replaced:
        notes.append("the snippet carries the advice, which replaces the run file's own " + ", ".join(replaced)
                     + "; check it against the run file (--run) and it reports them as contradictions.")
    own = TRAINERS[trainer]
    if out.get("cooldowns") and not own.states_wsd_s:
        notes.append(f"{trainer} cannot state WSD-S: the snippet has one cooldown, not the run file's "
                     f"{out['cooldowns']}.")
    if spec.proxy:
        notes.append("the run file's proxy: section (a per-group muP/CompleteP transfer) is not in this snippet: "
                     "`hpadvisor transfer RUN.yaml --emit ...` writes it.")
    if spec.model.architecture is None and own.states_shape:
        notes.append(f"the run file gives no architecture, so the snippet states no model shape: set it in the "
                     f"{trainer} config yourself" + (f" ({own.name} would otherwise train {own.shape_default})."
                                                     if own.shape_default else "."))
    return notes


def emit_snippet(advice: Any, trainer: str) -> tuple[str, list[str]]:
    """``recommend --emit``: the advice as a config snippet in ``trainer``'s own format, and the
    notes that go with it (:func:`emit_notes`), from one build of the canonical values."""
    from hpadvisor.errors import InvalidInputError, did_you_mean
    from hpadvisor.formats.registry import dump_snippet, formats

    if trainer not in TRAINERS:
        raise InvalidInputError(f"`trainer` '{trainer}' is not one of {', '.join(TRAINERS)}."
                                + did_you_mean(trainer, formats()))
    values = canonical_values(advice)
    return dump_snippet(trainer, values), emit_notes(advice, trainer, values)
